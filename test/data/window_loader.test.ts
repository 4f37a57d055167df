/**
 * The per-clip window through the loader (data.window): a random training window moves every epoch
 * and is a function of the seed; validation windows sit where the recipe's key says; the features
 * are those of the window's samples, computed directly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { tempDir } from '../helpers.js';
import { encodeWav } from '../../src/audio/wav.js';
import { Rng } from '../../src/audio/rng.js';
import { epicLogMel } from '../../src/audio/epic.js';
import { DataLoader, mixSeed, type FrontendSpec } from '../../src/data/loader.js';
import { windowRange, type WindowSpec } from '../../src/data/window.js';
import type { ClipRef } from '../../src/data/types.js';
import { recipeFromObject } from '../../src/train/recipe.js';
import { windowSpecs } from '../../src/train/data.js';

const RATE = 24000;
const FE: FrontendSpec = { type: 'epic', sampleRate: RATE, numMelBins: 16, targetLength: 400 };

/** A 5-s noise clip whose level rises over time, so that every window's features differ. */
function clipFile(dir: string): { clip: ClipRef; samples: Float32Array } {
  const rng = new Rng(11);
  const samples = new Float32Array(5 * RATE);
  for (let i = 0; i < samples.length; i++) samples[i] = (rng.uniform() - 0.5) * (0.05 + (0.9 * i) / samples.length);
  const path = join(dir, 'a.wav');
  writeFileSync(path, encodeWav({ sampleRate: RATE, channels: [samples] }, 'float32'));
  return { clip: { id: 'a', path, label: 0 }, samples };
}

async function features(clip: ClipRef, window: WindowSpec, epoch: number, seed = 5): Promise<Float32Array> {
  const l = new DataLoader({ clips: [clip], numClasses: 2, frontend: FE, batchSize: 1, seed, window });
  return (await l.batch(epoch, 0)).x;
}

function direct(samples: Float32Array, range: [number, number]): Float32Array {
  return epicLogMel(samples.subarray(range[0], range[1]), { sampleRate: RATE, numMelBins: FE.numMelBins, numFrames: FE.targetLength }).data;
}

test('a random training window moves between epochs, and the same seed gives the same windows', async () => {
  const { clip, samples } = clipFile(tempDir('window'));
  const w: WindowSpec = { seconds: 1.999, position: 'random', views: 1 };
  const e0 = await features(clip, w, 0);
  const e1 = await features(clip, w, 1);
  assert.notDeepEqual(e0, e1, 'epochs 0 and 1 read the same window');
  assert.deepEqual(await features(clip, w, 0), e0, 'a rerun reads other windows');
  assert.deepEqual(await features(clip, w, 1), e1);
  assert.notDeepEqual(await features(clip, w, 0, 6), e0, 'another seed reads the same window');
  // the features are those of the window the item's seed draws, 1.999 s long
  const r0 = windowRange(samples.length, RATE, w, { seed: mixSeed(5, 0, 0) });
  assert.equal(r0[1] - r0[0], Math.round(RATE * 1.999) - 1);
  assert.deepEqual(e0, direct(samples, r0));
  const r1 = windowRange(samples.length, RATE, w, { seed: mixSeed(5, 1, 0) });
  assert.notEqual(r0[0], r1[0]);
  assert.deepEqual(e1, direct(samples, r1));
});

test('validation windows follow data.window.validation: start, center, random', async () => {
  const { clip, samples } = clipFile(tempDir('window'));
  const clipLen = Math.round(RATE * 1.999);
  const delta = samples.length - clipLen;
  const expect: Record<string, [number, number]> = {
    start: [0, clipLen - 1],
    center: [Math.trunc(delta / 2), Math.trunc(delta / 2 + clipLen - 1)],
  };
  for (const position of ['start', 'center', 'random'] as const) {
    const recipe = recipeFromObject({
      data: { type: 'folder', root: '/nowhere', window: { seconds: 1.999, validation: position } },
      frontend: { type: 'epic', target_length: 400 },
      model: { arch: 'deit_tiny_distilled_patch16_224' },
      peft: { method: 'linear' },
      optim: { lr: 1e-3 },
      train: { epochs: 1, batch_size: 1 },
    });
    const specs = windowSpecs(recipe);
    assert.equal(specs.validation!.position, position);
    assert.equal(specs.train!.position, 'random', 'the training default');
    assert.equal(specs.test!.views, 1);
    const x = await features(clip, specs.validation!, 0);
    const range = expect[position] ?? windowRange(samples.length, RATE, specs.validation!, { seed: mixSeed(5, 0, 0) });
    assert.deepEqual(x, direct(samples, range), position);
    // an evaluation loader is read at epoch 0 every time: the same windows every epoch
    assert.deepEqual(await features(clip, specs.validation!, 0), x);
  }
  // no window: the whole clip, cropped to 400 frames by the front end (the old behaviour)
  const whole = await new DataLoader({ clips: [clip], numClasses: 2, frontend: FE, batchSize: 1 }).batch(0, 0);
  assert.deepEqual(whole.x, epicLogMel(samples, { sampleRate: RATE, numMelBins: FE.numMelBins, numFrames: FE.targetLength }).data);
});

test('a clip shorter than the window is read whole, in every position and view', async () => {
  const w = { seconds: 1.999, position: 'random' as const, views: 1 };
  assert.deepEqual(windowRange(1000, RATE, w, { seed: 1 }), [0, 1000]);
  assert.deepEqual(windowRange(1000, RATE, { ...w, views: 5 }, { seed: 1, view: 4 }), [0, 1000]);
  assert.throws(() => windowRange(100000, RATE, { ...w, views: 5 }, { seed: 1 }), /names none/);
});
