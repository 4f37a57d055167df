/**
 * Bad input is an Error naming the op and its input shapes, never a crash: wrong shapes and dtypes
 * per op family, disposed tensors, non-tensors, and a fuzz of every native op with junk arguments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as T from '../../src/tensor/index.js';
import { nativeOps } from '../../src/tensor/tensor.js';

function throwsMsg(fn: () => unknown, re: RegExp, type: new (...a: never[]) => Error = Error): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected a ${type.name}, got ${String(e)}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

const f32 = (...shape: number[]) => T.ones(shape);

test('shape errors name the op and the input shapes, per op family', () => {
  T.scope(() => {
    throwsMsg(() => f32(2, 3).matmul(f32(4, 1)), /^matmul\(float32\[2, 3\], float32\[4, 1\]\): .*cannot be multiplied/);
    throwsMsg(() => T.linear(f32(2, 3), f32(4, 5)), /^linear\(float32\[2, 3\], float32\[4, 5\], _\): /);
    throwsMsg(
      () => T.conv2d(f32(1, 3, 5, 5), f32(2, 4, 3, 3), null),
      /^conv2d\(float32\[1, 3, 5, 5\], float32\[2, 4, 3, 3\], _, \[1, 1\], \[0, 0\], \[1, 1\], 1\): .*channels/,
    );
    throwsMsg(
      () => T.conv1d(f32(1, 2, 3), f32(1, 2, 5), null),
      /^conv1d\(float32\[1, 2, 3\], float32\[1, 2, 5\].*kernel size can't be greater/i,
    );
    throwsMsg(() => T.layerNorm(f32(2, 5), [4], null, null, 1e-5), /^layerNorm\(float32\[2, 5\], \[4\], _, _, 1e-05\): .*normalized_shape/);
    throwsMsg(() => f32(2, 3).softmax(2), /^softmax\(float32\[2, 3\], 2\): Dimension out of range/);
    throwsMsg(() => f32(2, 3).logSoftmax(-3), /^logSoftmax\(float32\[2, 3\], -3\): Dimension out of range/);
    throwsMsg(
      () => T.attention(f32(1, 2, 3, 4), f32(1, 2, 3, 5), f32(1, 2, 3, 5), 1),
      /^(attention|sdpa)\(float32\[1, 2, 3, 4\], float32\[1, 2, 3, 5\], float32\[1, 2, 3, 5\], 1\): /,
    );
    throwsMsg(() => T.interpolateBilinear(f32(2, 3, 4), [2, 2]), /^upsampleBilinear2d\(float32\[2, 3, 4\], \[2, 2\], _\): /);
    throwsMsg(() => T.pad(f32(2, 3), [1, 2, 3]), /^pad\(float32\[2, 3\], \[1, 2, 3\], 0\): .*even/);
    throwsMsg(
      () => T.crossEntropy(f32(3, 4), T.tensor([1, 2], [2], 'int64')),
      /^crossEntropy\(float32\[3, 4\], int64\[2\], "mean", 0\): .*batch_size/,
    );
    throwsMsg(() => T.bceWithLogits(f32(3, 4), f32(3, 5)), /^bceWithLogits\(float32\[3, 4\], float32\[3, 5\], "mean", _\): /);
    throwsMsg(() => T.mseLoss(f32(3), f32(4)), /^mseLoss\(float32\[3\], float32\[4\], "mean"\): /);
    throwsMsg(() => f32(2, 3).sum(5), /^sum\(float32\[2, 3\], \[5\], _\): Dimension out of range/);
    throwsMsg(() => f32(2, 3).topk(4), /^topk\(float32\[2, 3\], 4, -1, _, _\): /);
    throwsMsg(() => f32(2, 3).reshape(4, 2), /^reshape\(float32\[2, 3\], \[4, 2\]\): shape '\[4, 2\]' is invalid/);
    throwsMsg(() => f32(2, 3).T.view(6), /^view\(float32\[3, 2\], \[6\]\): view size is not compatible/);
    throwsMsg(() => f32(2, 3).permute(0), /^permute\(float32\[2, 3\], \[0\]\): /);
    throwsMsg(() => f32(2, 3).select(0, 2), /^select\(float32\[2, 3\], 0, 2\): .*out of range/);
    throwsMsg(() => T.cat([f32(2, 3), f32(2, 4)]), /^cat\(\[float32\[2, 3\], float32\[2, 4\]\], 0\): Sizes of tensors must match/);
    throwsMsg(() => T.stack([f32(2), f32(3)]), /^stack\(\[float32\[2\], float32\[3\]\], 0\): /);
    throwsMsg(() => f32(2, 3).add(f32(4)), /^add\(float32\[2, 3\], float32\[4\], _\): The size of tensor a \(3\) must match/);
    throwsMsg(() => f32(2, 3).mul(f32(2)), /^mul\(float32\[2, 3\], float32\[2\]\): /);
    throwsMsg(() => T.where(f32(2).gt(0), f32(3), f32(2)), /^where\(bool\[2\], float32\[3\], float32\[2\]\): /);
  });
});

test('dtype errors name the op and the input dtypes', () => {
  T.scope(() => {
    const f64 = T.ones([2, 1], { dtype: 'float64' });
    throwsMsg(
      () => f32(1, 2).matmul(f64),
      /^matmul\(float32\[1, 2\], float64\[2, 1\]\): (expected scalar type Float but found Double|expected m1 and m2 to have the same dtype)/,
    );
    throwsMsg(
      () => T.conv2d(T.ones([1, 3, 5, 5], { dtype: 'int64' }), f32(2, 3, 3, 3), null),
      /^conv2d\(int64\[1, 3, 5, 5\], float32\[2, 3, 3, 3\]/,
    );
    throwsMsg(
      () => T.crossEntropy(f32(3, 4), T.tensor([1, 2, 3], [3], 'int32')),
      /^crossEntropy\(float32\[3, 4\], int32\[3\], "mean", 0\): expected (scalar type Long|target dtype to be Long)/,
    );
    throwsMsg(() => f32(2, 3).indexSelect(0, T.tensor([0])), /^indexSelect\(float32\[2, 3\], 0, float32\[1\]\): .*int32 or int64/);
    throwsMsg(() => f32(2, 3).gather(1, f32(2, 3)), /^gather\(float32\[2, 3\], 1, float32\[2, 3\]\): /);
    throwsMsg(() => T.layerNorm(T.ones([2, 4], { dtype: 'int64' }), [4], null, null, 1e-5), /^layerNorm\(int64\[2, 4\]/);
    throwsMsg(() => T.ones([3], { dtype: 'int64' }).softmax(0), /^softmax\(int64\[3\], 0\): /);
    throwsMsg(() => T.ones([3], { dtype: 'int64' }).mean(), /^mean\(int64\[3\], _, _\): .*dtype/);
    throwsMsg(() => T.where(f32(2), f32(2), f32(2)), /^where\(float32\[2\], float32\[2\], float32\[2\]\): .*bool/i);
    throwsMsg(() => T.zeros([2], { dtype: 'complex64' as never }), /unknown dtype "complex64"/, TypeError);
  });
});

test('a disposed tensor gives an Error, in ops and in accessors', () => {
  const t = T.ones([2]);
  t.dispose();
  assert.equal(t.disposed, true);
  t.dispose(); // idempotent
  throwsMsg(() => t.add(1), /^add argument 0: tensor has been disposed/);
  throwsMsg(() => T.ones([2]).add(t), /^add argument 1: tensor has been disposed/);
  throwsMsg(() => T.cat([T.ones([1]), t]), /^cat argument 0: tensor has been disposed/);
  throwsMsg(() => t.dtype, /tensor has been disposed/);
  throwsMsg(() => t.data(), /tensor has been disposed/);
  throwsMsg(() => t.requiresGrad, /tensor has been disposed/);
  throwsMsg(() => t.grad, /tensor has been disposed/);
});

test('a non-tensor where a tensor belongs is a TypeError', () => {
  T.scope(() => {
    throwsMsg(() => T.linear({} as T.Tensor, f32(2, 2)), /^linear argument 0: expected a tensor/, TypeError);
    throwsMsg(() => f32(2).add('a' as unknown as number), /^add argument 1: expected a number/, TypeError);
    throwsMsg(() => nativeOps.add({ shape: [2] }, 1), /^add argument 0: expected a tensor/, TypeError);
    throwsMsg(() => nativeOps.cat([f32(1).native, 5], 0), /^cat argument 0: expected a tensor/, TypeError);
    throwsMsg(() => nativeOps.reshape(f32(2).native, 'abc'), /^reshape argument 1: expected an array of integers/, TypeError);
    throwsMsg(() => nativeOps.reshape(f32(2).native, [1.5, 2]), /^reshape argument 1: expected an array of integers/, TypeError);
    throwsMsg(
      () => nativeOps.fromBytes(new Float32Array(3), [2, 2], 'float32'),
      /^fromBytes argument 0: holds 12 bytes but float32 \[2, 2\] needs 16/,
      TypeError,
    );
    throwsMsg(() => nativeOps.fromBytes([1, 2], [2], 'float32'), /^fromBytes argument 0: expected a TypedArray/, TypeError);
    throwsMsg(
      () => nativeOps.crossEntropy(f32(2, 2).native, T.tensor([0, 1], [2], 'int64').native, 'avg'),
      /reduction must be mean, sum or none, not "avg"/,
      TypeError,
    );
  });
});

test('assigning a gradient of the wrong shape or dtype is an Error at the assignment', () => {
  T.scope(() => {
    const x = f32(3).requiresGrad_();
    throwsMsg(() => {
      x.grad = f32(5);
    }, /^grad: assigned gradient float32\[5\] on cpu does not match the tensor's float32\[3\] on cpu/);
    throwsMsg(() => {
      x.grad = T.ones([3], { dtype: 'float64' });
    }, /assigned gradient float64\[3\]/);
    x.grad = f32(3);
    assert.deepEqual(x.grad!.shape, [3]);
  });
});

// ---- fuzz: every native op with junk arguments either returns or throws an Error

/** Ops whose effect is global (threads, seeds, grad mode) or that only read: kept out of the fuzz. */
const SKIP = new Set(['setNumThreads', 'manualSeed', 'setGradEnabled', 'info']);

test('fuzz: every native op with random arguments returns or throws an Error (no crash)', () => {
  const names = Object.keys(nativeOps).filter((n) => !SKIP.has(n));
  assert.ok(names.length > 100);
  const pool = () => [
    T.ones([2, 3]).native,
    T.zeros([3]).native,
    T.ones([1, 2, 3, 3]).native,
    T.tensor([1, 0], [2], 'int64').native,
    T.tensor([1, 0], [2], 'bool').native,
    T.ones([], { dtype: 'float64' }).native,
    T.zeros([0, 2]).native,
  ];
  const junk = fc.oneof(
    fc.integer({ min: 0, max: 6 }).map((i) => ({ tensor: i })),
    fc.integer({ min: -4, max: 6 }),
    fc.double({ min: -3, max: 3, noNaN: false }),
    fc.constantFrom(NaN, Infinity, -Infinity, 2 ** 40, -(2 ** 40), 0.5),
    fc.array(fc.integer({ min: -3, max: 5 }), { maxLength: 4 }),
    fc.constantFrom('float32', 'int64', 'mean', 'none', 'tanh', 'bogus', '', 'cpu', 'cuda:7'),
    fc.constantFrom(null, undefined, true, false, {}, [], new Float32Array(4), () => 1),
  );
  let calls = 0;
  fc.assert(
    fc.property(fc.constantFrom(...names), fc.array(junk, { maxLength: 7 }), (name, args) => {
      T.scope(() => {
        const tensors = pool();
        const real = args.map((a) =>
          a !== null && typeof a === 'object' && 'tensor' in a ? tensors[(a as { tensor: number }).tensor] : a,
        );
        const prevGrad = nativeOps.isGradEnabled();
        try {
          const r = nativeOps[name](...real);
          calls++;
          for (const x of Array.isArray(r) ? r : [r])
            if (x instanceof (tensors[0].constructor as new () => object)) (x as { dispose(): void }).dispose();
        } catch (e) {
          assert.ok(e instanceof Error, `${name} threw a non-Error: ${String(e)}`);
          assert.ok((e as Error).message.length > 0);
        } finally {
          nativeOps.setGradEnabled(prevGrad);
          for (const t of tensors) t.dispose();
        }
      });
    }),
    { numRuns: 3000, seed: 20240611 },
  );
  assert.ok(calls > 0);
});
