/**
 * Attention through the fp32 GEMM kernels (native/attention.cc): batched products against libtorch's,
 * attention forward and backward against libtorch's own attention (fused or composite) on the model's
 * strided q/k/v views, cross-attention shapes and partial gradients; bf16 autocast stays libtorch's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { profileOps } from '../../src/bench/profile.js';
import * as T from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { GEMM_KERNELS, type GemmKernel, gemmKernels, gemmMm, setGemm } from '../../src/tensor/gemm.js';

const avail = gemmKernels();

function assertClose(a: Tensor, b: Tensor, what: string, tol = 2e-5): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const x = a.toArray();
  const y = b.toArray();
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < y.length; i++) {
    diff = Math.max(diff, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  assert.ok(diff / scale <= tol, `${what}: max difference ${diff} at scale ${scale}`);
}

function withKernel<R>(k: GemmKernel, fn: () => R): R {
  setGemm(k);
  try {
    return fn();
  } finally {
    setGemm('torch');
  }
}

/** q, k, v as the ViT makes them: one [B, N, 3, H, d] projection permuted to [3, B, H, N, d] views. */
function qkvViews(
  b: number,
  n: number,
  h: number,
  d: number,
  seed: number,
  grad: boolean,
): { leaf: Tensor; q: Tensor; k: Tensor; v: Tensor } {
  const leaf = T.randn([b, n, 3, h, d], { seed });
  if (grad) leaf.requiresGrad_();
  const p = leaf.permute(2, 0, 3, 1, 4);
  return { leaf, q: p.select(0, 0), k: p.select(0, 1), v: p.select(0, 2) };
}

for (const k of GEMM_KERNELS.filter((x) => x !== 'torch')) {
  const skip = avail[k] ? `${k} unavailable here: ${avail[k]}` : false;

  test(`gemm ${k}: batched products equal libtorch's, operands transposed in their last two dims or not`, { skip }, () => {
    T.scope(() => {
      const a = T.randn([5, 17, 9], { seed: 1 });
      const b = T.randn([5, 9, 13], { seed: 2 });
      const aT = T.randn([5, 9, 17], { seed: 3 }).transpose(1, 2);
      const bT = T.randn([5, 13, 9], { seed: 4 }).transpose(1, 2);
      for (const [name, x, y] of [
        ['contiguous', a, b],
        ['transposed a', aT, b],
        ['transposed b', a, bT],
        ['both transposed', aT, bT],
      ] as const) {
        assertClose(gemmMm(k, x, y), x.matmul(y), `${k} ${name}`);
      }
      assert.throws(() => gemmMm(k, a, T.randn([4, 9, 13])), /3-D operands/);
    });
  });

  test(`gemm ${k}: attention forward and backward equal libtorch's on the model's q/k/v views`, { skip }, () => {
    T.scope(() => {
      const run = (kernel: GemmKernel): Tensor[] =>
        withKernel(kernel, () => {
          const { leaf, q, k: kk, v } = qkvViews(2, 11, 3, 8, 5, true);
          const o = T.attention(q, kk, v, 8 ** -0.5);
          o.mul(T.randn(o.shape, { seed: 6 }))
            .sum()
            .backward();
          return [o, leaf.grad!];
        });
      const ref = run('torch');
      const got = run(k);
      assertClose(got[0], ref[0], `${k} attention out`);
      assertClose(got[1], ref[1], `${k} attention d(qkv)`);
    });
  });

  test(`gemm ${k}: cross-attention shapes, partial gradients and no-grad equal libtorch's`, { skip }, () => {
    T.scope(() => {
      const run = (kernel: GemmKernel): Tensor[] =>
        withKernel(kernel, () => {
          // L 7 queries over S 12 keys, head dim 5, value dim 4; only k and v need gradients
          const q = T.randn([2, 3, 7, 5], { seed: 7 });
          const kk = T.randn([2, 3, 12, 5], { seed: 8 }).requiresGrad_();
          const v = T.randn([2, 3, 12, 4], { seed: 9 }).requiresGrad_();
          const o = T.attention(q, kk, v, 0.3);
          o.mul(T.randn(o.shape, { seed: 10 }))
            .sum()
            .backward();
          assert.equal(q.grad, null);
          const frozen = T.noGrad(() => T.attention(q, kk, v, 0.3));
          return [o, kk.grad!, v.grad!, frozen];
        });
      const ref = run('torch');
      const got = run(k);
      ['out', 'dk', 'dv', 'no-grad out'].forEach((n, i) => {
        assertClose(got[i], ref[i], `${k} ${n}`);
      });
    });
  });

  test(`gemm ${k}: attention's products run on the kernel in fp32 and stay libtorch's under bf16 autocast`, { skip }, () => {
    T.scope(() =>
      withKernel(k, () => {
        const { q, k: kk, v } = qkvViews(1, 9, 2, 8, 11, false);
        const fp32 = profileOps(() => {
          T.attention(q, kk, v, 0.25);
        });
        assert.ok(
          fp32.ops.some((o) => o.name === `loaa::mm_${k}` && o.calls >= 2),
          `fp32 attention ran ${fp32.ops.map((o) => o.name).join(', ')}`,
        );
        let out: Tensor | undefined;
        const bf16 = profileOps(() => {
          out = T.autocast('cpu', 'bfloat16', () => T.attention(q, kk, v, 0.25));
        });
        assert.equal(out!.dtype, 'bfloat16');
        assert.ok(!bf16.ops.some((o) => o.name.startsWith('loaa::mm_')), 'bf16 attention stayed libtorch');
      }),
    );
  });
}
