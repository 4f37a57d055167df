/**
 * Kaldi filterbank features with the semantics of `torchaudio.compliance.kaldi.fbank` (same option
 * names in camelCase, same defaults, same frame layout). Frames are processed in float64; the mel
 * filterbank itself is computed with float32 rounding step by step as torchaudio does, so that the
 * filters' zero/non-zero pattern (which decides whether a narrow bin is floored at epsilon) agrees.
 */
import { realSpectrum, type RealSpectrum } from './fft.js';
import { pairSpectrum, type PairSpectrum } from './fft_wasm.js';
import { LogRow } from './log_table.js';
import { type FlatBank, flatBank } from './mel_bank.js';
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
        w[i] = (0.5 - 0.5 * Math.cos(a * i)) ** 0.85;
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
export function frameLayout(o: {
  sampleFrequency: number;
  frameLength: number;
  frameShift: number;
  roundToPowerOfTwo: boolean;
}): FrameLayout {
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

/**
 * `rows` (AST's target_length) gives the output that many frames: the clip's first `rows`, then zero
 * frames; what `padOrCrop` does to the whole spectrogram, in one array and without computing the
 * frames it would drop (with `subtractMean` those count in the mean, so all are computed).
 */
export function fbank(wave: ArrayLike<number>, options: FbankOptions = {}, rows?: number): Spectrogram {
  const o = { ...KALDI_DEFAULTS, ...stripUndefined(options) };
  const fail = (m: string): never => {
    throw new Error(`fbank: ${m}`);
  };
  if (!(o.sampleFrequency > 0)) fail(`sampleFrequency must be positive, got ${o.sampleFrequency}`);
  if (!(o.preemphasisCoefficient >= 0 && o.preemphasisCoefficient <= 1))
    fail(`preemphasisCoefficient must be in [0, 1], got ${o.preemphasisCoefficient}`);
  if (o.vtlnWarp !== 1) fail('VTLN warping (vtlnWarp != 1) is not implemented');
  if (!WINDOW_TYPES.includes(o.windowType)) fail(`unknown windowType ${JSON.stringify(o.windowType)} (one of ${WINDOW_TYPES.join(', ')})`);
  if (!Number.isSafeInteger(o.numMelBins) || o.numMelBins < 4) fail(`numMelBins must be an integer >= 4, got ${o.numMelBins}`);
  if (o.dither !== 0 && !options.rng) fail('dither needs a seeded rng (options.rng)');
  if (rows !== undefined && !(Number.isSafeInteger(rows) && rows >= 1)) fail(`rows must be a positive integer, got ${rows}`);
  const { windowShift, windowSize, paddedSize } = frameLayout(o);
  const n = wave.length;
  if (!(windowSize >= 2 && windowSize <= n)) {
    fail(
      `a ${o.frameLength} ms frame is ${windowSize} samples at ${o.sampleFrequency} Hz; it must be in [2, ${n}] (the waveform's length)`,
    );
  }
  if (!(windowShift > 0)) fail(`frameShift ${o.frameShift} ms is less than one sample`);
  if (paddedSize % 2 !== 0) fail(`the padded window size ${paddedSize} must be even: use roundToPowerOfTwo or change frameLength`);
  const bank = flatBank(o.numMelBins, paddedSize, o.sampleFrequency, o.lowFreq, o.highFreq);
  const bins = o.numMelBins + (o.useEnergy ? 1 : 0);
  if (n < o.minDuration * o.sampleFrequency) return { data: new Float32Array((rows ?? 0) * bins), frames: rows ?? 0, bins };

  // the samples frame i reads start at src[i * shift]: the caller's own typed array when it can be
  // (no copy of the clip), else one float64 copy with the edges reflected
  let src: Float32Array | Float64Array;
  if (o.snipEdges) {
    src = wave instanceof Float32Array || wave instanceof Float64Array ? wave : Float64Array.from(wave);
  } else {
    const pad = Math.trunc(windowSize / 2) - Math.trunc(windowShift / 2);
    const padded = new Float64Array(Math.max(pad, 0) + n + n - Math.max(-pad, 0));
    let q = 0;
    if (pad > 0) for (let i = pad - 1; i >= 0; i--) padded[q++] = wave[i];
    for (let i = Math.max(-pad, 0); i < n; i++) padded[q++] = wave[i];
    for (let i = n - 1; i >= 0; i--) padded[q++] = wave[i];
    src = padded;
  }
  const all = numFrames(n, windowSize, windowShift, o.snipEdges);
  const outRows = rows ?? all;
  // the frames computed: those kept
  const frames = o.subtractMean ? all : Math.min(all, outRows);
  const window = featureWindow(o.windowType, windowSize, o.blackmanCoeff);
  // frames go through the transform two at a time, one per f64x2 lane of fft_wasm.ts, where
  // WebAssembly runs (the same spectra as fft.ts's, bit for bit), else one at a time through fft.ts
  const pair = pairSpectrum(paddedSize, bank, window, (CHUNK_FRAMES - 1) * windowShift + windowSize);
  // the JavaScript path's buffers, made only where they are used
  const none = new Float64Array(0);
  const spec = pair ? null : realSpectrum(paddedSize);
  const buf = pair ? none : new Float64Array(paddedSize); // the zero padding past windowSize is never written
  const frame = o.dither !== 0 ? new Float64Array(windowSize) : none;
  const pw = pair ? none : new Float64Array(paddedSize / 2 + 1);
  const mel = new LogRow(pair && o.useLogFbank ? 0 : bank.bins);
  const out = new Float32Array(Math.max(frames, outRows) * bins); // rows past `frames`: the zero padding
  const logFloor = o.energyFloor === 0 ? -Infinity : Math.log(o.energyFloor);
  const logEnergy = (e: number): number => Math.max(Math.log(Math.max(e, EPSILON)), logFloor);
  const p = o.preemphasisCoefficient;
  const melOff = o.useEnergy && !o.htkCompat ? 1 : 0;
  const energyCol = o.useEnergy ? (o.htkCompat ? o.numMelBins : 0) : -1;
  const { dither, removeDcOffset, useEnergy, rawEnergy, usePower, useLogFbank } = o;
  const rng = options.rng;
  // every frame's sum as the difference of the clip's running sums at its two ends, both carried
  // forward frame to frame: two passes over the clip instead of one per frame (float64 keeps the
  // difference exact to ~1e-12 of the running sum)
  const sums = { lo: 0, hi: 0, loAt: 0, hiAt: 0 };

  // without dither or energy the pair kernel windows the frames too, from float64 copies of the clip
  // CHUNK_FRAMES frames at a time
  const wasmWindow = pair !== null && dither === 0 && !useEnergy;
  let chunkStart = 0;
  const lanes = pair ? 2 : 1;
  const dst = pair ? pair.x : buf;
  const pws = pair ? pair.pw : pw;
  dst.fill(0, lanes * windowSize); // the zero padding past windowSize (the pair buffer is shared)
  const energies = new Float64Array(lanes);

  for (let f0 = 0; f0 < frames; f0 += lanes) {
    if (wasmWindow) {
      if (f0 % CHUNK_FRAMES === 0) {
        chunkStart = f0 * windowShift;
        const end = Math.min(src.length, (Math.min(f0 + CHUNK_FRAMES, frames) - 1) * windowShift + windowSize);
        (pair as PairSpectrum).clip.set(src.subarray(chunkStart, end));
      }
      // an odd last frame is paired with itself; its second copy is never read
      const a = f0 * windowShift;
      const b = Math.min(f0 + 1, frames - 1) * windowShift;
      const ma = removeDcOffset ? frameSum(src, a, a + windowSize, sums) / windowSize : 0;
      const mb = b === a ? ma : removeDcOffset ? frameSum(src, b, b + windowSize, sums) / windowSize : 0;
      (pair as PairSpectrum).windowPair(a - chunkStart, b - chunkStart, ma, mb, p);
    }
    for (let l = 0; l < lanes && !wasmWindow; l++) {
      const f = f0 + l;
      if (f >= frames) {
        for (let j = 0; j < windowSize; j++) dst[lanes * j + l] = 0;
        continue;
      }
      const s0 = f * windowShift;
      // without dither the frame is read straight from the clip and its mean from the running sums
      let x: Float32Array | Float64Array = src;
      let x0 = s0;
      let m = 0;
      if (dither !== 0) {
        for (let i = 0; i < windowSize; i++) frame[i] = src[s0 + i] + (rng as Rng).normal() * dither;
        x = frame;
        x0 = 0;
        if (removeDcOffset) m = mean(frame);
      } else if (removeDcOffset) {
        m = frameSum(src, s0, s0 + windowSize, sums) / windowSize;
      }
      if (useEnergy && rawEnergy) {
        let e = 0;
        for (let j = 0; j < windowSize; j++) e += (x[x0 + j] - m) ** 2;
        energies[l] = logEnergy(e);
      }
      windowInto(x, x0, m, p, window, dst, lanes, l);
      if (useEnergy && !rawEnergy) {
        let e = 0;
        for (let j = 0; j < windowSize; j++) e += dst[lanes * j + l] ** 2;
        energies[l] = logEnergy(e);
      }
    }
    if (pair) {
      pair.power();
      if (!usePower) for (let k = 0; k < pws.length; k++) pws[k] = Math.sqrt(pws[k]);
      if (useLogFbank) {
        pair.mel(EPSILON);
        pair.logs();
      }
    } else {
      (spec as RealSpectrum).power(buf, pw);
      if (!usePower) for (let k = 0; k < pw.length; k++) pw[k] = Math.sqrt(pw[k]);
    }
    for (let l = 0; l < lanes && f0 + l < frames; l++) {
      const f = f0 + l;
      const row = f * bins + melOff;
      if (pair && useLogFbank) {
        out.set(pair.logRows[l], row);
      } else {
        melInto(bank, pws, lanes, l, mel.values, useLogFbank ? EPSILON : -Infinity);
        if (useLogFbank) mel.logInto(out, row);
        else out.set(mel.values, row);
      }
      if (energyCol >= 0) out[f * bins + energyCol] = energies[l];
    }
  }
  if (o.subtractMean && frames > 0) {
    for (let b = 0; b < bins; b++) {
      let m = 0;
      for (let f = 0; f < frames; f++) m += out[f * bins + b];
      m /= frames;
      for (let f = 0; f < frames; f++) out[f * bins + b] -= m;
    }
  }
  return { data: frames > outRows ? out.slice(0, outRows * bins) : out, frames: outRows, bins };
}

// The frame loop's steps are small functions of their own: V8 optimises each tightly, where the
// same loops inlined in fbank's one long body ran at a fraction of the speed.

/** dc removal, preemphasis (x[-1] := x[0]) and the window, into dst[stride * j + lane] */
function windowInto(
  x: Float32Array | Float64Array,
  x0: number,
  m: number,
  p: number,
  window: Float64Array,
  dst: Float64Array,
  stride: number,
  lane: number,
): void {
  let prev = x[x0] - m;
  dst[lane] = prev * (1 - p) * window[0];
  for (let j = 1; j < window.length; j++) {
    const cur = x[x0 + j] - m;
    dst[stride * j + lane] = (cur - p * prev) * window[j];
    prev = cur;
  }
}

/** the mel energies of the spectrum pw[stride * k + lane], each at least `floor` (NaN too; -Infinity: none floored) */
function melInto(bank: FlatBank, pw: Float64Array, stride: number, lane: number, out: Float64Array, floor: number): void {
  const { start, end, offset, weights } = bank;
  for (let b = 0; b < bank.bins; b++) {
    const w0 = offset[b] - start[b];
    const k1 = end[b];
    let e = 0;
    for (let k = start[b]; k < k1; k++) e += weights[w0 + k] * pw[stride * k + lane];
    out[b] = e > floor || floor === -Infinity ? e : floor;
  }
}

/** sum of src[a .. b), from running sums that only move forward (frames come in order) */
function frameSum(
  src: Float32Array | Float64Array,
  a: number,
  b: number,
  r: { lo: number; hi: number; loAt: number; hiAt: number },
): number {
  let { lo, hi, loAt, hiAt } = r;
  for (; loAt < a; loAt++) lo += src[loAt];
  for (; hiAt < b; hiAt++) hi += src[hiAt];
  r.lo = lo;
  r.hi = hi;
  r.loAt = loAt;
  r.hiAt = hiAt;
  return hi - lo;
}

/** frames of the clip that fft_wasm.ts windows from one float64 copy (even: frames go in pairs) */
const CHUNK_FRAMES = 64;

/** The mean in four partial sums: one add chain of 400 would wait on each add's latency. */
function mean(x: Float64Array): number {
  const n = x.length;
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    a += x[i];
    b += x[i + 1];
    c += x[i + 2];
    d += x[i + 3];
  }
  for (; i < n; i++) a += x[i];
  return (a + b + (c + d)) / n;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const r: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (r as Record<string, unknown>)[k] = v;
  return r;
}
