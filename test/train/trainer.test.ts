import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinySet, tinyRecipe } from './tiny.js';
import { recipeFromObject } from '../../src/train/recipe.js';
import { NonFiniteLossError, train, type TrainResults } from '../../src/train/trainer.js';
import { readAdapterConfig } from '../../src/peft/checkpoint.js';
import { tempDir } from '../helpers.js';

const data = tinySet(tempDir('trainer-data'));
const quiet = { log: () => undefined, progress: { silent: true } };

test('a run writes metrics.jsonl, best/ and final/ adapters and results.json', async () => {
  const out = join(tempDir('trainer-run'), 'run');
  const recipe = recipeFromObject(tinyRecipe(data, { train: { epochs: 2, checkpoint_every: 2 }, data: { workers: 1 } }));
  const lines: string[] = [];
  const r = await train({ recipe, out, log: (s) => lines.push(s), progress: { silent: true } });
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(metrics.length, 2);
  assert.deepEqual(
    metrics.map((m) => m.epoch),
    [1, 2],
  );
  for (const m of metrics) {
    assert.equal(typeof m.train_loss, 'number');
    assert.equal(m.split, 'validation');
    assert.equal(m.val.n, 6);
    for (const k of ['top1', 'top5', 'mAP', 'loss']) assert.equal(typeof m.val[k], 'number', k);
  }
  const saved = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as TrainResults;
  assert.deepEqual(saved, JSON.parse(JSON.stringify(r)));
  assert.equal(r.epochs, 2);
  assert.equal(r.steps, 2 * Math.ceil(18 / 4));
  assert.equal(r.method, 'loaa');
  assert.ok(r.params.trainable > 0 && r.params.trainable < r.params.total);
  assert.equal(r.epoch_seconds.length, 2);
  assert.ok(r.seconds_per_epoch > 0);
  assert.ok(r.best && r.best.epoch >= 1 && r.best.metric === 'top1');
  assert.equal(r.best.value, metrics[r.best.epoch - 1].val.top1);
  assert.equal(r.test?.split, 'test');
  assert.equal(r.test?.checkpoint, 'best');
  assert.equal(r.test?.metrics.n, 6);
  assert.equal(r.test?.confusion.length, 3);
  for (const dir of ['best', 'final']) {
    const cfg = readAdapterConfig(join(out, dir));
    assert.equal(cfg.method, 'loaa');
    assert.deepEqual(cfg.labels, ['low-tone', 'high-tone', 'chirp-up'].sort());
    assert.deepEqual(cfg.frontend, { sample_rate: 16000, num_mel_bins: 32, target_length: 64, mean: -5, std: 4 });
  }
  assert.ok(existsSync(join(out, 'checkpoint', 'state.json')));
  assert.ok(lines.some((l) => /^epoch 2\/2: train loss/.test(l)));
  // the directory is taken
  await assert.rejects(train({ recipe, out, ...quiet }), /already holds a finished run/);
});

test('a non-finite loss stops the run naming the step; the last good checkpoint stays', async () => {
  const out = join(tempDir('trainer-nan'), 'run');
  const recipe = recipeFromObject(
    tinyRecipe(data, { optim: { lr: 1e30 }, train: { epochs: 3, checkpoint_every: 1 }, data: { validation: null, test: null } }),
  );
  let err: unknown;
  try {
    await train({ recipe, out, ...quiet });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof NonFiniteLossError, String(err));
  const e = err as NonFiniteLossError;
  assert.match(e.message, new RegExp(`^step ${e.step} \\(epoch \\d+, batch \\d+/5\\): the loss is (NaN|Infinity)`));
  assert.ok(e.step >= 2);
  const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8'));
  assert.equal(state.step, e.step - 1, 'the checkpoint holds the last good step');
  assert.match(e.message, new RegExp(`last good checkpoint \\(step ${e.step - 1}\\)`));
  assert.ok(!existsSync(join(out, 'results.json')));
});

test('resume in process: stop after some steps, continue, same weights as one go', async () => {
  const dir = tempDir('trainer-resume');
  const base = tinyRecipe(data, { train: { epochs: 2, checkpoint_every: 3 }, augment: { mixup: 0.5, noise: true } });
  const whole = await train({ recipe: recipeFromObject(base), out: join(dir, 'a'), ...quiet });
  // a run cut at step 7, mid-epoch (train.max_steps), then resumed without the cut
  await train({ recipe: recipeFromObject(base, 'r', ['train.max_steps=7']), out: join(dir, 'b'), ...quiet });
  const state = JSON.parse(readFileSync(join(dir, 'b', 'checkpoint', 'state.json'), 'utf8'));
  assert.deepEqual([state.step, state.epoch, state.batch], [7, 1, 2], 'stopped mid-epoch 2, after its second batch');
  // continue the same directory under the uncut recipe: rewrite the run's recipe (as if it had never had max_steps)
  const { writeFileSync, rmSync } = await import('node:fs');
  writeFileSync(join(dir, 'b', 'recipe.json'), JSON.stringify(recipeFromObject(base)));
  rmSync(join(dir, 'b', 'results.json'));
  const resumed = await train({ recipe: recipeFromObject(base), out: join(dir, 'b'), resume: true, ...quiet });
  assert.equal(resumed.steps, whole.steps);
  assert.ok(
    readFileSync(join(dir, 'a', 'final', 'adapter_model.safetensors')).equals(
      readFileSync(join(dir, 'b', 'final', 'adapter_model.safetensors')),
    ),
  );
  assert.deepEqual(resumed.best, whole.best);
  assert.deepEqual(resumed.test?.metrics, whole.test?.metrics);
  const ma = readFileSync(join(dir, 'a', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).val);
  const mb = readFileSync(join(dir, 'b', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).val);
  assert.deepEqual(mb, ma);
  // a changed recipe cannot resume
  await assert.rejects(
    train({ recipe: recipeFromObject(base, 'r', ['optim.lr=0.5']), out: join(dir, 'b'), resume: true, ...quiet }),
    /--resume: the recipe differs from the run's .* in optim\.lr/,
  );
});
