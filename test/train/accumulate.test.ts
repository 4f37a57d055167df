/**
 * Gradient accumulation (train.accumulate): 4 batches of 8 make the update of one batch of 32,
 * within float tolerance; through the trainer, batch 8 x accumulate 4 ends where batch 32 does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import { tinySet, tinyRecipe } from './tiny.js';
import { Rng } from '../../src/audio/rng.js';
import type { Batch } from '../../src/data/loader.js';
import { AudioSpectrogramTransformer } from '../../src/models/ast.js';
import { applyPeft } from '../../src/peft/methods.js';
import { SGD } from '../../src/optim/sgd.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { accumulateStep, trainStep, type StepContext } from '../../src/train/step.js';
import { recipeFromObject } from '../../src/train/recipe.js';
import { train } from '../../src/train/trainer.js';

const F = 16;
const T = 32;
const C = 4;

function batchOf(x: Float32Array, labels: number[], from: number, to: number): Batch {
  const per = F * T;
  const targets = new Float32Array((to - from) * C);
  labels.slice(from, to).forEach((l, i) => {
    targets[i * C + l] = 1;
  });
  return {
    epoch: 0,
    index: 0,
    size: to - from,
    frames: T,
    bins: F,
    numClasses: C,
    x: x.slice(from * per, to * per),
    targets,
    labels: Int32Array.from(labels.slice(from, to)),
    soft: false,
    ids: labels.slice(from, to).map((_, i) => String(from + i)),
    clipIndices: labels.slice(from, to).map((_, i) => from + i),
  };
}

function tinyModel(): { model: AudioSpectrogramTransformer; ctx: StepContext } {
  const model = new AudioSpectrogramTransformer(
    { arch: 'deit_tiny_distilled_patch16_224', numClasses: C, melBins: F, frames: T, fstride: 16, tstride: 16, depth: 1 },
    { seed: 4 },
  );
  applyPeft(model, { method: 'loaa', adapters: [{ position: 'attn', kernel: [1, 3], bottleneck: 4 }] }, { seed: 4 });
  const params = model.trainableParameters().map(([, p]) => p);
  const opt = new SGD(params, { lr: 0.5, momentum: 0 });
  return { model, ctx: { model, opt: opt as unknown as StepContext['opt'], params, loss: 'ce', labelSmoothing: 0, gradClip: null } };
}

const values = (m: AudioSpectrogramTransformer): Map<string, Float32Array> =>
  new Map(m.trainableParameters().map(([n, p]) => [n, p.data<'float32'>().slice()]));

test('accumulate 4 x 8 equals one batch of 32 within float tolerance (and differs from one batch of 8)', () => {
  const rng = new Rng(9);
  const x = Float32Array.from({ length: 32 * F * T }, () => rng.uniform() * 4 - 2);
  const labels = Array.from({ length: 32 }, (_, i) => (i * 7) % C);
  const big = tinyModel();
  const acc = tinyModel();
  const one = tinyModel();
  try {
    const before = values(big.model);
    const vBig = trainStep(big.ctx, batchOf(x, labels, 0, 32));
    const seen: number[] = [];
    const losses = accumulateStep(
      acc.ctx,
      [0, 8, 16, 24].map((s) => batchOf(x, labels, s, s + 8)),
      (k) => seen.push(k),
    );
    trainStep(one.ctx, batchOf(x, labels, 0, 8));
    assert.deepEqual(seen, [0, 1, 2, 3]);
    // the batches' own mean losses average to the big batch's
    assert.ok(Math.abs(losses.reduce((a, b) => a + b, 0) / 4 - vBig) < 1e-5);
    const a = values(big.model);
    const b = values(acc.model);
    const c = values(one.model);
    let maxMove = 0;
    let maxDiff = 0;
    let maxOne = 0;
    for (const [name, va] of a) {
      const vb = b.get(name)!;
      const v0 = before.get(name)!;
      const vc = c.get(name)!;
      for (let i = 0; i < va.length; i++) {
        maxMove = Math.max(maxMove, Math.abs(va[i]! - v0[i]!));
        maxDiff = Math.max(maxDiff, Math.abs(va[i]! - vb[i]!));
        maxOne = Math.max(maxOne, Math.abs(va[i]! - vc[i]!));
      }
    }
    assert.ok(maxMove > 1e-3, `the step moved the weights by ${maxMove} only`);
    assert.ok(maxDiff < 1e-5, `accumulated and big-batch weights differ by ${maxDiff}`);
    assert.ok(maxOne > 100 * maxDiff, 'one batch of 8 is as close as the accumulated four: the test cannot tell');
  } finally {
    for (const m of [big, acc, one]) m.model.dispose();
  }
});

test('uneven groups: each batch weighs its share of the clips (8 + 8 + 2 = one batch of 18)', () => {
  const rng = new Rng(10);
  const x = Float32Array.from({ length: 18 * F * T }, () => rng.uniform() * 4 - 2);
  const labels = Array.from({ length: 18 }, (_, i) => i % C);
  const big = tinyModel();
  const acc = tinyModel();
  try {
    trainStep(big.ctx, batchOf(x, labels, 0, 18));
    accumulateStep(acc.ctx, [batchOf(x, labels, 0, 8), batchOf(x, labels, 8, 16), batchOf(x, labels, 16, 18)]);
    const a = values(big.model);
    const b = values(acc.model);
    for (const [name, va] of a)
      va.forEach((v, i) => {
        assert.ok(Math.abs(v - b.get(name)![i]!) < 1e-5, name);
      });
  } finally {
    big.model.dispose();
    acc.model.dispose();
  }
});

test('the trainer: batch 8 x accumulate 4 ends with the weights of batch 32 (SGD, no augmentation)', async () => {
  const dir = tempDir('accumulate');
  const data = tinySet(join(dir, 'data'), { train: 10, validation: 2, test: 1 });
  const over = (batch: number, accumulate: number): Record<string, unknown> => ({
    augment: { freqm: 0, timem: 0 },
    optim: { name: 'sgd', lr: 0.2, momentum: 0 },
    data: { test: null },
    train: { epochs: 2, batch_size: batch, accumulate },
  });
  const run = async (name: string, batch: number, accumulate: number): Promise<{ steps: number; w: Map<string, Float32Array> }> => {
    const out = join(dir, name);
    const r = await train({
      recipe: recipeFromObject(tinyRecipe(data, over(batch, accumulate))),
      out,
      log: () => undefined,
      progress: { silent: true },
    });
    const file = readdirSync(join(out, 'final')).find((f) => f.endsWith('.safetensors'))!;
    const st = readSafetensors(join(out, 'final', file));
    const w = new Map<string, Float32Array>();
    for (const [k, t] of st.tensors) if (t.dtype === 'float32') w.set(k, new Float32Array(t.data.slice().buffer));
    assert.ok(w.size > 2, `${file}: ${w.size} tensors`);
    return { steps: r.steps, w };
  };
  // 30 clips: batch 32 is one step per epoch; batch 8 is 4 batches (8, 8, 8, 6), one group
  const big = await run('big', 32, 1);
  const acc = await run('acc', 8, 4);
  const small = await run('small', 8, 1);
  assert.equal(big.steps, 2);
  assert.equal(acc.steps, 2);
  assert.equal(small.steps, 8);
  let diff = 0;
  let diffSmall = 0;
  for (const [k, v] of big.w) {
    v.forEach((x, i) => {
      diff = Math.max(diff, Math.abs(x - acc.w.get(k)![i]!));
      diffSmall = Math.max(diffSmall, Math.abs(x - small.w.get(k)![i]!));
    });
  }
  assert.ok(diff < 1e-5, `accumulated run differs by ${diff}`);
  assert.ok(diffSmall > 1e-3, `batch 8 without accumulation differs by ${diffSmall} only`);
});

test('accumulation with data parallelism is refused before anything trains, naming the key', async () => {
  const dir = tempDir('accumulate-dp');
  const data = tinySet(join(dir, 'data'), { train: 2, validation: 1, test: 1 });
  const never = (): never => {
    throw new Error('not reached');
  };
  const parallel = {
    rank: 0,
    worldSize: 2,
    allReduceGradients: never,
    evalShard: never,
    barrier: never,
    device: (d: string) => d,
    gatherEval: never,
  };
  await assert.rejects(
    train({
      recipe: recipeFromObject(tinyRecipe(data, { train: { accumulate: 2 } })),
      out: join(dir, 'run'),
      parallel,
      log: () => undefined,
      progress: { silent: true },
    }),
    /^Error: train\.accumulate: 2 with data parallelism is not supported/,
  );
});
