import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeWav } from './wav_writer.js';
import { tinySet } from '../train/tiny.js';
import { readFolderDataset } from '../../src/data/folder.js';
import { computeNormStats, DataLoader, WorkerPool, type Batch, type FrontendSpec } from '../../src/data/loader.js';
import { astFeatures, normalize, normStats, padOrCrop } from '../../src/audio/frontend.js';
import { readWavSync } from '../../src/audio/decode.js';
import type { ClipRef } from '../../src/data/types.js';
import { tempDir } from '../helpers.js';

const root = tinySet(tempDir('loader'));
const ds = readFolderDataset(root);
const clips = ds.splits.train!;
const FE: FrontendSpec = { type: 'ast', sampleRate: 16000, numMelBins: 32, targetLength: 48, mean: -5, std: 4 };
const AUG = { freqm: 6, timem: 10, mixup: 0.5, mixupAlpha: 10, noise: true };

async function all(loader: DataLoader, epoch: number, startBatch = 0): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(epoch, { startBatch })) out.push(b);
  return out;
}

function same(a: Batch[], b: Batch[]): void {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => {
    const y = b[i]!;
    assert.deepEqual(x.ids, y.ids);
    assert.deepEqual(x.labels, y.labels);
    assert.equal(x.soft, y.soft);
    assert.ok(Buffer.from(x.x.buffer).equals(Buffer.from(y.x.buffer)), `batch ${i}: features differ`);
    assert.ok(Buffer.from(x.targets.buffer).equals(Buffer.from(y.targets.buffer)), `batch ${i}: targets differ`);
  });
}

test('same seed, same batches: in process and on 2 worker threads, augmentation included', async () => {
  const opts = { clips, numClasses: 3, frontend: FE, augment: AUG, batchSize: 5, shuffle: true, seed: 11 };
  const inProcess = new DataLoader({ ...opts, workers: 0 });
  const threaded = new DataLoader({ ...opts, workers: 2, prefetch: 3 });
  try {
    const a = await all(inProcess, 0);
    same(a, await all(threaded, 0));
    same(await all(inProcess, 1), await all(threaded, 1));
    assert.equal(a.length, Math.ceil(clips.length / 5));
    assert.equal(a[a.length - 1]!.size, clips.length % 5 || 5);
    assert.deepEqual(a.flatMap((b) => b.ids).sort(), clips.map((c) => c.id).sort(), 'an epoch covers every clip once');
    assert.notDeepEqual(
      a.flatMap((b) => b.ids),
      (await all(inProcess, 1)).flatMap((b) => b.ids),
      'each epoch has its own order',
    );
    assert.ok(
      a.some((b) => b.soft),
      'mixup happened',
    );
    for (const b of a) {
      for (let i = 0; i < b.size; i++) {
        const row = b.targets.subarray(i * 3, i * 3 + 3);
        assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-6, 'mixed targets sum to 1');
      }
      assert.equal(b.x.length, b.size * 48 * 32);
    }
    // resuming mid-epoch yields the rest of the same epoch
    same(await all(threaded, 1, 2), (await all(inProcess, 1)).slice(2));
    // another seed, other batches
    const other = new DataLoader({ ...opts, seed: 12 });
    assert.notDeepEqual(
      (await all(other, 0)).map((b) => b.ids),
      a.map((b) => b.ids),
    );
  } finally {
    await threaded.close();
  }
});

test('augmentation only in training; evaluation features are the plain front end', async () => {
  const evalLoader = new DataLoader({ clips, numClasses: 3, frontend: FE, batchSize: 4 });
  const trainLoader = new DataLoader({ clips, numClasses: 3, frontend: FE, augment: { ...AUG, mixup: 0, noise: false }, batchSize: 4 });
  const e = await all(evalLoader, 0);
  const e2 = await all(evalLoader, 5);
  same(e, e2); // no shuffle, no augmentation: every epoch the same
  const first = clips[0]!;
  const expect = astFeatures(readWavSync(first.path), { sampleRate: 16000, numMelBins: 32, targetLength: 48, mean: -5, std: 4 });
  assert.deepEqual(Array.from(e[0]!.x.subarray(0, 48 * 32)), Array.from(expect.data));
  assert.deepEqual(
    Array.from(e[0]!.labels),
    clips.slice(0, 4).map((c) => c.label),
  );
  assert.equal(e[0]!.soft, false);
  const t = await all(trainLoader, 0);
  assert.equal(t[0]!.ids[0], first.id);
  assert.notDeepEqual(Array.from(t[0]!.x.subarray(0, 48 * 32)), Array.from(expect.data), 'SpecAugment masked something');
  // masked values are the normalised zero: (0 - mean) / (2 std)
  assert.ok(Array.from(t[0]!.x.subarray(0, 48 * 32)).some((v) => Math.abs(v - 5 / 8) < 1e-6));
  assert.throws(
    () => new DataLoader({ clips, numClasses: 3, frontend: FE, augment: AUG, batchSize: 4, cache: true }),
    /cache is only for un-augmented sets/,
  );
});

test('feature cache: later epochs copy the first one (they run with the audio files gone)', async () => {
  const own = readFolderDataset(tinySet(tempDir('loader-cache'))).splits.train!;
  const pool = new WorkerPool(1);
  try {
    const cached = new DataLoader({
      clips: own,
      numClasses: 3,
      frontend: FE,
      batchSize: 4,
      shuffle: true,
      seed: 2,
      workers: pool,
      cache: true,
    });
    const plain = new DataLoader({ clips: own, numClasses: 3, frontend: FE, batchSize: 4, shuffle: true, seed: 2 });
    same(await all(cached, 0), await all(plain, 0));
    const expected = await all(plain, 1);
    // A loader that recomputed anything now fails on a missing file; the cache does not look.
    for (const c of own) rmSync(c.path);
    same(await all(cached, 1), expected);
    await assert.rejects(all(plain, 2), /cannot read audio file: no such file/);
  } finally {
    await pool.close();
  }
});

test('targets: indices, one-hot, multi-label, unlabelled; drop_last', async () => {
  const mk = (label: number | number[], i: number): ClipRef => ({ ...clips[i]!, id: `c${i}`, label });
  const set = [mk(2, 0), mk([0, 2], 1), mk(-1, 2), mk(1, 3), mk([1], 4)];
  const l = new DataLoader({ clips: set, numClasses: 3, frontend: FE, batchSize: 5 });
  const [b] = await all(l, 0);
  assert.deepEqual(Array.from(b!.labels), [2, -1, -1, 1, 1]);
  assert.deepEqual(Array.from(b!.targets), [0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0]);
  assert.equal(b!.soft, true);
  const d = new DataLoader({ clips: set, numClasses: 3, frontend: FE, batchSize: 2, dropLast: true });
  assert.equal(d.length, 2);
  assert.equal((await all(d, 0)).length, 2);
  assert.throws(() => new DataLoader({ clips: set, numClasses: 3, frontend: FE, batchSize: 6, dropLast: true }), /make no full batch/);
  const bad = new DataLoader({ clips: [mk(5, 0)], numClasses: 3, frontend: FE, batchSize: 1 });
  await assert.rejects(all(bad, 0), /label 5 outside 0\.\.2/);
});

test('ranged clips (Speech Commands silence windows) and errors that name the file', async () => {
  const dir = tempDir('loader-range');
  const long = join(dir, 'noise.wav');
  const x = new Float32Array(16000 * 3).map((_, i) => 0.3 * Math.sin(i / 7) * (i < 16000 ? 1 : 0.1));
  writeWav(long, x, { sampleRate: 16000 });
  const fe = { ...FE, targetLength: 100, mean: undefined, std: undefined };
  const a: ClipRef = { id: 'w0', path: long, label: 0, start: 0, end: 16000 };
  const b: ClipRef = { id: 'w1', path: long, label: 0, start: 16000, end: 32000 };
  const [batch] = await all(new DataLoader({ clips: [a, b], numClasses: 1, frontend: fe, batchSize: 2 }), 0);
  const audio = readWavSync(long);
  const win = (s: number) =>
    padOrCrop(astFeatures({ sampleRate: 16000, channels: [audio.channels[0]!.slice(s, s + 16000)] }, { numMelBins: 32 }), 100);
  assert.deepEqual(Array.from(batch!.x.subarray(0, 3200)), Array.from(win(0).data));
  assert.deepEqual(Array.from(batch!.x.subarray(3200)), Array.from(win(16000).data));
  const broken = join(dir, 'broken.wav');
  writeFileSync(broken, 'RIFF....WAVEjunk');
  const pool = new WorkerPool(1);
  try {
    const l = new DataLoader({ clips: [{ id: 'x', path: broken, label: 0 }], numClasses: 1, frontend: fe, batchSize: 1, workers: pool });
    await assert.rejects(all(l, 0), (e: Error) => e.message.startsWith(broken));
    const missing = new DataLoader({
      clips: [{ id: 'y', path: join(dir, 'nope.wav'), label: 0 }],
      numClasses: 1,
      frontend: fe,
      batchSize: 1,
    });
    await assert.rejects(all(missing, 0), /nope\.wav: cannot read audio file: no such file/);
  } finally {
    await pool.close();
  }
});

test('normalisation statistics over the training clips, as AST computes them', async () => {
  const fe: FrontendSpec = { ...FE, mean: undefined, std: undefined };
  const s = await computeNormStats(clips, fe, { workers: 2, batchSize: 3 });
  const ref = normStats(clips.map((c) => padOrCrop(astFeatures(readWavSync(c.path), { numMelBins: 32 }), 48)));
  assert.equal(s.clips, clips.length);
  assert.ok(Math.abs(s.mean - ref.mean) < 1e-9 && Math.abs(s.std - ref.std) < 1e-9);
  void normalize;
});
