/**
 * The front end's reused buffers against the fresh-array forms they replace: `resampleInto` against
 * `resample`, fbank's `rows` against `padOrCrop` of the whole, and `features()` (its waveform in a
 * scratch array kept from clip to clip, its normalisation in place) against the public steps
 * chained, bit for bit, clip after clip, with earlier results left untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { astFbankOfWaveform, astSpec, astWaveform, features, normalize, padOrCrop, samplesForFrames } from '../../src/audio/frontend.js';
import { AST_FBANK, fbank, type FbankOptions } from '../../src/audio/kaldi.js';
import { resample, resampleInto, resampleWith } from '../../src/audio/resample.js';
import { Rng } from '../../src/audio/rng.js';
import { toMono } from '../../src/audio/types.js';
import { setWasmKernels } from '../../src/audio/wasm_asm.js';

function noise(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(i * 0.05) + 0.1 * rng.normal());
}

function withKernels(on: boolean, fn: () => void): void {
  setWasmKernels(on);
  try {
    fn();
  } finally {
    setWasmKernels(true);
  }
}

test('resampleInto writes what resample returns into the given array, with either loop', () => {
  for (const wasm of [true, false]) {
    withKernels(wasm, () => {
      const out = new Float32Array(200_000).fill(7);
      for (const [a, b, n] of [
        [44100, 16000, 50_000],
        [8000, 16000, 3000],
        [16000, 16000, 4000],
        [48000, 16000, 1],
      ] as const) {
        const x = noise(n, a + n);
        const got = resampleInto(x, a, b, out);
        assert.equal(got.buffer, out.buffer, 'a view of the given array');
        assert.deepEqual(got, resampleWith(x, a, b, {}, wasm), `${a} -> ${b}, ${n} samples, wasm ${wasm}`);
      }
    });
  }
  assert.throws(
    () => resampleInto(noise(4410, 1), 44100, 16000, new Float32Array(1599)),
    /resample: the output holds 1599 samples, 1600 are needed/,
  );
});

test('the WebAssembly resampler lays out a rate pair once and stays right when the pair changes between clips', () => {
  const x = noise(30_000, 3);
  const want = new Map([44100, 48000, 22050].map((r) => [r, resampleWith(x, r, 16000, {}, false)]));
  for (const r of [44100, 44100, 48000, 44100, 22050, 48000, 48000, 44100]) {
    const got = resample(x, r, 16000);
    const ref = want.get(r)!;
    let d = 0;
    for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - ref[i]));
    assert.ok(got.length === ref.length && d <= 6e-8, `${r} -> 16000: max diff ${d}`);
  }
});

test('fbank with rows gives padOrCrop of the whole spectrogram, bit for bit, computing only the kept frames', () => {
  const wave = noise(16000, 5); // 98 frames
  const cases: [string, FbankOptions][] = [
    ['AST', { ...AST_FBANK }],
    ['subtractMean', { ...AST_FBANK, subtractMean: true }],
    ['energy', { useEnergy: true, numMelBins: 23 }],
  ];
  for (const wasm of [true, false]) {
    withKernels(wasm, () => {
      for (const [name, opts] of cases) {
        const whole = fbank(wave, opts);
        for (const rows of [1, 50, 97, 98, 99, 300]) {
          assert.deepEqual(fbank(wave, opts, rows), padOrCrop(whole, rows), `${name}, ${rows} rows, wasm ${wasm}`);
        }
      }
      // dither: the kept frames draw the same noise
      const dithered = (rows?: number) => fbank(wave, { ...AST_FBANK, dither: 0.5, rng: new Rng(11) }, rows);
      assert.deepEqual(dithered(40), padOrCrop(dithered(), 40));
    });
  }
  assert.throws(() => fbank(wave, AST_FBANK, 0), /fbank: rows must be a positive integer, got 0/);
});

test('features() on clip after clip equals the public steps chained, and never changes a result it returned', () => {
  const clips = [
    { sampleRate: 44100, channels: [noise(44100 * 2, 1)] },
    { sampleRate: 16000, channels: [noise(16000, 2)] },
    { sampleRate: 48000, channels: [noise(48000, 3), noise(48000, 4)] },
    { sampleRate: 8000, channels: [noise(8000 * 3, 5)] },
    { sampleRate: 44100, channels: [noise(44100 * 2, 6)] },
  ];
  const specs = [astSpec(), astSpec({ targetLength: 150 }), astSpec({ targetLength: 40, mean: -6.6268077, std: 5.358466 })];
  for (const wasm of [true, false]) {
    withKernels(wasm, () => {
      const results: { got: Float32Array; copy: Float32Array; want: Float32Array; name: string }[] = [];
      for (const spec of specs) {
        for (const [i, audio] of clips.entries()) {
          const got = features(audio, spec);
          let mono = toMono(audio);
          if (spec.targetLength > 0) mono = mono.subarray(0, samplesForFrames(spec.targetLength, audio.sampleRate, 16000));
          let want = astFbankOfWaveform(astWaveform(mono, audio.sampleRate));
          if (spec.targetLength > 0) want = padOrCrop(want, spec.targetLength);
          if (spec.mean !== undefined && spec.std !== undefined) want = normalize(want, spec.mean, spec.std);
          const name = `clip ${i}, ${JSON.stringify(spec)}, wasm ${wasm}`;
          assert.equal(got.frames, want.frames, name);
          assert.deepEqual(got.data, want.data, name);
          results.push({ got: got.data, copy: got.data.slice(), want: want.data, name });
        }
      }
      for (const r of results) assert.deepEqual(r.got, r.copy, `${r.name}: changed by a later clip`);
    });
  }
});
