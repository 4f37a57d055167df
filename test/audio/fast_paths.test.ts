/**
 * The front end's fast paths against their plain forms: the WebAssembly resampling loop against
 * resample.ts's own (identical samples, across chunk boundaries and at the edges), the WebAssembly
 * pair transform and filterbank against fft.ts and kaldi.ts's loops (bit for bit), the table log
 * against Math.log, and fbank's direct reads of the caller's array against its float64 copy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realSpectrum } from '../../src/audio/fft.js';
import { pairSpectrum } from '../../src/audio/fft_wasm.js';
import { fbank, AST_FBANK, type FbankOptions } from '../../src/audio/kaldi.js';
import { LogRow } from '../../src/audio/log_table.js';
import { resample, resampleWith, resampledLength } from '../../src/audio/resample.js';
import { wasmResampler } from '../../src/audio/resample_wasm.js';
import { Rng } from '../../src/audio/rng.js';
import { setWasmKernels } from '../../src/audio/wasm_asm.js';

function noise(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(i * 0.05) + 0.1 * rng.normal());
}

test('the WebAssembly resampler runs in node and gives the samples the JavaScript loop gives', () => {
  assert.ok(wasmResampler(), 'WebAssembly SIMD is available in every supported node: null means the module broke');
  const pairs: [number, number][] = [
    [44100, 16000],
    [48000, 16000],
    [8000, 16000],
    [22050, 16000],
    [16000, 44100],
    [11025, 16000],
    [16000, 8000],
    [44101, 16000],
    [1000, 48000],
  ];
  // lengths: shorter than the filter, one block, and past one 2^18-sample chunk of the wasm loop
  for (const [a, b] of pairs) {
    for (const n of [1, 7, 441, 5000, 300_000]) {
      const x = noise(n, n + a);
      const fast = resample(x, a, b);
      const plain = resampleWith(x, a, b, {}, false);
      assert.equal(fast.length, resampledLength(n, a, b));
      let d = 0;
      for (let i = 0; i < fast.length; i++) d = Math.max(d, Math.abs(fast[i] - plain[i]));
      // both sum in float64 (in another order) and round to float32: at most one float32 step apart
      assert.ok(d <= 6e-8, `${a} -> ${b}, ${n} samples: max diff ${d}`);
    }
  }
});

test('the WebAssembly resampler keeps its options (filter width, rolloff) and a reused instance stays right', () => {
  const x = noise(20_000, 9);
  for (const opts of [{ lowpassFilterWidth: 16, rolloff: 0.85 }, { lowpassFilterWidth: 3 }, {}]) {
    const fast = resampleWith(x, 44100, 16000, opts, true);
    const plain = resampleWith(x, 44100, 16000, opts, false);
    for (let i = 0; i < fast.length; i++) assert.ok(Math.abs(fast[i] - plain[i]) <= 6e-8, `${JSON.stringify(opts)} sample ${i}`);
  }
});

test('LogRow.logInto gives Math.log to float32 over the whole double range, and Math.log itself at the edges', () => {
  const row = new LogRow(64);
  const out = new Float32Array(64);
  const rng = new Rng(4);
  let worst = 0;
  for (let r = 0; r < 200; r++) {
    for (let i = 0; i < 64; i++) row.values[i] = Math.exp((rng.uniform() - 0.5) * 1400);
    row.logInto(out, 0);
    for (let i = 0; i < 64; i++) {
      const want = Math.log(row.values[i]);
      worst = Math.max(worst, Math.abs(out[i] - want) / Math.max(1, Math.abs(want)));
    }
  }
  // float32 rounding alone is 2^-24 relative; the table log adds ~1e-13
  assert.ok(worst <= 2 ** -24 + 1e-12, `worst relative difference ${worst}`);
  const edges = [0, -1, Infinity, NaN, 5e-324, 1e-310, 1, 2, 0.5, 1.1920928955078125e-7];
  edges.forEach((v, i) => {
    row.values[i] = v;
  });
  row.logInto(out, 0);
  edges.forEach((v, i) => {
    assert.ok(Object.is(out[i], Math.fround(Math.log(v))), `log(${v}) = ${out[i]}, Math.log ${Math.log(v)}`);
  });
});

test('fbank reads Float32Array, Float64Array and plain arrays alike', () => {
  const x = noise(16000, 2);
  const a = fbank(x, AST_FBANK);
  const b = fbank(Float64Array.from(x), AST_FBANK);
  const c = fbank(Array.from(x), AST_FBANK);
  assert.deepEqual(b.data, a.data);
  assert.deepEqual(c.data, a.data);
  const edges = { ...AST_FBANK, snipEdges: false };
  assert.deepEqual(fbank(Array.from(x), edges).data, fbank(x, edges).data);
});

test("the WebAssembly pair transform gives fft.ts's power spectra bit for bit, in both lanes", () => {
  const rng = new Rng(8);
  const bank = { bins: 1, start: Int32Array.of(0), end: Int32Array.of(1), offset: Int32Array.of(0), weights: Float64Array.of(1) };
  for (const n of [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]) {
    const pair = pairSpectrum(n, bank, new Float64Array(n / 2), n);
    assert.ok(pair, `size ${n}`);
    const a = Float64Array.from({ length: n }, () => rng.normal());
    const b = Float64Array.from({ length: n }, () => rng.normal() * 1e-3);
    for (let t = 0; t < n; t++) {
      pair.x[2 * t] = a[t];
      pair.x[2 * t + 1] = b[t];
    }
    pair.power();
    const pa = new Float64Array(n / 2 + 1);
    const pb = new Float64Array(n / 2 + 1);
    realSpectrum(n).power(a, pa);
    realSpectrum(n).power(b, pb);
    for (let k = 0; k <= n / 2; k++) {
      assert.equal(pair.pw[2 * k], pa[k], `n=${n} lane 0 bin ${k}`);
      assert.equal(pair.pw[2 * k + 1], pb[k], `n=${n} lane 1 bin ${k}`);
    }
  }
  assert.equal(pairSpectrum(400, bank, new Float64Array(400), 400), null, 'not a power of two: fft.ts handles it');
});

test('fbank gives the same features with and without its WebAssembly kernels, for every option set', () => {
  const x = noise(16000 * 2 + 77, 6);
  const cases: FbankOptions[] = [
    {},
    AST_FBANK,
    { useEnergy: true },
    { useEnergy: true, htkCompat: true, rawEnergy: false },
    { useLogFbank: false },
    { usePower: false },
    { snipEdges: false },
    { removeDcOffset: false, windowType: 'hamming' },
    { roundToPowerOfTwo: false },
    { subtractMean: true },
    { windowType: 'blackman', numMelBins: 40, lowFreq: 100, highFreq: -400 },
    { sampleFrequency: 8000 },
    { frameLength: 64, numMelBins: 64 },
  ];
  const silence = new Float32Array(4000);
  for (const c of cases) {
    for (const w of [x, x.subarray(0, 1024 + 160 * 2), silence]) {
      const fast = fbank(w, c);
      setWasmKernels(false);
      try {
        const plain = fbank(w, c);
        assert.deepEqual(fast, plain, JSON.stringify(c));
      } finally {
        setWasmKernels(true);
      }
    }
  }
  // dither draws the same noise in the same order either way
  const d1 = fbank(x, { dither: 0.5, rng: new Rng(3) });
  setWasmKernels(false);
  try {
    assert.deepEqual(d1, fbank(x, { dither: 0.5, rng: new Rng(3) }));
  } finally {
    setWasmKernels(true);
  }
});
