import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/audio/rng.js';

const moments = (xs: number[]): [number, number] => {
  const m = xs.reduce((s, v) => s + v, 0) / xs.length;
  return [m, xs.reduce((s, v) => s + (v - m) ** 2, 0) / xs.length];
};

test('same seed, same stream; different seeds differ', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const sa = Array.from({ length: 100 }, () => a.uniform());
  assert.deepEqual(
    sa,
    Array.from({ length: 100 }, () => b.uniform()),
  );
  assert.notDeepEqual(
    sa,
    Array.from({ length: 100 }, () => c.uniform()),
  );
  assert.notDeepEqual(
    Array.from({ length: 4 }, () => new Rng(0).nextUint32()),
    [0, 0, 0, 0],
  );
});

test('uniform, randint, normal, beta have the right moments', () => {
  const r = new Rng(7);
  const N = 40000;
  const u = Array.from({ length: N }, () => r.uniform());
  assert.ok(u.every((v) => v >= 0 && v < 1));
  const [um, uv] = moments(u);
  assert.ok(Math.abs(um - 0.5) < 0.01 && Math.abs(uv - 1 / 12) < 0.003);
  const ints = Array.from({ length: N }, () => r.randint(-10, 10));
  assert.equal(Math.min(...ints), -10);
  assert.equal(Math.max(...ints), 9);
  const [nm, nv] = moments(Array.from({ length: N }, () => r.normal()));
  assert.ok(Math.abs(nm) < 0.02 && Math.abs(nv - 1) < 0.03, `normal ${nm} ${nv}`);
  for (const [a, b] of [
    [10, 10],
    [2, 5],
    [0.5, 0.5],
  ]) {
    const [bm, bv] = moments(Array.from({ length: N }, () => r.beta(a, b)));
    const em = a / (a + b);
    const ev = (a * b) / ((a + b) ** 2 * (a + b + 1));
    assert.ok(Math.abs(bm - em) < 0.01 && Math.abs(bv - ev) < 0.1 * ev + 0.001, `beta(${a},${b}) ${bm} ${bv} vs ${em} ${ev}`);
  }
  assert.throws(() => r.randint(3, 3), /randint/);
  assert.throws(() => r.gamma(0), /gamma/);
});
