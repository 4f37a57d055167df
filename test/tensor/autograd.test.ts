import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { Linear } from '../../src/nn/index.js';

test('requiresGrad, backward, grad, accumulation and reset', () => {
  T.scope(() => {
    const x = T.tensor([1, 2, 3], [3], 'float64');
    assert.equal(x.requiresGrad, false);
    x.requiresGrad = true;
    assert.equal(x.requiresGrad, true);
    assert.equal(x.isLeaf, true);
    assert.equal(x.grad, null);
    const y = x.mul(x).sum(); // d/dx = 2x
    assert.equal(y.isLeaf, false);
    assert.equal(y.requiresGrad, true);
    y.backward();
    assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
    x.mul(3).sum().backward(); // accumulates
    assert.deepEqual(x.grad!.toArray(), [5, 7, 9]);
    x.grad = null;
    assert.equal(x.grad, null);
    x.grad = T.tensor([1, 1, 1], [3], 'float64');
    assert.deepEqual(x.grad!.toArray(), [1, 1, 1]);
  });
});

test('backward of a non-scalar needs a gradient; retainGraph allows a second pass', () => {
  T.scope(() => {
    const x = T.tensor([1, 2], [2], 'float64').requiresGrad_();
    const y = x.mul(x); // saves its inputs for backward
    assert.throws(() => y.backward(), /backward.*grad can be implicitly created only for scalar outputs/);
    y.backward(T.tensor([1, 10], [2], 'float64'), true);
    assert.deepEqual(x.grad!.toArray(), [2, 40]);
    y.backward(T.tensor([1, 1], [2], 'float64'));
    assert.deepEqual(x.grad!.toArray(), [4, 44]);
    assert.throws(() => y.backward(T.tensor([1, 1], [2], 'float64')), /backward.*(second time|already been freed)/);
  });
});

test('detach cuts the graph; noGrad records none', () => {
  T.scope(() => {
    const x = T.tensor([1, 2], [2], 'float64').requiresGrad_();
    const d = x.detach();
    assert.equal(d.requiresGrad, false);
    assert.equal(T.sameStorage(x, d), true);
    const z = x.mul(d).sum(); // only the x factor is differentiated
    z.backward();
    assert.deepEqual(x.grad!.toArray(), [1, 2]);
    const n = T.noGrad(() => x.mul(2).add(1));
    assert.equal(n.requiresGrad, false);
    assert.equal(n.isLeaf, true, 'nothing recorded: a result made under noGrad is a leaf');
    assert.throws(() => n.sum().backward(), /does not require grad/);
  });
});

test('frozen tensors get no gradient, trainable ones do; the input gradient still flows', () => {
  T.scope(() => {
    const frozen = new Linear(4, 3, { seed: 1 });
    const head = new Linear(3, 2, { seed: 2 });
    frozen.freeze();
    const x = T.randn([5, 4], { seed: 3 }).requiresGrad_();
    head.forward(frozen.forward(x).relu()).sum().backward();
    assert.equal(frozen.weight.grad, null);
    assert.equal(frozen.bias!.grad, null);
    assert.notEqual(head.weight.grad, null);
    assert.notEqual(head.bias!.grad, null);
    assert.deepEqual(x.grad!.shape, [5, 4]);
    frozen.dispose();
    head.dispose();
  });
});

test('requiresGrad on a non-float tensor is an Error, not a crash', () => {
  T.scope(() => {
    const i = T.tensor([1, 2], [2], 'int64');
    assert.throws(() => {
      i.requiresGrad = true;
    }, /requiresGrad: .*floating point/);
    assert.throws(() => i.requiresGrad_(), /requiresGrad_.*floating point/);
  });
});

test('scope disposes intermediates and keeps what is returned or kept', () => {
  let inner: T.Tensor[] = [];
  let kept!: T.Tensor;
  const depth = T.scopeDepth();
  const out = T.scope(() => {
    assert.equal(T.scopeDepth(), depth + 1);
    const a = T.ones([2]);
    const b = a.add(1);
    kept = T.zeros([1]).keep();
    inner = [a, b];
    return { sum: b.mul(2), list: [a.mul(3)], map: new Map([['m', b.sub(1)]]) };
  });
  assert.equal(T.scopeDepth(), depth);
  assert.ok(inner.every((t) => t.disposed));
  assert.equal(kept.disposed, false);
  assert.equal(kept.kept, true);
  assert.deepEqual(out.sum.toArray(), [4, 4]);
  assert.deepEqual(out.list[0].toArray(), [3, 3]);
  assert.deepEqual(out.map.get('m')!.toArray(), [1, 1]);
  for (const t of [out.sum, out.list[0], out.map.get('m')!, kept]) t.dispose();
  assert.equal(kept.disposed, true);
});

test('nested scopes hand returned tensors to the parent, which disposes them in turn', () => {
  let fromInner!: T.Tensor;
  T.scope(() => {
    fromInner = T.scope(() => T.ones([3]).mul(2));
    assert.equal(fromInner.disposed, false);
  });
  assert.equal(fromInner.disposed, true);
});

test('a throwing scope disposes everything it made; a Promise-returning one is refused', () => {
  let made!: T.Tensor;
  assert.throws(
    () =>
      T.scope(() => {
        made = T.ones([2]);
        throw new Error('inside');
      }),
    /inside/,
  );
  assert.equal(made.disposed, true);
  let leaked!: T.Tensor;
  assert.throws(
    () =>
      T.scope(() => {
        leaked = T.ones([1]);
        return Promise.resolve(1);
      }),
    /scope: the function returned a Promise/,
  );
  assert.equal(leaked.disposed, true);
});

test('grad handles are scoped; disposing a handle does not free the gradient', () => {
  const x = T.tensor([1, 2]).keep().requiresGrad_();
  T.scope(() => x.mul(x).sum().backward());
  const g = T.scope(() => {
    const h = x.grad!;
    h.dispose();
    return x.grad!.toArray();
  });
  assert.deepEqual(g, [2, 4]);
  x.dispose();
});
