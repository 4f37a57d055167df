/**
 * Autograd against central finite differences in float64, for every differentiable op the models
 * use: d/dx sum(f(x) * R) for a fixed random R, each input element perturbed by +-1e-6.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';

interface InputSpec {
  shape: number[];
  positive?: boolean;
}

function draw(spec: InputSpec, seed: number): Float64Array {
  const t = T.randn(spec.shape, { seed, dtype: 'float64' });
  try {
    const d = t.data<'float64'>();
    if (spec.positive) for (let i = 0; i < d.length; i++) d[i] = Math.abs(d[i]) + 0.5;
    return d;
  } finally {
    t.dispose();
  }
}

function gradcheck(specs: InputSpec[], f: (xs: Tensor[]) => Tensor, seed = 1, h = 1e-6, tol = 1e-6): void {
  T.scope(() => {
    const data = specs.map((s, i) => draw(s, seed * 100 + i));
    const xs = data.map((d, i) => T.tensor(d, specs[i].shape).requiresGrad_());
    const out = f(xs);
    assert.equal(out.dtype, 'float64');
    const R = T.randn(out.shape, { seed: seed * 100 + 99, dtype: 'float64' });
    out.mul(R).sum().backward();
    const analytic = xs.map((x) => {
      const g = x.grad;
      assert.ok(g !== null, 'every input gets a gradient');
      return g.toArray();
    });
    const value = (ds: Float64Array[]): number =>
      T.noGrad(() =>
        T.scope(() =>
          f(ds.map((d, i) => T.tensor(d, specs[i].shape)))
            .mul(R)
            .sum()
            .item(),
        ),
      );
    for (let i = 0; i < specs.length; i++) {
      for (let k = 0; k < data[i].length; k++) {
        const orig = data[i][k];
        const plus = data.map((d) => d.slice());
        const minus = data.map((d) => d.slice());
        plus[i][k] = orig + h;
        minus[i][k] = orig - h;
        const numeric = (value(plus) - value(minus)) / (2 * h);
        const a = analytic[i][k];
        assert.ok(
          Math.abs(a - numeric) <= tol * (1 + Math.abs(numeric)),
          `input ${i} element ${k}: autograd ${a}, finite difference ${numeric}`,
        );
      }
    }
  });
}

test('grad: linear (3-d input, with and without bias)', () => {
  gradcheck([{ shape: [2, 3, 4] }, { shape: [5, 4] }, { shape: [5] }], ([x, w, b]) => T.linear(x, w, b));
  gradcheck([{ shape: [3, 4] }, { shape: [2, 4] }], ([x, w]) => T.linear(x, w));
});

test('grad: matmul (2-d, batched with broadcasting)', () => {
  gradcheck([{ shape: [3, 4] }, { shape: [4, 2] }], ([a, b]) => a.matmul(b));
  gradcheck([{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 2] }], ([a, b]) => a.matmul(b));
});

test('grad: conv2d (padding, stride, groups) and conv1d', () => {
  gradcheck([{ shape: [2, 2, 5, 4] }, { shape: [3, 2, 3, 2] }, { shape: [3] }], ([x, w, b]) =>
    T.conv2d(x, w, b, { stride: [2, 1], padding: [1, 0] }),
  );
  gradcheck([{ shape: [1, 4, 4, 4] }, { shape: [4, 2, 2, 2] }], ([x, w]) => T.conv2d(x, w, null, { groups: 2, padding: 1, stride: 2 }));
  gradcheck([{ shape: [1, 2, 6] }, { shape: [2, 2, 3] }, { shape: [2] }], ([x, w, b]) => T.conv1d(x, w, b, { padding: 1 }));
});

test('grad: layer_norm (input, weight, bias)', () => {
  gradcheck([{ shape: [2, 3, 6] }, { shape: [6] }, { shape: [6] }], ([x, w, b]) => T.layerNorm(x, [6], w, b, 1e-6));
});

test('grad: gelu erf and tanh', () => {
  gradcheck([{ shape: [3, 5] }], ([x]) => x.mul(2).gelu());
  gradcheck([{ shape: [3, 5] }], ([x]) => x.mul(2).gelu('tanh'));
});

test('grad: softmax, log_softmax, logsumexp', () => {
  gradcheck([{ shape: [2, 3, 4] }], ([x]) => x.softmax(-1));
  gradcheck([{ shape: [2, 3, 4] }], ([x]) => x.softmax(1));
  gradcheck([{ shape: [3, 5] }], ([x]) => x.logSoftmax(-1));
  gradcheck([{ shape: [3, 5] }], ([x]) => x.logsumexp(-1));
});

test('grad: attention composite (q, k, v)', () => {
  gradcheck([{ shape: [1, 2, 4, 3] }, { shape: [1, 2, 5, 3] }, { shape: [1, 2, 5, 3] }], ([q, k, v]) => T.attention(q, k, v, 0.7));
});

test('grad: bilinear interpolate (up and down, align_corners false)', () => {
  gradcheck([{ shape: [1, 2, 3, 4] }], ([x]) => T.interpolateBilinear(x, [5, 7]));
  gradcheck([{ shape: [1, 1, 5, 6] }], ([x]) => T.interpolateBilinear(x, [2, 3]));
});

test('grad: cross-entropy (indices, soft targets, label smoothing)', () => {
  const target = T.tensor([2, 0, 4, 1], [4], 'int64').keep();
  gradcheck([{ shape: [4, 5] }], ([x]) => T.crossEntropy(x, target));
  gradcheck([{ shape: [4, 5] }], ([x]) => T.crossEntropy(x, target, 'sum', 0.1));
  gradcheck([{ shape: [4, 5] }, { shape: [4, 5] }], ([x, t]) => T.crossEntropy(x, t.softmax(-1), 'none'));
  target.dispose();
});

test('grad: BCE with logits (with pos weight) and MSE', () => {
  const target = T.tensor(Float64Array.from([1, 0, 1, 0, 0, 1]), [2, 3]).keep();
  gradcheck([{ shape: [2, 3] }], ([x]) => T.bceWithLogits(x, target));
  // pos_weight is a constant in libtorch (not differentiable), like the target
  const pw = T.tensor(Float64Array.from([0.5, 2, 3]), [3]).keep();
  gradcheck([{ shape: [2, 3] }], ([x]) => T.bceWithLogits(x, target, 'sum', pw));
  pw.dispose();
  gradcheck([{ shape: [2, 3] }, { shape: [2, 3] }], ([x, y]) => T.mseLoss(x, y));
  target.dispose();
});

test('grad: broadcasting add, sub, mul, div, pow', () => {
  gradcheck([{ shape: [3, 1, 4] }, { shape: [2, 1] }], ([a, b]) => a.add(b, 0.5));
  gradcheck([{ shape: [3, 1, 4] }, { shape: [2, 1] }], ([a, b]) => a.sub(b));
  gradcheck([{ shape: [3, 1, 4] }, { shape: [2, 1] }], ([a, b]) => a.mul(b));
  gradcheck([{ shape: [3, 4] }, { shape: [4], positive: true }], ([a, b]) => a.div(b));
  gradcheck([{ shape: [3, 4], positive: true }], ([a]) => a.pow(1.5).add(a.sqrt()).sub(a.rsqrt()).add(a.log()));
  gradcheck([{ shape: [3, 4] }], ([a]) => a.exp().add(a.tanh()).add(a.sigmoid()).mul(a.erf()));
});

test('grad: reshape, permute, transpose, slice, select, narrow, cat, stack, expand, pad, split', () => {
  gradcheck([{ shape: [2, 3, 4] }], ([x]) => x.reshape(4, 6).permute(1, 0).slice(0, 1, 6, 2));
  gradcheck([{ shape: [2, 3, 4] }], ([x]) => x.transpose(0, 2).select(1, 1).narrow(0, 1, 2));
  gradcheck([{ shape: [2, 3] }, { shape: [2, 2] }], ([a, b]) => T.cat([a, b, a], 1));
  gradcheck([{ shape: [2, 3] }, { shape: [2, 3] }], ([a, b]) => T.stack([a, b], 1).flatten());
  gradcheck([{ shape: [3, 1] }], ([a]) => a.expand(3, 4).mul(a.unsqueeze(0).squeeze(0)));
  gradcheck([{ shape: [2, 3] }], ([a]) => T.pad(a, [1, 2, 0, 1], 0.3));
  gradcheck([{ shape: [2, 5] }], ([a]) => {
    const [p, q] = a.split([2, 3], 1);
    return p.sum(1).mul(q.mean(1));
  });
});

test('grad: reductions sum, mean, var, amax, norm', () => {
  gradcheck([{ shape: [3, 4] }], ([x]) => x.sum(1).mul(x.mean(0).sum()));
  gradcheck([{ shape: [3, 4] }], ([x]) => x.var(1));
  gradcheck([{ shape: [3, 4] }], ([x]) => x.amax(1));
  gradcheck([{ shape: [3, 4] }], ([x]) => x.norm(2, 1));
});
