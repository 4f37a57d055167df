/**
 * The AST recipes' augmentations, each drawing from an explicit seeded Rng:
 * - SpecAugment masks with torchaudio FrequencyMasking / TimeMasking semantics (one mask per call,
 *   on the unnormalised fbank `[T, F]`, filled with 0);
 * - waveform mixup (AST's `_wav2fbank` with a second file), lambda ~ Beta(10, 10);
 * - Speech Commands noise: `x + U[0,1)[T,F] * u / 10` after normalisation, then a roll in time by
 *   randint(-10, 10) frames.
 * All return new arrays; inputs are never modified.
 */
import type { Rng } from './rng.js';
import type { Spectrogram } from './types.js';

/**
 * torchaudio's mask_along_axis draw: value = U * param, min = U * (size - value),
 * masked [trunc(min), trunc(min) + floor(value)) — so the width is uniform in [0, param) and the
 * start uniform in [0, size - width).
 */
export function drawMask(size: number, param: number, rng: Rng): { start: number; end: number } {
  if (!(param >= 0) || !Number.isFinite(param)) throw new Error(`mask parameter must be >= 0, got ${param}`);
  const value = rng.uniform() * param;
  const minValue = rng.uniform() * (size - value);
  const start = Math.trunc(minValue);
  const end = start + Math.floor(value);
  return { start: Math.max(0, start), end: Math.min(size, Math.max(0, end)) };
}

/** FrequencyMasking(freqm): one band of mel bins set to 0 across all frames. */
export function frequencyMask(spec: Spectrogram, freqm: number, rng: Rng): Spectrogram {
  const { start, end } = drawMask(spec.bins, freqm, rng);
  const data = new Float32Array(spec.data);
  for (let t = 0; t < spec.frames; t++) data.fill(0, t * spec.bins + start, t * spec.bins + Math.max(start, end));
  return { data, frames: spec.frames, bins: spec.bins };
}

/** TimeMasking(timem): one run of frames set to 0 across all mel bins. */
export function timeMask(spec: Spectrogram, timem: number, rng: Rng): Spectrogram {
  const { start, end } = drawMask(spec.frames, timem, rng);
  const data = new Float32Array(spec.data);
  if (end > start) data.fill(0, start * spec.bins, end * spec.bins);
  return { data, frames: spec.frames, bins: spec.bins };
}

function centred(x: Float32Array): Float64Array {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i];
  m /= x.length || 1;
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] - m;
  return y;
}

/**
 * `lambda * a + (1 - lambda) * b`, both centred first, b zero-padded or cut to a's length, the mix
 * centred again (AST's order of operations).
 */
export function mixWaveforms(a: Float32Array, b: Float32Array, lambda: number): Float32Array {
  if (!(lambda >= 0 && lambda <= 1)) throw new Error(`mixup lambda must be in [0, 1], got ${lambda}`);
  if (a.length === 0) throw new Error('mixup: the first waveform is empty');
  const ca = centred(a);
  const cb = centred(b);
  const mix = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) mix[i] = lambda * ca[i] + (1 - lambda) * (i < cb.length ? cb[i] : 0);
  let m = 0;
  for (let i = 0; i < mix.length; i++) m += mix[i];
  m /= mix.length;
  const out = new Float32Array(a.length);
  for (let i = 0; i < mix.length; i++) out[i] = mix[i] - m;
  return out;
}

export function mixLabels(ya: ArrayLike<number>, yb: ArrayLike<number>, lambda: number): Float32Array {
  if (ya.length !== yb.length) throw new Error(`mixup: label vectors differ in length (${ya.length} vs ${yb.length})`);
  const y = new Float32Array(ya.length);
  for (let i = 0; i < y.length; i++) y[i] = lambda * ya[i] + (1 - lambda) * yb[i];
  return y;
}

/** Waveform mixup with lambda ~ Beta(alpha, alpha) (AST: alpha = 10). */
export function mixup(
  a: Float32Array,
  b: Float32Array,
  ya: ArrayLike<number>,
  yb: ArrayLike<number>,
  rng: Rng,
  alpha = 10,
): { wave: Float32Array; labels: Float32Array; lambda: number } {
  const lambda = rng.beta(alpha, alpha);
  return { wave: mixWaveforms(a, b, lambda), labels: mixLabels(ya, yb, lambda), lambda };
}

/** Circular shift along time: out[t] = x[(t - shift) mod T] (torch.roll(x, shift, 0)). */
export function rollTime(spec: Spectrogram, shift: number): Spectrogram {
  const { frames: T, bins: F } = spec;
  const data = new Float32Array(spec.data.length);
  if (T === 0) return { data, frames: T, bins: F };
  const s = ((shift % T) + T) % T;
  data.set(spec.data.subarray(0, (T - s) * F), s * F);
  data.set(spec.data.subarray((T - s) * F), 0);
  return { data, frames: T, bins: F };
}

/**
 * Speech Commands noise (AST `noise=True`, applied to the normalised fbank): add a U[0,1) matrix
 * scaled by one U[0,1) draw / 10, then roll in time by randint(-10, 10) (numpy: -10..9) frames.
 */
export function addNoiseAndRoll(spec: Spectrogram, rng: Rng): { spec: Spectrogram; amplitude: number; shift: number } {
  const noise = new Float32Array(spec.data.length);
  for (let i = 0; i < noise.length; i++) noise[i] = rng.uniform();
  const amplitude = rng.uniform() / 10;
  const data = new Float32Array(spec.data.length);
  for (let i = 0; i < data.length; i++) data[i] = spec.data[i] + noise[i] * amplitude;
  const shift = rng.randint(-10, 10);
  return { spec: rollTime({ data, frames: spec.frames, bins: spec.bins }, shift), amplitude, shift };
}
