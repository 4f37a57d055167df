/** Factories, data in and out, in-place ops and runtime calls: known values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';

test('tensor(): plain arrays are float32, typed arrays keep their type, dtype converts', () => {
  T.scope(() => {
    const a = T.tensor([1, 2, 3, 4], [2, 2]);
    assert.equal(a.dtype, 'float32');
    assert.deepEqual(a.shape, [2, 2]);
    assert.equal(a.ndim, 2);
    assert.equal(a.numel, 4);
    assert.equal(a.device, 'cpu');
    assert.equal(a.toString(), 'Tensor(float32[2, 2])');
    assert.deepEqual(a.toArray(), [1, 2, 3, 4]);
    assert.equal(T.tensor(Float64Array.from([1.5])).dtype, 'float64');
    assert.equal(T.tensor(Int32Array.from([1])).dtype, 'int32');
    assert.equal(T.tensor(BigInt64Array.from([5n])).dtype, 'int64');
    assert.equal(T.tensor(Uint8Array.from([1, 0]), [2], 'bool').dtype, 'bool');
    const i = T.tensor([1.7, -2.2, 3], [3], 'int64');
    assert.deepEqual(i.data(), BigInt64Array.from([1n, -2n, 3n]));
    const h = T.tensor([1, 0.5, -2], [3], 'float16');
    assert.equal(h.dtype, 'float16');
    assert.deepEqual(h.toArray(), [1, 0.5, -2]);
    const bf = T.tensor([1, 0.5, -2], [3], 'bfloat16');
    assert.deepEqual(Array.from(bf.toFloat32()), [1, 0.5, -2]);
    const conv = T.tensor(Int32Array.from([1, 2]), [2], 'float64');
    assert.equal(conv.dtype, 'float64');
    assert.deepEqual(conv.toArray(), [1, 2]);
    const s = T.tensor(7);
    assert.deepEqual(s.shape, [1]);
    assert.equal(s.item(), 7);
    assert.equal(T.tensor([3], []).item(), 3);
    assert.throws(() => T.tensor([1, 2, 3], [2, 2]), /tensor: 3 values do not fill shape \[2, 2\] \(4 elements\)/);
    assert.throws(() => T.tensor(new Uint16Array(2)), /give a dtype/);
  });
});

test('fromRaw / toRaw / bytes / data round trip, little-endian row-major', () => {
  T.scope(() => {
    const a = T.tensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    const raw = T.toRaw(a.T);
    assert.deepEqual(raw.shape, [3, 2]);
    assert.deepEqual(Array.from(new Float32Array(raw.data.slice().buffer)), [1, 4, 2, 5, 3, 6]);
    const b = T.fromRaw(raw);
    assert.deepEqual(b.toArray(), [1, 4, 2, 5, 3, 6]);
    assert.deepEqual(Array.from(a.bytes().subarray(0, 4)), [0, 0, 0x80, 0x3f]);
    assert.ok(a.data() instanceof Float32Array);
    assert.ok(T.tensor([1], [1], 'int16').data() instanceof Int16Array);
    assert.ok(T.tensor([1], [1], 'int8').data() instanceof Int8Array);
    assert.ok(T.tensor([1], [1], 'uint8').data() instanceof Uint8Array);
    assert.ok(T.tensor([1], [1], 'float16').data() instanceof Uint16Array);
    assert.deepEqual(Array.from(T.tensor([1, 2], [2], 'float64').toFloat32()), [1, 2]);
    assert.throws(() => a.item(), /item\(\) needs a tensor with one element, found \[2, 3\]/);
  });
});

test('zeros, ones, full, arange, eye, empty', () => {
  T.scope(() => {
    assert.deepEqual(T.zeros([2, 2]).toArray(), [0, 0, 0, 0]);
    assert.equal(T.zeros([1], { dtype: 'int32' }).dtype, 'int32');
    assert.deepEqual(T.ones([3], { dtype: 'float64' }).toArray(), [1, 1, 1]);
    assert.deepEqual(T.full([2], 2.5).toArray(), [2.5, 2.5]);
    const r = T.arange(0, 5);
    assert.equal(r.dtype, 'int64');
    assert.deepEqual(r.toArray(), [0, 1, 2, 3, 4]);
    assert.deepEqual(T.arange(1, 2, 0.25, { dtype: 'float32' }).toArray(), [1, 1.25, 1.5, 1.75]);
    assert.deepEqual(T.eye(2).toArray(), [1, 0, 0, 1]);
    assert.deepEqual(T.empty([2, 3]).shape, [2, 3]);
    assert.deepEqual(T.zeros([0, 3]).shape, [0, 3]);
  });
});

test('seeded random creation is reproducible; different seeds differ', () => {
  T.scope(() => {
    const same = (a: T.Tensor, b: T.Tensor) => assert.deepEqual(a.toArray(), b.toArray());
    const differ = (a: T.Tensor, b: T.Tensor) => assert.notDeepEqual(a.toArray(), b.toArray());
    same(T.randn([4, 5], { seed: 1 }), T.randn([4, 5], { seed: 1 }));
    differ(T.randn([4, 5], { seed: 1 }), T.randn([4, 5], { seed: 2 }));
    same(T.rand([10], { seed: 9, dtype: 'float64' }), T.rand([10], { seed: 9, dtype: 'float64' }));
    differ(T.rand([10], { seed: 9 }), T.rand([10], { seed: 10 }));
    same(T.randint(0, 100, [20], { seed: 3 }), T.randint(0, 100, [20], { seed: 3 }));
    differ(T.randint(0, 1000, [20], { seed: 3 }), T.randint(0, 1000, [20], { seed: 4 }));
    same(T.randperm(50, 8), T.randperm(50, 8));
    differ(T.randperm(50, 8), T.randperm(50, 9));
    same(T.zeros([6]).uniform_(-1, 1, 5), T.zeros([6]).uniform_(-1, 1, 5));
    differ(T.zeros([6]).uniform_(-1, 1, 5), T.zeros([6]).uniform_(-1, 1, 6));
    same(T.zeros([6]).normal_(0, 2, 5), T.zeros([6]).normal_(0, 2, 5));
    // a seeded draw does not touch the global generator, and manualSeed makes unseeded draws repeat
    T.manualSeed(123);
    const a = T.randn([5]);
    T.manualSeed(123);
    T.randn([5], { seed: 77 });
    same(T.randn([5]), a);
    // ranges
    const u = T.rand([1000], { seed: 1 }).toArray();
    assert.ok(u.every((v) => v >= 0 && v < 1));
    const n = T.randint(-3, 3, [1000], { seed: 1 }).toArray();
    assert.ok(n.every((v) => v >= -3 && v < 3 && Number.isInteger(v)));
    assert.deepEqual(
      [...T.randperm(20, 1).toArray()].sort((x, y) => x - y),
      [...Array(20).keys()],
    );
    const un = T.zeros([2000]).uniform_(2, 3, 4).toArray();
    assert.ok(un.every((v) => v >= 2 && v <= 3));
    const nm = T.zeros([20000], { dtype: 'float64' }).normal_(1, 2, 4);
    assert.ok(Math.abs(nm.mean().item() - 1) < 0.05);
    assert.ok(Math.abs(nm.std().item() - 2) < 0.05);
  });
});

test('to, clone, detach, contiguous, alias and sameStorage', () => {
  T.scope(() => {
    const a = T.tensor([1, 2, 3, 4], [2, 2]);
    const c = a.clone();
    assert.equal(T.sameStorage(a, c), false);
    const v = a.T;
    assert.equal(T.sameStorage(a, v), true);
    const cc = v.contiguous();
    assert.equal(T.sameStorage(v, cc), false);
    assert.deepEqual(cc.toArray(), [1, 3, 2, 4]);
    const al = a.alias();
    assert.equal(T.sameStorage(a, al), true);
    al.dispose();
    assert.equal(a.disposed, false, 'disposing an alias leaves the original');
    const d = a.detach();
    assert.equal(T.sameStorage(a, d), true);
    assert.equal(a.to('float64').dtype, 'float64');
    assert.equal(a.to(null, 'cpu').dtype, 'float32');
  });
});

test('in-place ops: add_, mul_, div_, addcmul_, addcdiv_, sqrt_, maximum_, copy_, zero_, fill_', () => {
  T.noGrad(() =>
    T.scope(() => {
      const t = T.tensor([1, 4, 9], [3], 'float64');
      const o = T.tensor([1, 1, 2], [3], 'float64');
      assert.equal(t.add_(o, 2), t);
      assert.deepEqual(t.toArray(), [3, 6, 13]);
      t.add_(1);
      assert.deepEqual(t.toArray(), [4, 7, 14]);
      t.mul_(o);
      assert.deepEqual(t.toArray(), [4, 7, 28]);
      t.mul_(0.5).div_(o);
      assert.deepEqual(t.toArray(), [2, 3.5, 7]);
      t.div_(2);
      assert.deepEqual(t.toArray(), [1, 1.75, 3.5]);
      t.addcmul_(o, o, 3);
      assert.deepEqual(t.toArray(), [4, 4.75, 15.5]);
      t.addcdiv_(o, o, -1);
      assert.deepEqual(t.toArray(), [3, 3.75, 14.5]);
      t.copy_(T.tensor([4, 9, 16], [3], 'float64')).sqrt_();
      assert.deepEqual(t.toArray(), [2, 3, 4]);
      t.maximum_(T.tensor([3, 1, 5], [3], 'float64'));
      assert.deepEqual(t.toArray(), [3, 3, 5]);
      t.copy_(T.tensor([1, 2, 3])); // copies across dtypes
      assert.deepEqual(t.toArray(), [1, 2, 3]);
      t.fill_(0.5);
      assert.deepEqual(t.toArray(), [0.5, 0.5, 0.5]);
      t.zero_();
      assert.deepEqual(t.toArray(), [0, 0, 0]);
    }),
  );
});

test('dropout: identity when not training or p = 0, else zeros ~p and scales by 1/(1-p)', () => {
  T.scope(() => {
    const x = T.ones([10000]);
    assert.deepEqual(T.dropout(x, 0.5, false).toArray().slice(0, 3), [1, 1, 1]);
    const y = T.dropout(x, 0.25, true).toArray();
    const zeros = y.filter((v) => v === 0).length / y.length;
    assert.ok(Math.abs(zeros - 0.25) < 0.03, `zero fraction ${zeros}`);
    assert.ok(y.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
  });
});

test('runtime: thread count, engine info, grad mode', () => {
  const n = T.getNumThreads();
  assert.ok(n >= 1);
  T.setNumThreads(1);
  assert.equal(T.getNumThreads(), 1);
  T.setNumThreads(n);
  const info = T.engineInfo();
  assert.match(info.torchVersion, /^\d+\.\d+/);
  assert.equal(info.threads, n);
  assert.equal(typeof info.mkldnn, 'boolean');
  assert.equal(T.isGradEnabled(), true);
  T.noGrad(() => assert.equal(T.isGradEnabled(), false));
  assert.equal(T.isGradEnabled(), true);
  assert.throws(
    () =>
      T.noGrad(() => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(T.isGradEnabled(), true, 'noGrad restores the mode after a throw');
});
