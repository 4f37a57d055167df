import { test } from 'node:test';
import assert from 'node:assert/strict';
import { profileOps, profileTable } from '../../src/bench/profile.js';
import { randn } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';

test('profileOps names a matmul and a gelu with their call counts and times', () => {
  const a = randn([64, 32], { seed: 1 }).keep();
  const b = randn([32, 48], { seed: 2 }).keep();
  try {
    const p = profileOps(() => {
      for (let i = 0; i < 3; i++)
        scope(() => {
          a.matmul(b).gelu();
        });
    });
    const byName = new Map(p.ops.map((o) => [o.name, o]));
    assert.equal(byName.get('aten::matmul')?.calls, 3, `ops seen: ${[...byName.keys()].join(', ')}`);
    assert.equal(byName.get('aten::gelu')?.calls, 3);
    // matmul of 2-d tensors is an mm inside it: nested, so its self time is below its total
    const mm = byName.get('aten::mm');
    assert.equal(mm?.calls, 3);
    const mat = byName.get('aten::matmul')!;
    assert.ok(mat.selfMs <= mat.totalMs && mat.totalMs >= mm!.totalMs, JSON.stringify(mat));
    for (const o of p.ops) assert.ok(o.totalMs >= 0 && o.selfMs >= -1e-6 && o.calls > 0, JSON.stringify(o));
    assert.ok(p.wallMs >= p.ops.reduce((s, o) => s + o.selfMs, 0) - 1e-6, 'self times add up to at most the wall time');
    const table = profileTable(p, 2);
    assert.match(table, /^\| op \| calls \| self ms \| total ms \| share of step \|/);
    assert.match(table, /more ops/);
  } finally {
    a.dispose();
    b.dispose();
  }
});

test('profileOps records nothing after it stops, and a second profile starts empty', () => {
  const a = randn([8, 8], { seed: 1 }).keep();
  try {
    profileOps(() =>
      scope(() => {
        a.matmul(a);
      }),
    );
    scope(() => {
      a.matmul(a);
      a.matmul(a);
    });
    const p = profileOps(() =>
      scope(() => {
        a.gelu();
      }),
    );
    assert.equal(
      p.ops.find((o) => o.name === 'aten::matmul'),
      undefined,
    );
    assert.equal(p.ops.find((o) => o.name === 'aten::gelu')?.calls, 1);
  } finally {
    a.dispose();
  }
});

test('profileOps stops the profiler when the work throws', () => {
  assert.throws(
    () =>
      profileOps(() => {
        throw new Error('boom');
      }),
    /boom/,
  );
  // a profiler left running would make this start fail
  const p = profileOps(() => {});
  assert.equal(p.ops.length, 0);
});

test('profileOps with shapes tells calls of one op apart by their input sizes (bench --profile --shapes)', () => {
  const a = randn([4, 6], { seed: 1 }).keep();
  const b = randn([6, 5], { seed: 2 }).keep();
  const c = randn([5, 3], { seed: 3 }).keep();
  try {
    const p = profileOps(
      () =>
        scope(() => {
          a.matmul(b);
          a.matmul(b);
          a.matmul(b).matmul(c);
        }),
      { shapes: true },
    );
    const mm = p.ops.filter((o) => o.name.startsWith('aten::mm '));
    assert.deepEqual(mm.map((o) => [o.name, o.calls]).sort(), [
      ['aten::mm [4, 5] [5, 3]', 1],
      ['aten::mm [4, 6] [6, 5]', 3],
    ]);
    // without shapes the same work is one row again
    const plain = profileOps(() =>
      scope(() => {
        a.matmul(b).matmul(c);
      }),
    );
    assert.equal(plain.ops.find((o) => o.name === 'aten::mm')?.calls, 2);
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
});
