/**
 * The bench's engines group (src/bench/engines_rows.ts): inference through the public API against
 * a plain onnxruntime session on the same exported graph, on a tiny model; a missing
 * onnxruntime-node leaves the loaa side running with the reason in the onnxruntime column. And the
 * fp32 step goal the gemm rows decide (issue #21).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchRows, fp32StepGoal, QUICK } from '../../src/bench/rows.js';
import type { EngineModel } from '../../src/bench/engines_rows.js';
import type { GemmRowsResult } from '../../src/bench/gemm_rows.js';
import { markdownTable, stats, summarise } from '../../src/bench/summary.js';

const TINY: EngineModel = {
  label: 'tiny (deit_tiny, 1 block, 32 frames x 32 bins)',
  cfg: { arch: 'deit_tiny_distilled_patch16_224', numClasses: 3, melBins: 32, frames: 32, fstride: 16, tstride: 16, depth: 1 },
  peft: { method: 'loaa', adapters: [{ position: 'attn', kernel: [1, 3], bottleneck: 4 }] },
};

async function withOrtModule<T>(name: string | undefined, f: () => Promise<T>): Promise<T> {
  const saved = process.env.LOAA_ORT_MODULE;
  if (name === undefined) delete process.env.LOAA_ORT_MODULE;
  else process.env.LOAA_ORT_MODULE = name;
  try {
    return await f();
  } finally {
    if (saved === undefined) delete process.env.LOAA_ORT_MODULE;
    else process.env.LOAA_ORT_MODULE = saved;
  }
}

test('bench --rows engines (--quick options, a tiny model): the API beside onnxruntime, batch 1 and 8, goal 0.9x', {
  timeout: 120_000,
}, async () => {
  const logs: string[] = [];
  const r = await withOrtModule(undefined, () =>
    benchRows({ ...QUICK, rounds: 2, groups: ['engines'], engineModels: [TINY], log: (l) => logs.push(l) }),
  );
  assert.deepEqual(r.skipped, []);
  const auto = r.rows.filter((row) => /engine auto \(chose (onnx|torch)\)/.test(row.work));
  assert.equal(auto.length, 2, r.rows.map((x) => x.work).join('\n'));
  assert.deepEqual(
    auto.map((row) => /batch (\d+)/.exec(row.work)?.[1]),
    ['1', '8'],
  );
  // where auto chose onnxruntime, libtorch has a row of its own for each batch
  const choseOnnx = auto[0]!.work.includes('chose onnx');
  assert.equal(r.rows.length, choseOnnx ? 4 : 2);
  for (const row of r.rows) {
    assert.match(row.work, /public API \(AudioClassifier, engine (auto|torch)/);
    assert.match(row.work, /same exported graph, tiny .*fp32, batch (1|8), fbank features -> logits$/);
    assert.deepEqual([row.unit, row.goal, row.lowerIsBetter], ['ms/batch', 0.9, true]);
    assert.equal(row.loaa.length, 2, row.work);
    assert.equal(row.pytorch.length, 2, `${row.work}: ${row.pytorchNote}`);
    for (const ms of [...row.loaa, ...row.pytorch]) assert.ok(ms > 0 && Number.isFinite(ms), `${row.work}: ${ms}`);
    assert.match(row.pytorchNote ?? '', /^onnxruntime-node [\d.]+, a plain InferenceSession, \d+ intra-op threads$/);
    const s = summarise(row);
    assert.equal(s.ratio!.median, stats(row.pytorch.map((p, i) => p / row.loaa[i]!)).median);
  }
  assert.match(markdownTable(r.rows.map(summarise)), /\| >= 0\.9x \| (yes|no) \|/);
  assert.ok(logs.some((l) => l.includes('engines: tiny batch 8 round 2/2')));
});

test('bench --rows engines without onnxruntime-node: the API rows run on libtorch, the onnxruntime column says why', {
  timeout: 120_000,
}, async () => {
  const r = await withOrtModule('onnxruntime-node-not-installed', () =>
    benchRows({ ...QUICK, groups: ['engines'], engineModels: [TINY], log: () => {} }),
  );
  assert.equal(r.rows.length, 2);
  for (const row of r.rows) {
    assert.match(row.work, /engine auto \(chose torch\)/);
    assert.equal(row.loaa.length, 1);
    assert.deepEqual(row.pytorch, []);
    assert.equal(row.pytorchNote, 'onnxruntime-node is not installed');
    assert.equal(summarise(row).goalMet, null);
  }
});

test('bench --rows engines is CPU fp32 only: another device or precision skips it with the reason', async () => {
  const r = await benchRows({ ...QUICK, groups: ['engines'], precision: 'bf16', log: () => {} });
  assert.deepEqual(r.rows, []);
  assert.deepEqual(r.skipped, [
    {
      work: 'inference through the public API vs onnxruntime',
      reason: 'onnxruntime-node runs on the CPU in fp32 only (asked: --device cpu --precision bf16)',
    },
  ]);
});

test('the fp32 step goal: 1.8x where the torch kernel is under half the best of the run, else 1.1x; what it assumed without rates', () => {
  const gemm = (torch: number, best: number): GemmRowsResult => {
    const row = (kernel: string, v: number) => ({ kernel, gflops: [v], summary: stats([v]), note: '' });
    const rows = [row('torch', torch), row('onednn', best)];
    return { shapes: [], rows, unavailable: [], best: torch >= best ? rows[0]! : rows[1]! };
  };
  assert.equal(fp32StepGoal('cpu', gemm(165, 333)).goal, 1.8);
  assert.match(
    fp32StepGoal('cpu', gemm(165, 333)).basis,
    /torch kernel, 165 GFLOP\/s\) is under half the best kernel \(333 .*this run's gemm rows/,
  );
  assert.equal(fp32StepGoal('cpu', gemm(200, 333)).goal, 1.1);
  assert.equal(fp32StepGoal('cpu', gemm(333, 333)).goal, 1.1);
  // no gemm rows: the GEMM choice's rates, named as such
  const choice = { kernel: 'onednn' as const, gflops: 300, rates: { torch: 100, onednn: 300 }, source: 'cache' as const };
  const c = fp32StepGoal('cpu', undefined, choice);
  assert.equal(c.goal, 1.8);
  assert.match(c.basis, /loaa's GEMM choice \(cache; the gemm rows did not run\)/);
  const none = fp32StepGoal('cpu', undefined, undefined);
  assert.equal(none.goal, 1.1);
  assert.match(none.basis, /assumed/);
  assert.equal(fp32StepGoal('cuda:0', gemm(1, 100)).goal, 1.1);
});
