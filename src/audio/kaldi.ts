/**
 * Kaldi filterbank features with the semantics of `torchaudio.compliance.kaldi.fbank` (same option
 * names in camelCase, same defaults, same frame layout). Frames are processed in float64; the mel
 * filterbank itself is computed with float32 rounding step by step as torchaudio does, so that the
 * filters' zero/non-zero pattern (which decides whether a narrow bin is floored at epsilon) agrees.
 */
import { realSpectrum } from './fft.js';
import type { Rng } from './rng.js';
import type { Spectrogram } from './types.js';

export type WindowType = 'hamming' | 'hanning' | 'povey' | 'rectangular' | 'blackman';
export const WINDOW_TYPES: readonly WindowType[] = ['hamming', 'hanning', 'povey', 'rectangular', 'blackman'];

export interface FbankOptions {
  blackmanCoeff?: number;
  /** Gaussian noise of this standard deviation added to every frame sample; needs `rng` */
  dither?: number;
  rng?: Rng;
  energyFloor?: number;
  /** milliseconds */
  frameLength?: number;
  /** milliseconds */
  frameShift?: number;
  /** <= 0 means nyquist + highFreq */
  highFreq?: number;
  htkCompat?: boolean;
  lowFreq?: number;
  /** seconds; shorter input gives zero frames */
  minDuration?: number;
  numMelBins?: number;
  preemphasisCoefficient?: number;
  rawEnergy?: boolean;
  removeDcOffset?: boolean;
  roundToPowerOfTwo?: boolean;
  sampleFrequency?: number;
  snipEdges?: boolean;
  subtractMean?: boolean;
  useEnergy?: boolean;
  useLogFbank?: boolean;
  usePower?: boolean;
  /** only 1.0 (no VTLN) is implemented */
  vtlnWarp?: number;
  windowType?: WindowType;
}

export const KALDI_DEFAULTS: Required<Omit<FbankOptions, 'rng'>> = {
  blackmanCoeff: 0.42,
  dither: 0,
  energyFloor: 1,
  frameLength: 25,
  frameShift: 10,
  highFreq: 0,
  htkCompat: false,
  lowFreq: 20,
  minDuration: 0,
  numMelBins: 23,
  preemphasisCoefficient: 0.97,
  rawEnergy: true,
  removeDcOffset: true,
  roundToPowerOfTwo: true,
  sampleFrequency: 16000,
  snipEdges: true,
  subtractMean: false,
  useEnergy: false,
  useLogFbank: true,
  usePower: true,
  vtlnWarp: 1,
  windowType: 'povey',
};

/** The AST recipe: `fbank(wav, htk_compat=True, sample_frequency=sr, use_energy=False, window_type='hanning', num_mel_bins=128, dither=0.0, frame_shift=10)` */
export const AST_FBANK: FbankOptions = {
  htkCompat: true,
  useEnergy: false,
  windowType: 'hanning',
  numMelBins: 128,
  dither: 0,
  frameShift: 10,
};

/** float32 machine epsilon: the floor torchaudio puts under every log */
export const EPSILON = 1.1920928955078125e-7;

const f32 = Math.fround;

export function melScale(freq: number): number {
  return 1127 * Math.log(1 + freq / 700);
}

export function inverseMelScale(mel: number): number {
  return 700 * (Math.exp(mel / 1127) - 1);
}

export interface MelFilter {
  /** first FFT bin with a non-zero weight */
  start: number;
  weights: Float64Array;
}

const melCache = new Map<string, MelFilter[]>();

/** Triangular Kaldi mel filters over FFT bins 0..paddedSize/2-1 (Nyquist gets no weight). */
export function kaldiMelBanks(numBins: number, paddedSize: number, sampleFreq: number, lowFreq: number, highFreq: number): MelFilter[] {
  const key = `${numBins}/${paddedSize}/${sampleFreq}/${lowFreq}/${highFreq}`;
  const hit = melCache.get(key);
  if (hit) return hit;
  if (!(numBins > 3)) throw new Error(`fbank: numMelBins must be at least 4, got ${numBins}`);
  const nyquist = 0.5 * sampleFreq;
  const high = highFreq <= 0 ? highFreq + nyquist : highFreq;
  if (!(lowFreq >= 0 && lowFreq < nyquist && high > 0 && high <= nyquist && lowFreq < high)) {
    throw new Error(`fbank: bad lowFreq ${lowFreq} / highFreq ${highFreq} for nyquist ${nyquist} Hz`);
  }
  const numFft = paddedSize / 2;
  const binWidth = sampleFreq / paddedSize;
  const melLow = melScale(lowFreq);
  const melHigh = melScale(high);
  const delta = (melHigh - melLow) / (numBins + 1);
  // torchaudio builds these as float32 tensors: round where it rounds
  const fDelta = f32(delta);
  const fLow = f32(melLow);
  const fWidth = f32(binWidth);
  const mel = new Float64Array(numFft);
  for (let k = 0; k < numFft; k++) {
    const freq = f32(fWidth * k);
    mel[k] = f32(1127 * f32(Math.log(f32(1 + f32(freq / 700)))));
  }
  const filters: MelFilter[] = [];
  for (let b = 0; b < numBins; b++) {
    const left = f32(f32(b * fDelta) + fLow);
    const center = f32(f32((b + 1) * fDelta) + fLow);
    const right = f32(f32((b + 2) * fDelta) + fLow);
    const upDen = f32(center - left);
    const downDen = f32(right - center);
    const w = new Float64Array(numFft);
    let first = -1;
    let last = -1;
    for (let k = 0; k < numFft; k++) {
      const up = f32(f32(mel[k] - left) / upDen);
      const down = f32(f32(right - mel[k]) / downDen);
      const v = Math.max(0, Math.min(up, down));
      if (v > 0) {
        w[k] = v;
        if (first < 0) first = k;
        last = k;
      }
    }
    filters.push(first < 0 ? { start: 0, weights: new Float64Array(0) } : { start: first, weights: w.slice(first, last + 1) });
  }
  if (melCache.size > 32) melCache.clear();
  melCache.set(key, filters);
  return filters;
}

const windowCache = new Map<string, Float64Array>();

/** Kaldi / torchaudio analysis windows (symmetric: the period is size - 1). Cached; do not modify. */
export function featureWindow(type: WindowType, size: number, blackmanCoeff = 0.42): Float64Array {
  const key = `${type}/${size}/${blackmanCoeff}`;
  const hit = windowCache.get(key);
  if (hit) return hit;
  const w = new Float64Array(size);
  const a = (2 * Math.PI) / (size - 1);
  for (let i = 0; i < size; i++) {
    switch (type) {
      case 'hanning':
        w[i] = 0.5 - 0.5 * Math.cos(a * i);
        break;
      case 'hamming':
        w[i] = 0.54 - 0.46 * Math.cos(a * i);
        break;
      case 'povey':
        w[i] = Math.pow(0.5 - 0.5 * Math.cos(a * i), 0.85);
        break;
      case 'rectangular':
        w[i] = 1;
        break;
      case 'blackman':
        w[i] = blackmanCoeff - 0.5 * Math.cos(a * i) + (0.5 - blackmanCoeff) * Math.cos(2 * a * i);
        break;
      default:
        throw new Error(`fbank: unknown windowType ${JSON.stringify(type)} (one of ${WINDOW_TYPES.join(', ')})`);
    }
  }
  if (windowCache.size > 32) windowCache.clear();
  windowCache.set(key, w);
  return w;
}

export interface FrameLayout {
  windowShift: number;
  windowSize: number;
  paddedSize: number;
}

/** Frame geometry exactly as torchaudio derives it (int() truncation of ms * rate). */
export function frameLayout(o: { sampleFrequency: number; frameLength: number; frameShift: number; roundToPowerOfTwo: boolean }): FrameLayout {
  const windowShift = Math.trunc(o.sampleFrequency * o.frameShift * 0.001);
  const windowSize = Math.trunc(o.sampleFrequency * o.frameLength * 0.001);
  const paddedSize = o.roundToPowerOfTwo ? nextPow2(windowSize) : windowSize;
  return { windowShift, windowSize, paddedSize };
}

function nextPow2(x: number): number {
  let p = 1;
  while (p < x) p *= 2;
  return p;
}

/** Number of frames `fbank` gives for n samples. */
export function numFrames(n: number, windowSize: number, windowShift: number, snipEdges: boolean): number {
  if (snipEdges) return n < windowSize ? 0 : 1 + Math.floor((n - windowSize) / windowShift);
  return Math.floor((n + Math.floor(windowShift / 2)) / windowShift);
}

export function fbank(wave: ArrayLike<number>, options: FbankOptions = {}): Spectrogram {
  const o = { ...KALDI_DEFAULTS, ...stripUndefined(options) };
  const fail = (m: string): never => {
    throw new Error(`fbank: ${m}`);
  };
  if (!(o.sampleFrequency > 0)) fail(`sampleFrequency must be positive, got ${o.sampleFrequency}`);
  if (!(o.preemphasisCoefficient >= 0 && o.preemphasisCoefficient <= 1)) fail(`preemphasisCoefficient must be in [0, 1], got ${o.preemphasisCoefficient}`);
  if (o.vtlnWarp !== 1) fail('VTLN warping (vtlnWarp != 1) is not implemented');
  if (!WINDOW_TYPES.includes(o.windowType)) fail(`unknown windowType ${JSON.stringify(o.windowType)} (one of ${WINDOW_TYPES.join(', ')})`);
  if (!Number.isSafeInteger(o.numMelBins) || o.numMelBins < 4) fail(`numMelBins must be an integer >= 4, got ${o.numMelBins}`);
  if (o.dither !== 0 && !options.rng) fail('dither needs a seeded rng (options.rng)');
  const { windowShift, windowSize, paddedSize } = frameLayout(o);
  const n = wave.length;
  if (!(windowSize >= 2 && windowSize <= n)) {
    fail(`a ${o.frameLength} ms frame is ${windowSize} samples at ${o.sampleFrequency} Hz; it must be in [2, ${n}] (the waveform's length)`);
  }
  if (!(windowShift > 0)) fail(`frameShift ${o.frameShift} ms is less than one sample`);
  if (paddedSize % 2 !== 0) fail(`the padded window size ${paddedSize} must be even: use roundToPowerOfTwo or change frameLength`);
  const filters = kaldiMelBanks(o.numMelBins, paddedSize, o.sampleFrequency, o.lowFreq, o.highFreq);
  const bins = o.numMelBins + (o.useEnergy ? 1 : 0);
  if (n < o.minDuration * o.sampleFrequency) return { data: new Float32Array(0), frames: 0, bins };

  // the samples frame i reads start at src[i * shift]; one monomorphic float64 array either way
  let src: Float64Array;
  if (o.snipEdges) {
    src = new Float64Array(n);
    src.set(wave);
  } else {
    const pad = Math.trunc(windowSize / 2) - Math.trunc(windowShift / 2);
    src = new Float64Array(Math.max(pad, 0) + n + n - Math.max(-pad, 0));
    let q = 0;
    if (pad > 0) for (let i = pad - 1; i >= 0; i--) src[q++] = wave[i];
    for (let i = Math.max(-pad, 0); i < n; i++) src[q++] = wave[i];
    for (let i = n - 1; i >= 0; i--) src[q++] = wave[i];
  }
  const frames = numFrames(n, windowSize, windowShift, o.snipEdges);
  const window = featureWindow(o.windowType, windowSize, o.blackmanCoeff);
  const spec = realSpectrum(paddedSize);
  const buf = new Float64Array(paddedSize); // the zero padding past windowSize is never written
  const scratch = new Float64Array(o.dither !== 0 ? windowSize : 0);
  const pw = new Float64Array(paddedSize / 2 + 1);
  const out = new Float32Array(frames * bins);
  const logFloor = o.energyFloor === 0 ? -Infinity : Math.log(o.energyFloor);
  const logEnergy = (e: number): number => Math.max(Math.log(Math.max(e, EPSILON)), logFloor);
  const p = o.preemphasisCoefficient;
  const melOff = o.useEnergy && !o.htkCompat ? 1 : 0;
  const energyCol = o.useEnergy ? (o.htkCompat ? o.numMelBins : 0) : -1;
  const nb = filters.length;
  const fStart = Int32Array.from(filters, (x) => x.start);
  const fLen = Int32Array.from(filters, (x) => x.weights.length);
  const fOff = new Int32Array(nb);
  let total = 0;
  for (let b = 0; b < nb; b++) {
    fOff[b] = total;
    total += fLen[b];
  }
  const fW = new Float64Array(total);
  filters.forEach((x, b) => fW.set(x.weights, fOff[b]));
  const rng = options.rng;

  for (let f = 0; f < frames; f++) {
    let x = src;
    let s0 = f * windowShift;
    if (o.dither !== 0) {
      for (let i = 0; i < windowSize; i++) scratch[i] = src[s0 + i] + (rng as Rng).normal() * o.dither;
      x = scratch;
      s0 = 0;
    }
    let m = 0;
    if (o.removeDcOffset) {
      for (let i = 0; i < windowSize; i++) m += x[s0 + i];
      m /= windowSize;
    }
    let energy = 0;
    if (o.useEnergy && o.rawEnergy) {
      let e = 0;
      for (let i = 0; i < windowSize; i++) e += (x[s0 + i] - m) ** 2;
      energy = logEnergy(e);
    }
    // dc removal, preemphasis (x[-1] := x[0]) and the window in one pass
    let prev = x[s0] - m;
    buf[0] = prev * (1 - p) * window[0];
    for (let i = 1; i < windowSize; i++) {
      const cur = x[s0 + i] - m;
      buf[i] = (cur - p * prev) * window[i];
      prev = cur;
    }
    if (o.useEnergy && !o.rawEnergy) {
      let e = 0;
      for (let i = 0; i < windowSize; i++) e += buf[i] * buf[i];
      energy = logEnergy(e);
    }
    spec.power(buf, pw);
    if (!o.usePower) for (let k = 0; k < pw.length; k++) pw[k] = Math.sqrt(pw[k]);
    const row = f * bins + melOff;
    for (let b = 0; b < nb; b++) {
      const w0 = fOff[b] - fStart[b];
      const k1 = fStart[b] + fLen[b];
      let e = 0;
      for (let k = fStart[b]; k < k1; k++) e += fW[w0 + k] * pw[k];
      out[row + b] = o.useLogFbank ? Math.log(e > EPSILON ? e : EPSILON) : e;
    }
    if (energyCol >= 0) out[f * bins + energyCol] = energy;
  }
  if (o.subtractMean && frames > 0) {
    for (let b = 0; b < bins; b++) {
      let m = 0;
      for (let f = 0; f < frames; f++) m += out[f * bins + b];
      m /= frames;
      for (let f = 0; f < frames; f++) out[f * bins + b] -= m;
    }
  }
  return { data: out, frames, bins };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const r: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (r as Record<string, unknown>)[k] = v;
  return r;
}
