/** `--config fsdd_loaa` (a packaged recipe by name) and the missing-dataset error (issue 24). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { PACKAGED_RECIPES, resolveRecipePath } from '../../src/train/recipe_name.js';
import { loadRecipe } from '../../src/train/recipe.js';
import { checkDataRoot } from '../../src/train/data_root.js';

test('a recipe by name resolves to the packaged recipes/; paths are left alone; an unknown name lists the known ones', () => {
  assert.equal(PACKAGED_RECIPES, join(repoRoot, 'recipes'));
  assert.equal(resolveRecipePath('fsdd_loaa'), join(repoRoot, 'recipes', 'fsdd_loaa.yaml'));
  assert.equal(resolveRecipePath('my/own.yaml'), 'my/own.yaml');
  assert.equal(resolveRecipePath('own.yaml'), 'own.yaml');
  assert.throws(
    () => resolveRecipePath('fsdd_lora_typo'),
    /^Error: --config: fsdd_lora_typo: no such file, and no packaged recipe of that name \(.*fsdd_loaa.*\)/,
  );
  const r = loadRecipe('fsdd_loaa', { dataRoot: '/data/fsdd' });
  assert.equal(r.data.type, 'fsdd');
  assert.equal(r.data.root, '/data/fsdd');
});

test('a data.root that is not there names --data-root and loaa pull', () => {
  assert.throws(
    () => checkDataRoot({ type: 'fsdd', root: '/nowhere/fsdd/recordings' }),
    (e: Error) => {
      assert.match(e.message, /^data\.root: \/nowhere\/fsdd\/recordings not found \(fsdd dataset\): pass --data-root DIR/);
      assert.match(e.message, /loaa pull fsdd|it is pulled already: --data-root /);
      return true;
    },
  );
  assert.throws(
    () => checkDataRoot({ type: 'speechcommands', root: '/nowhere/sc' }),
    (e: Error) => !/loaa pull/.test(e.message) && /--data-root/.test(e.message),
  );
  checkDataRoot({ type: 'fsdd', root: repoRoot }); // present: no error
});
