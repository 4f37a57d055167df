/** The README's flow: train on a random backbone, then classify with nothing but the adapter directory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AudioClassifier } from '../../src/api/classifier.js';
import { train } from '../../src/train/trainer.js';
import { recipeFromObject } from '../../src/train/recipe.js';
import { tinyRecipe, tinySet } from '../train/tiny.js';
import { tempDir } from '../helpers.js';

test('a trained adapter records its random backbone; AudioClassifier rebuilds it from the seed alone', async () => {
  const root = tempDir('api-trained');
  const data = tinySet(join(root, 'data'), { train: 3, validation: 1, test: 1 });
  const out = join(root, 'run');
  const recipe = recipeFromObject(tinyRecipe(data, { train: { epochs: 1 }, model: { init_seed: 11 } }));
  await train({ recipe, out, log: () => {}, progress: { silent: true } });
  for (const which of ['best', 'final']) {
    const cfg = JSON.parse(readFileSync(join(out, which, 'adapter_config.json'), 'utf8'));
    assert.equal(cfg.backbone.arch, 'deit_tiny_distilled_patch16_224');
    assert.equal(cfg.backbone.source, 'random');
    assert.equal(cfg.backbone.seed, 11);
    assert.match(cfg.backbone.sha256, /^[0-9a-f]{64}$/);
  }
  const clf = await AudioClassifier.fromPretrained(join(out, 'final'));
  try {
    const cls = join(data, 'test', readdirSync(join(data, 'test')).sort()[0]);
    const wav = join(cls, readdirSync(cls).sort()[0]);
    const top = await clf.classify(wav, { topK: 3 });
    assert.equal(top.length, 3);
    assert.deepEqual(new Set(top.map((t) => t.label)), new Set(clf.labels));
    assert.ok(Math.abs(top.reduce((a, t) => a + t.score, 0) - 1) < 1e-5, 'three classes: the scores sum to 1');
  } finally {
    clf.dispose();
  }
});
