/**
 * The bench's GEMM kernel rows (src/bench/gemm_rows.ts): every available kernel measured in one
 * run, onnxruntime's MLAS through a one-MatMul ONNX graph that computes the right product.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchGemmKernels, gemmTable, matmulOnnx } from '../../src/bench/gemm_rows.js';
import { GEMM_KERNELS, gemmKernels } from '../../src/tensor/gemm.js';

test('the one-MatMul ONNX graph computes a @ w in onnxruntime-node', async () => {
  const ort = await import('onnxruntime-node');
  const [m, k, n] = [3, 4, 5];
  const a = Float32Array.from({ length: m * k }, (_, i) => (i % 7) - 3);
  const w = Float32Array.from({ length: k * n }, (_, i) => ((i * 5) % 11) / 4 - 1);
  const s = await ort.InferenceSession.create(matmulOnnx(k, n, w));
  try {
    const y = (await s.run({ a: new ort.Tensor('float32', a, [m, k]) })).y;
    assert.deepEqual(y.dims, [m, n]);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let want = 0;
        for (let q = 0; q < k; q++) want += a[i * k + q] * w[q * n + j];
        assert.ok(Math.abs((y.data as Float32Array)[i * n + j] - want) < 1e-5, `y[${i},${j}]`);
      }
    }
  } finally {
    await s.release();
  }
});

test('bench gemm rows: a rate per available kernel and onnxruntime, in one run; the best is the largest median', async () => {
  const g = await benchGemmKernels({
    rounds: 2,
    shapes: [
      [64, 48, 40],
      [64, 40, 48],
    ],
    log: () => {},
  });
  const avail = gemmKernels();
  const want = [...GEMM_KERNELS.filter((k) => avail[k] === ''), 'onnxruntime MLAS'];
  assert.deepEqual(
    g.rows.map((r) => r.kernel),
    want,
  );
  assert.deepEqual(
    g.unavailable.map((u) => u.kernel),
    GEMM_KERNELS.filter((k) => avail[k] !== ''),
  );
  for (const r of g.rows) {
    assert.equal(r.gflops.length, 2, r.kernel);
    assert.ok(
      r.gflops.every((v) => v > 0 && Number.isFinite(v)),
      r.kernel,
    );
  }
  assert.equal(g.best!.summary.median, Math.max(...g.rows.map((r) => r.summary.median)));
  const table = gemmTable(g);
  assert.match(table, /^\| fp32 GEMM kernel \| GFLOP\/s \| of best \| what \|/);
  assert.match(table, new RegExp(`\\| ${g.best!.kernel} \\| [^|]+ \\| 100% \\|`));
});
