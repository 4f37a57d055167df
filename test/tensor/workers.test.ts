/**
 * The addon in two worker threads at once: per-environment instance data (no shared JS references),
 * so each thread gets its own tensor class and the results equal the main thread's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { nativeOps } from '../../src/tensor/tensor.js';
import { repoRoot } from '../helpers.js';

const tensorIndex = pathToFileURL(join(repoRoot, 'dist', 'src', 'tensor', 'index.js')).href;

/** The work each thread does: seeded draws, a matmul, a backward; returns a checksum. */
const WORK = `
async function work(T, seed) {
  return T.scope(() => {
    const a = T.randn([64, 32], { seed, dtype: 'float64' }).requiresGrad_();
    const b = T.randn([32, 16], { seed: seed + 1, dtype: 'float64' });
    let acc = 0;
    for (let i = 0; i < 50; i++) {
      const y = a.matmul(b).gelu().softmax(-1);
      y.mul(y).sum().backward();
      acc += y.sum().item();
    }
    return acc + a.grad.abs().sum().item();
  });
}`;

function runWorker(seed: number): Promise<number> {
  const code = `
const { parentPort, workerData } = require('node:worker_threads');
${WORK}
import(workerData.url).then((T) => work(T, workerData.seed)).then(
  (sum) => parentPort.postMessage({ sum }),
  (e) => parentPort.postMessage({ error: String(e && e.stack || e) }),
);`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { url: tensorIndex, seed } });
    w.once('message', (m: { sum?: number; error?: string }) => (m.error ? reject(new Error(m.error)) : resolve(m.sum!)));
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
    });
  });
}

test('two worker threads use the addon at once and agree with the main thread', async () => {
  const work = new Function('T', 'seed', `${WORK}; return work(T, seed);`) as (t: typeof T, seed: number) => Promise<number>;
  const expected = [await work(T, 1), await work(T, 2)];
  const got = await Promise.all([runWorker(1), runWorker(2)]);
  assert.deepEqual(got, expected);
  // and again, to load the addon into fresh environments after the first ones exited
  const again = await Promise.all([runWorker(2), runWorker(1)]);
  assert.deepEqual(again, [expected[1], expected[0]]);
  // the main thread's addon still works after the workers' environments were torn down
  T.scope(() => assert.equal(T.ones([2]).add(1).sum().item(), 4));
});

test('a tensor from another thread is not a tensor here', async () => {
  // a worker cannot hand its tensors over: what arrives is a plain clone, rejected as a non-tensor
  const code = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.url).then((T) => {
  const t = T.ones([2]);
  try { parentPort.postMessage({ native: t.native }); } catch (e) { parentPort.postMessage({ refused: String(e) }); }
});`;
  const msg = await new Promise<{ native?: unknown; refused?: string }>((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { url: tensorIndex } });
    w.once('message', resolve);
    w.once('error', reject);
  });
  if (msg.native !== undefined) {
    assert.throws(
      () => nativeOps.add(msg.native, 1),
      (e: Error) => e instanceof TypeError && /expected a tensor/.test(e.message),
    );
  } else {
    assert.ok(msg.refused);
  }
});
