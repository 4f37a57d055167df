import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultAdapters, parsePeft, PEFT_METHODS } from '../../src/peft/config.js';
import { recipeFromObject } from '../../src/train/recipe.js';

const recipe = (peft: Record<string, unknown>) =>
  recipeFromObject(
    {
      data: { type: 'folder', root: '/d' },
      frontend: { target_length: 64 },
      model: { arch: 'deit_tiny_patch16_224' },
      peft,
      optim: { lr: 1 },
      train: { epochs: 1, batch_size: 1 },
    },
    'r.yaml',
  );

test('a recipe and the API resolve a PEFT config the same way (one parser, one set of defaults)', () => {
  for (const method of PEFT_METHODS) {
    assert.deepEqual(recipe({ method }).peft, parsePeft({ method }), method);
  }
  // the recipe used to default adapters to [] and then reject its own default
  assert.equal(recipe({ method: 'loaa' }).peft.adapters.length, 2);
  assert.deepEqual(recipe({ method: 'adapter' }).peft.adapters, defaultAdapters('adapter'));
  const given = { method: 'loaa', adapters: [{ position: 'ffn', kernel: [3, 3], bottleneck: 7, bias: true }], lora: { rank: 2 } };
  assert.deepEqual(recipe(given).peft, parsePeft(given));
  assert.deepEqual(parsePeft(given).lora, { rank: 2, alpha: 16, targets: ['q', 'v'] });
});

test('parsePeft names the key at fault under its prefix', () => {
  assert.throws(
    () => parsePeft({ method: 'loaa', adapters: [{ position: 'attn', kernel: [1, 2], bottleneck: 4 }] }),
    /^Error: peft\.adapters\.0\.kernel: expected two odd/,
  );
  assert.throws(() => parsePeft({ method: 'loaa', adaptors: [] }), /^Error: peft\.adaptors: unknown key/);
  assert.throws(
    () => parsePeft({ method: 'lora', lora: { rank: 2, alpha: -1 } }, 'x'),
    /^Error: x\.lora\.alpha: expected a positive number/,
  );
  assert.throws(
    () => parsePeft({ method: 'adapter', adapters: [] }),
    /^Error: peft\.adapters: method "adapter" needs at least one adapter/,
  );
  assert.throws(
    () => recipe({ method: 'prompt', prompt: { tokens: 0 } }),
    /^Error: r\.yaml: peft\.prompt\.tokens: expected an integer >= 1/,
  );
  assert.throws(
    () => recipe({ method: 'loaa', adapters: [{ position: 'attn', kernel: [2, 1], bottleneck: 3 }] }),
    /^Error: r\.yaml: peft\.adapters\.0\.kernel: expected two odd/,
  );
});
