/**
 * The fp32 GEMM kernels (native/gemm.cc) against libtorch's own: products, linear and matmul forward
 * and backward on strided operands, autocast staying libtorch's; and the per-machine choice
 * (src/tensor/gemm.ts): cache, corrupt and foreign caches, LOAA_GEMM, a missing BLAS library.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import {
  chooseGemm,
  gemmCacheKey,
  gemmCachePath,
  GEMM_CACHE_ENTRIES,
  gemmKernels,
  GEMM_KERNELS,
  gemmMm,
  resetGemmChoice,
  setGemm,
  type GemmKernel,
} from '../../src/tensor/gemm.js';

const avail = gemmKernels();
const others = GEMM_KERNELS.filter((k) => k !== 'torch');

/** max |a - b| over max(1, max |b|): fp32 products of length <= 300 agree to ~1e-6 of their scale. */
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

for (const k of others) {
  const why = avail[k];
  test(`gemm ${k}: products equal libtorch's on contiguous, transposed and sliced operands, with a bias`, {
    skip: why ? `${k} unavailable here: ${why}` : false,
  }, () => {
    T.scope(() => {
      const a = T.randn([37, 53], { seed: 1 });
      const b = T.randn([53, 29], { seed: 2 });
      const bias = T.randn([29], { seed: 3 });
      const aT = T.randn([53, 37], { seed: 4 }).transpose(0, 1); // column-major view
      const bT = T.randn([29, 53], { seed: 5 }).transpose(0, 1);
      const aS = T.randn([37, 80], { seed: 6 }).narrow(1, 10, 53); // row stride 80
      const aStep = T.randn([74, 106], { seed: 7 }).slice(0, 0, 74, 2).slice(1, 0, 106, 2); // no unit stride
      for (const [name, x, y] of [
        ['contiguous', a, b],
        ['transposed a', aT, b],
        ['transposed b', a, bT],
        ['both transposed', aT, bT],
        ['row stride', aS, b],
        ['no unit stride', aStep, b],
      ] as const) {
        assertClose(gemmMm(k, x, y), x.matmul(y), `${k} ${name}`);
        assertClose(gemmMm(k, x, y, bias), x.matmul(y).add(bias), `${k} ${name} + bias`);
      }
      // the model's layout: a weight [N, K] used transposed, over many rows
      const x = T.randn([300, 192], { seed: 8 });
      const w = T.randn([96, 192], { seed: 9 });
      const b96 = T.randn([96], { seed: 10 });
      assertClose(gemmMm(k, x, w.transpose(0, 1), b96), T.linear(x, w, b96), `${k} linear layout`);
    });
  });

  test(`gemm ${k}: linear and matmul forward and backward equal libtorch's`, {
    skip: why ? `${k} unavailable here: ${why}` : false,
  }, () => {
    T.scope(() => {
      const run = (kernel: GemmKernel): Tensor[] =>
        withKernel(kernel, () => {
          // x as a permuted (non-contiguous) [2, 5, 7], w as a transposed view of a [7, 3] leaf
          const x = T.randn([5, 2, 7], { seed: 11 }).requiresGrad_();
          const wBase = T.randn([7, 3], { seed: 12 }).requiresGrad_();
          const b = T.randn([3], { seed: 13 }).requiresGrad_();
          const m = T.randn([7, 4], { seed: 14 }).requiresGrad_();
          const xp = x.permute(1, 0, 2);
          const y = T.linear(xp, wBase.transpose(0, 1), b);
          const z = xp.matmul(m);
          const R = T.randn(y.shape, { seed: 15 });
          const S = T.randn(z.shape, { seed: 16 });
          y.mul(R).sum().add(z.mul(S).sum()).backward();
          // a frozen weight: only the input's gradient
          const x2 = T.randn([4, 7], { seed: 17 }).requiresGrad_();
          const frozen = T.randn([6, 7], { seed: 18 });
          T.linear(x2, frozen)
            .mul(T.randn([4, 6], { seed: 19 }))
            .sum()
            .backward();
          return [y, z, x.grad!, wBase.grad!, b.grad!, m.grad!, x2.grad!, T.noGrad(() => T.linear(x2, frozen, null))];
        });
      const ref = run('torch');
      const got = run(k);
      const names = ['linear y', 'matmul z', 'dx', 'dw', 'db', 'dm', 'dx (frozen w)', 'no-grad linear'];
      names.forEach((n, i) => {
        assertClose(got[i], ref[i], `${k} ${n}`);
      });
    });
  });

  test(`gemm ${k}: under bf16 autocast linear stays libtorch's (bf16 out)`, { skip: why ? `${k} unavailable here: ${why}` : false }, () => {
    T.scope(() =>
      withKernel(k, () => {
        const x = T.randn([8, 16], { seed: 21 });
        const w = T.randn([4, 16], { seed: 22 });
        const y = T.autocast('cpu', 'bfloat16', () => T.linear(x, w, null));
        assert.equal(y.dtype, 'bfloat16');
        assert.equal(T.linear(x, w, null).dtype, 'float32');
      }),
    );
  });
}

test('linear of one row through every kernel leaves its bias as it was (batch-1 inference, a last batch of one)', () => {
  for (const k of GEMM_KERNELS.filter((n) => avail[n] === '')) {
    T.scope(() =>
      withKernel(k, () => {
        const w = T.randn([5, 16], { seed: 31 });
        const b = T.randn([5], { seed: 32 });
        const before = b.toArray();
        const x = T.randn([1, 16], { seed: 33 });
        const y1 = T.noGrad(() => T.linear(x, w, b)).toArray();
        const y2 = T.noGrad(() => T.linear(x, w, b)).toArray();
        // through autograd (training's path): a last batch of one
        const xg = T.randn([1, 16], { seed: 34 }).requiresGrad_();
        T.linear(xg, w, b).sum().backward();
        assert.deepEqual(b.toArray(), before, `${k}: the bias changed`);
        assert.deepEqual(y2, y1, `${k}: a second forward differs`);
        const want = T.noGrad(() => withKernel('torch', () => T.linear(x, w, b))).toArray();
        for (const [i, v] of y1.entries()) assert.ok(Math.abs(v - want[i]!) < 1e-5, `${k}: y[${i}] ${v} vs ${want[i]}`);
      }),
    );
  }
});

const tiny = { shapes: [[48, 32, 40]] as [number, number, number][], reps: 1 };

test('gemm choice: measured once, cached, and read back; corrupt and foreign caches are ignored with a warning', () => {
  const home = mkdtempSync(join(tmpdir(), 'loaa-gemm-'));
  try {
    const warnings: string[] = [];
    const warn = (l: string): void => {
      warnings.push(l);
    };
    resetGemmChoice();
    const first = chooseGemm({ env: {}, home, warn, ...tiny });
    assert.equal(first.source, 'measured');
    assert.deepEqual(warnings, []);
    for (const k of GEMM_KERNELS) if (avail[k] === '') assert.ok(first.rates[k]! > 0, `${k} measured`);
    assert.equal(T.activeGemm(), first.kernel);
    const path = gemmCachePath(home);
    const key = gemmCacheKey();
    const file = JSON.parse(readFileSync(path, 'utf8'));
    assert.deepEqual([file.format, file.version, Object.keys(file.entries)], ['loaa-gemm-choice', 2, [key]]);
    assert.equal(file.entries[key].kernel, first.kernel);

    // a fabricated cache for this machine decides without measuring
    resetGemmChoice();
    writeFileSync(path, JSON.stringify({ ...file, entries: { [key]: { kernel: 'torch', rates: { torch: 12345 } } } }));
    const cached = chooseGemm({ env: {}, home, warn, ...tiny });
    assert.deepEqual([cached.source, cached.kernel, cached.gflops], ['cache', 'torch', 12345]);
    assert.deepEqual(warnings, []);

    resetGemmChoice();
    writeFileSync(path, '{"format": "loaa-gemm-choice", "vers');
    assert.equal(chooseGemm({ env: {}, home, warn, ...tiny }).source, 'measured');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /gemm-choice\.json: ignored/);

    // another program's JSON, and an entry that is not a measurement: ignored with a warning each
    for (const foreign of [
      { format: 'something-else', version: 2, entries: {} },
      { ...file, entries: { [key]: { kernel: 'mkl', rates: {} } } },
    ]) {
      resetGemmChoice();
      writeFileSync(path, JSON.stringify(foreign));
      assert.equal(chooseGemm({ env: {}, home, warn, ...tiny }).source, 'measured');
      assert.match(warnings.at(-1)!, /gemm-choice\.json: ignored, not a GEMM choice file; measuring the GEMM kernels again/);
    }
    assert.equal(warnings.length, 3);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(path, 'utf8')).entries), [key], 'rewritten with this setup only');
  } finally {
    resetGemmChoice();
    rmSync(home, { recursive: true, force: true });
  }
});

test('gemm choice: setups coexist in one cache (v2), a version-1 file is read as one entry, the newest 16 are kept', () => {
  const home = mkdtempSync(join(tmpdir(), 'loaa-gemm-'));
  try {
    const warn = (l: string): void => assert.fail(`no warning expected: ${l}`);
    const path = gemmCachePath(home);
    const key = gemmCacheKey();
    const other = 'Some Other CPU | flags 0 | libtorch 1.13.0 | 64 threads';
    // a version-1 file of another setup: kept beside this setup's new measurement
    writeFileSync(path, JSON.stringify({ format: 'loaa-gemm-choice', version: 1, key: other, kernel: 'blis', rates: { blis: 7 } }));
    resetGemmChoice();
    assert.equal(chooseGemm({ env: {}, home, warn, ...tiny }).source, 'measured');
    const file = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(file.version, 2);
    assert.deepEqual(Object.keys(file.entries), [other, key]);
    assert.deepEqual(file.entries[other], { kernel: 'blis', rates: { blis: 7 } });
    // a version-1 file of this setup decides without measuring
    writeFileSync(path, JSON.stringify({ format: 'loaa-gemm-choice', version: 1, key, kernel: 'torch', rates: { torch: 54321 } }));
    resetGemmChoice();
    assert.deepEqual((({ source, kernel, gflops }) => [source, kernel, gflops])(chooseGemm({ env: {}, home, warn, ...tiny })), [
      'cache',
      'torch',
      54321,
    ]);
    // full of other setups: this one's measurement is added and the oldest goes
    const many = Object.fromEntries(
      Array.from({ length: GEMM_CACHE_ENTRIES }, (_, i) => [`setup ${i}`, { kernel: 'torch', rates: { torch: i + 1 } }]),
    );
    writeFileSync(path, JSON.stringify({ format: 'loaa-gemm-choice', version: 2, entries: many }));
    resetGemmChoice();
    assert.equal(chooseGemm({ env: {}, home, warn, ...tiny }).source, 'measured');
    const keys = Object.keys(JSON.parse(readFileSync(path, 'utf8')).entries);
    assert.equal(keys.length, GEMM_CACHE_ENTRIES);
    assert.deepEqual([keys[0], keys.at(-1)], ['setup 1', key]);
  } finally {
    resetGemmChoice();
    rmSync(home, { recursive: true, force: true });
  }
});

test('gemm choice: LOAA_GEMM forces a kernel; a bad name is an Error naming LOAA_GEMM', () => {
  const home = mkdtempSync(join(tmpdir(), 'loaa-gemm-'));
  try {
    for (const k of GEMM_KERNELS.filter((n) => avail[n] === '')) {
      resetGemmChoice();
      const c = chooseGemm({ env: { LOAA_GEMM: k }, home, warn: () => assert.fail('no warning'), ...tiny });
      assert.deepEqual([c.kernel, c.source, T.activeGemm()], [k, 'forced', k]);
      assert.ok(c.gflops! > 0);
    }
    resetGemmChoice();
    assert.throws(
      () => chooseGemm({ env: { LOAA_GEMM: 'mkl' }, home, ...tiny }),
      /^Error: LOAA_GEMM: must be torch, onednn, openblas, blis, not "mkl"/,
    );
  } finally {
    resetGemmChoice();
    rmSync(home, { recursive: true, force: true });
  }
});

test('gemm choice: a missing BLAS library makes its kernel unavailable; forcing it falls back with one line', () => {
  // the library loads once per process, so a child process sees the missing file
  const home = mkdtempSync(join(tmpdir(), 'loaa-gemm-'));
  try {
    const mod = fileURLToPath(new URL('../../src/tensor/gemm.js', import.meta.url));
    const script = `import(${JSON.stringify(mod)}).then((g) => {
      const c = g.chooseGemm({ shapes: [[48, 32, 40]], reps: 1 });
      process.stdout.write(JSON.stringify({ kernels: g.gemmKernels(), choice: c }));
    });`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, LOAA_HOME: home, LOAA_GEMM: 'blis', LOAA_GEMM_LIB_BLIS: '/nonexistent/libblis.so.4' },
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.match(out.kernels.blis, /nonexistent\/libblis\.so\.4/);
    assert.notEqual(out.choice.kernel, 'blis');
    assert.equal(out.choice.source, 'measured');
    assert.equal(out.choice.rates.blis, undefined);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^LOAA_GEMM=blis: unavailable \(.*nonexistent\/libblis\.so\.4.*\); choosing the GEMM kernel by measurement$/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('LOAA_GEMM set when the addon loads routes linear through that kernel without chooseGemm', {
  skip: avail.openblas ? `openblas unavailable here: ${avail.openblas}` : false,
}, () => {
  const mod = fileURLToPath(new URL('../../src/tensor/gemm.js', import.meta.url));
  const script = `import(${JSON.stringify(mod)}).then((g) => process.stdout.write(g.activeGemm()));`;
  for (const [env, want] of [
    ['openblas', 'openblas'],
    ['nope', 'torch'],
  ]) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, LOAA_GEMM: env },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, want, `LOAA_GEMM=${env}`);
  }
});

test('the engine line names the kernel and its measured GFLOP/s, with the others measured', async () => {
  const { describeGemm } = await import('../../src/tensor/gemm.js');
  assert.equal(
    describeGemm({ kernel: 'onednn', gflops: 139.4, rates: { torch: 90.2, onednn: 139.4, openblas: 176 }, source: 'measured' }),
    'fp32 GEMM onednn 139 GFLOP/s (measured; torch 90, openblas 176)',
  );
  assert.equal(describeGemm({ kernel: 'torch', gflops: null, rates: {}, source: 'forced' }), 'fp32 GEMM torch (forced)');
});
