import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { Linear, LayerNorm, Module } from '../../src/nn/index.js';

const seeded = (shape: number[], seed: number): T.Tensor => T.randn(shape, { seed });

// libtorch's CPU op lists, the same as torch.autocast('cpu') in Python: losses are float32 ops;
// softmax and layer norm keep bf16 tensors but accumulate in float32 inside the kernel (on CUDA the
// lists put them in float32 too).
test("autocast(bf16): linear and matmul run in bfloat16, losses in float32 (libtorch's CPU lists)", () => {
  T.scope(() => {
    const x = seeded([4, 8], 1);
    const w = seeded([6, 8], 2);
    T.autocast('cpu', 'bfloat16', () => {
      assert.equal(T.autocastDtype('cpu'), 'bfloat16');
      const y = T.linear(x, w, null);
      assert.equal(y.dtype, 'bfloat16');
      assert.equal(x.matmul(w.T).dtype, 'bfloat16');
      assert.equal(T.crossEntropy(y, T.tensor([0, 1, 2, 3], [4], 'int64')).dtype, 'float32');
      assert.equal(T.mseLoss(y, y.mul(0.5)).dtype, 'float32');
    });
    // off again outside, in libtorch and in the JS mirror
    assert.equal(T.autocastDtype('cpu'), null);
    assert.equal(T.linear(x, w, null).dtype, 'float32');
  });
});

test('autocast regions nest and restore the outer state, also when the body throws', { skip: T.cpuAutocastLimitation() ?? false }, () => {
  T.autocast('cpu', 'bfloat16', () => {
    T.autocast('cpu', 'float16', () => assert.equal(T.autocastDtype('cpu'), 'float16'));
    assert.equal(T.autocastDtype('cpu'), 'bfloat16');
    assert.throws(
      () =>
        T.autocast('cpu', 'float16', () => {
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(T.autocastDtype('cpu'), 'bfloat16');
  });
  assert.equal(T.autocastDtype('cpu'), null);
  assert.equal(
    T.autocast('cpu', null, () => T.autocastDtype('cpu')),
    null,
  );
});

test('gradients of autocast(bf16) reach float32 master weights and match float32 within bf16 rounding', () => {
  T.scope(() => {
    const x = seeded([16, 32], 3);
    const grads = (dtype: T.LowDType | null): Float32Array => {
      const w = seeded([8, 32], 4).keep();
      w.requiresGrad = true;
      try {
        T.autocast('cpu', dtype, () => T.linear(x, w, null).softmax(-1).pow(2).sum()).backward();
        const g = w.grad!;
        assert.equal(g.dtype, 'float32');
        return g.toFloat32();
      } finally {
        w.dispose();
      }
    };
    const ref = grads(null);
    const low = grads('bfloat16');
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < ref.length; i++) {
      diff = Math.max(diff, Math.abs(ref[i] - low[i]));
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    assert.ok(diff > 0, 'bf16 should round somewhere');
    assert.ok(diff <= 0.05 * scale, `bf16 gradient differs by ${diff} (max ${scale})`);
  });
});

class Net extends Module {
  readonly fc: Linear;
  readonly norm: LayerNorm;
  readonly head: Linear;
  constructor() {
    super();
    this.fc = this.child('fc', new Linear(16, 16, { seed: 5 }));
    this.norm = this.child('norm', new LayerNorm(16));
    this.head = this.child('head', new Linear(16, 3, { seed: 7 }));
  }
  forward(x: T.Tensor): T.Tensor {
    return this.head.forward(this.norm.forward(this.fc.forward(x).relu()));
  }
}

test('frozen weights cast once give exactly what autocast computes, and only under autocast', {
  skip: T.cpuAutocastLimitation() ?? false,
}, () => {
  const net = new Net();
  try {
    net.freeze().unfreeze([/^head\./]);
    net.norm.weight.requiresGrad = false;
    T.scope(() => {
      const x = seeded([5, 16], 8);
      const before = T.autocast('cpu', 'bfloat16', () => net.forward(x)).toFloat32();
      net.castFrozenWeights('bfloat16');
      const after = T.autocast('cpu', 'bfloat16', () => net.forward(x)).toFloat32();
      assert.deepEqual(after, before);
      // outside autocast the float32 weights are used: float32 results
      const fp32 = net.forward(x);
      assert.equal(fp32.dtype, 'float32');
      assert.notDeepEqual(fp32.toFloat32(), before);
      // a layer unfrozen after the cast must not use its stale copy
      net.fc.weight.requiresGrad = true;
      net.fc.bias!.requiresGrad = true;
      const y = T.autocast('cpu', 'bfloat16', () => net.forward(x));
      y.sum().backward();
      assert.ok(net.fc.weight.grad !== null, 'the unfrozen layer trains');
    });
  } finally {
    net.dispose();
  }
});

test('attention: the fused kernel (2.x) agrees with the composite in float32', () => {
  T.scope(() => {
    const q = seeded([2, 3, 10, 8], 11);
    const k = seeded([2, 3, 10, 8], 12);
    const v = seeded([2, 3, 10, 8], 13);
    const fused = T.attention(q, k, v, 8 ** -0.5).toFloat32();
    const composite = q
      .matmul(k.T)
      .mul(8 ** -0.5)
      .softmax(-1)
      .matmul(v)
      .toFloat32();
    let diff = 0;
    for (let i = 0; i < fused.length; i++) diff = Math.max(diff, Math.abs(fused[i] - composite[i]));
    assert.ok(diff < 1e-5, `fused attention differs by ${diff}`);
    if (!T.usesFusedAttention()) console.log(`# attention runs the composite here (${T.engineInfo().torchVersion})`);
  });
});
