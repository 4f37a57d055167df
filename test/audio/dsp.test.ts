/** FFT, fbank options that no fixture can pin (dither), padding, normalisation and statistics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realSpectrum } from '../../src/audio/fft.js';
import { EPSILON, fbank, frameLayout, numFrames } from '../../src/audio/kaldi.js';
import { kaldiMelBanks } from '../../src/audio/mel_bank.js';
import { clipStats, NORM_STATS, normalize, normStats, padEdgeOrCrop, padOrCrop } from '../../src/audio/frontend.js';
import { epicLogMel } from '../../src/audio/epic.js';
import { resample, resampledLength } from '../../src/audio/resample.js';
import { Rng } from '../../src/audio/rng.js';
import type { Spectrogram } from '../../src/audio/types.js';

function naivePower(x: Float64Array): Float64Array {
  const n = x.length;
  const out = new Float64Array((n >> 1) + 1);
  for (let k = 0; k < out.length; k++) {
    let re = 0;
    let im = 0;
    for (let t = 0; t < n; t++) {
      re += x[t] * Math.cos((2 * Math.PI * k * t) / n);
      im -= x[t] * Math.sin((2 * Math.PI * k * t) / n);
    }
    out[k] = re * re + im * im;
  }
  return out;
}

test('real power spectrum equals the DFT for power-of-two and other sizes', () => {
  const rng = new Rng(3);
  for (const n of [2, 3, 4, 6, 8, 200, 256, 400, 441, 512, 1102, 1200]) {
    const x = Float64Array.from({ length: n }, () => rng.normal());
    const want = naivePower(x);
    const got = new Float64Array(want.length);
    realSpectrum(n).power(x, got);
    const scale = Math.max(...want);
    for (let k = 0; k < want.length; k++) assert.ok(Math.abs(got[k] - want[k]) <= 1e-9 * scale, `n=${n} k=${k}: ${got[k]} vs ${want[k]}`);
  }
});

test('dither adds seeded Gaussian noise of the given std (statistical check)', () => {
  const x = new Float32Array(16000); // silence: all energy comes from the dither
  const opts = {
    dither: 0.5,
    removeDcOffset: false,
    preemphasisCoefficient: 0,
    windowType: 'rectangular' as const,
    useLogFbank: false,
    numMelBins: 23,
    roundToPowerOfTwo: true,
  };
  const a = fbank(x, { ...opts, rng: new Rng(1) });
  const b = fbank(x, { ...opts, rng: new Rng(1) });
  const c = fbank(x, { ...opts, rng: new Rng(2) });
  assert.deepEqual(a.data, b.data, 'same seed, same features');
  assert.notDeepEqual(a.data, c.data);
  // E|X_k|^2 = windowSize * sigma^2 for white noise in a 400-sample frame zero-padded to 512
  const { windowSize, paddedSize } = frameLayout({ sampleFrequency: 16000, frameLength: 25, frameShift: 10, roundToPowerOfTwo: true });
  const filters = kaldiMelBanks(23, paddedSize, 16000, 20, 0);
  for (let bin = 0; bin < 23; bin++) {
    const wsum = filters[bin].weights.reduce((s, v) => s + v, 0);
    let m = 0;
    for (let f = 0; f < a.frames; f++) m += a.data[f * a.bins + bin];
    m /= a.frames;
    const want = windowSize * 0.25 * wsum;
    assert.ok(Math.abs(m / want - 1) < 0.15, `bin ${bin}: mean ${m} vs ${want}`);
  }
  assert.throws(() => fbank(x, { dither: 1 }), /dither needs a seeded rng/);
});

test('fbank rejects impossible settings with a message', () => {
  const x = new Float32Array(1000);
  assert.throws(() => fbank(x.subarray(0, 100)), /must be in \[2, 100\]/);
  assert.throws(() => fbank(x, { windowType: 'kaiser' as never }), /unknown windowType/);
  assert.throws(() => fbank(x, { numMelBins: 3 }), /numMelBins/);
  assert.throws(() => fbank(x, { frameShift: 0.01 }), /less than one sample/);
  assert.throws(() => fbank(x, { roundToPowerOfTwo: false, frameLength: 25.0625 }), /must be even/);
  assert.throws(() => fbank(x, { highFreq: 9000 }), /bad lowFreq/);
  assert.throws(() => fbank(x, { vtlnWarp: 0.9 }), /VTLN/);
  assert.throws(() => fbank(x, { preemphasisCoefficient: 1.5 }), /preemphasis/);
  // silence floors at log(epsilon)
  const s = fbank(x, { dither: 0 });
  assert.ok(s.data.every((v) => Math.abs(v - Math.log(EPSILON)) < 1e-6));
  assert.equal(numFrames(1000, 400, 160, true), 4);
  assert.equal(numFrames(1000, 400, 160, false), 6);
});

function spec(frames: number, bins: number): Spectrogram {
  return { data: Float32Array.from({ length: frames * bins }, (_, i) => i + 1), frames, bins };
}

test('padOrCrop pads zeros at the end or keeps the first frames; padEdgeOrCrop repeats the last frame', () => {
  const s = spec(3, 2);
  assert.deepEqual(Array.from(padOrCrop(s, 5).data), [1, 2, 3, 4, 5, 6, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(padOrCrop(s, 2).data), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(padEdgeOrCrop(s, 5).data), [1, 2, 3, 4, 5, 6, 5, 6, 5, 6]);
  assert.deepEqual(Array.from(padEdgeOrCrop(s, 1).data), [1, 2]);
  assert.throws(() => padOrCrop(s, 0), /targetLength/);
});

test('normalize is (x - mean) / (2 std), and the AST stats constants are the published ones', () => {
  const n = normalize(spec(1, 3), 2, 0.5);
  assert.deepEqual(Array.from(n.data), [-1, 0, 1]);
  assert.deepEqual(NORM_STATS.esc50, { mean: -6.6268077, std: 5.358466 });
  assert.deepEqual(NORM_STATS.speechcommands, { mean: -6.845978, std: 5.5654526 });
  assert.deepEqual(NORM_STATS.audioset, { mean: -4.2677393, std: 4.5689974 });
  assert.throws(() => normalize(spec(1, 3), 0, 0), /std must be positive/);
});

test('normStats averages per-clip means and per-clip (unbiased) stds, as AST get_norm_stats', () => {
  const a: Spectrogram = { data: Float32Array.from([1, 2, 3, 4]), frames: 2, bins: 2 };
  const b: Spectrogram = { data: Float32Array.from([10, 10, 10, 14]), frames: 2, bins: 2 };
  const sa = clipStats(a.data);
  assert.equal(sa.mean, 2.5);
  assert.ok(Math.abs(sa.std - Math.sqrt(5 / 3)) < 1e-12);
  const r = normStats([a, b]);
  assert.equal(r.mean, (2.5 + 11) / 2);
  assert.ok(Math.abs(r.std - (Math.sqrt(5 / 3) + Math.sqrt(12 / 3)) / 2) < 1e-12);
  // not the pooled statistics
  const pooled = clipStats(Float32Array.from([...a.data, ...b.data]));
  assert.notEqual(r.std, pooled.std);
  assert.throws(() => normStats([]), /no clips/);
});

test('EPIC-SOUNDS front end crops long clips to 400 frames and edge-pads short ones', () => {
  const rng = new Rng(5);
  const x = Float32Array.from({ length: 24000 * 3 }, () => rng.normal() * 0.1);
  const full = epicLogMel(x, { numFrames: 0 });
  assert.equal(full.frames, 1 + Math.floor(x.length / 120));
  const cropped = epicLogMel(x);
  assert.equal(cropped.frames, 400);
  assert.deepEqual(cropped.data, full.data.subarray(0, 400 * 128));
  const short = epicLogMel(x.subarray(0, 1200));
  assert.equal(short.frames, 400);
  const last = short.data.subarray(10 * 128, 11 * 128);
  for (let f = 11; f < 400; f++) assert.deepEqual(short.data.subarray(f * 128, (f + 1) * 128), last);
  const reflect = epicLogMel(x.subarray(0, 1200), { padMode: 'reflect' });
  assert.notDeepEqual(reflect.data.subarray(0, 128), short.data.subarray(0, 128));
  assert.deepEqual(reflect.data.subarray(5 * 128, 6 * 128), short.data.subarray(5 * 128, 6 * 128), 'interior frames agree');
});

test('resample: identity at equal rates, torchaudio output lengths, bad rates rejected', () => {
  const x = Float32Array.from([0.1, 0.2, 0.3]);
  assert.deepEqual(resample(x, 16000, 16000), x);
  assert.equal(resample(x, 8000, 16000).length, 6);
  assert.equal(resampledLength(44101, 44100, 16000), Math.ceil((160 * 44101) / 441));
  assert.throws(() => resample(x, 0, 16000), /original sample rate/);
  assert.throws(() => resample(x, 16000, 22050.5), /new sample rate/);
  // a constant far from the edges stays constant (the filter's DC gain is rolloff-limited but ~1)
  const c = new Float32Array(8000).fill(0.5);
  const y = resample(c, 8000, 16000);
  assert.ok(Math.abs(y[8000] - 0.5) < 1e-3);
});
