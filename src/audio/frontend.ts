/**
 * The AST front end (what `loaa features` computes and the AST recipes train on): average the
 * channels, resample with torchaudio's default windowed sinc, subtract the waveform mean, Kaldi fbank
 * with AST's options; then optionally pad with zeros / keep the first frames (AST's target_length) and
 * normalise `(x - mean) / (2 * std)`, in that order, as AST's dataloader does.
 */
import { AST_FBANK, fbank, frameLayout, type FbankOptions } from './kaldi.js';
import { resample } from './resample.js';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, toMono, type DecodedAudio, type Spectrogram } from './types.js';
import { LIMITS } from '../util/bounds.js';
import { namedError } from '../util/errors.js';

export interface AstFrontEndOptions {
  /** resample to this rate first (default 16000) */
  sampleRate?: number;
  /** default 128 */
  numMelBins?: number;
  /** pad or crop to this many frames */
  targetLength?: number;
  /** normalise with these when both are given */
  mean?: number;
  std?: number;
}

/** Normalisation statistics (unnormalised fbank mean / std) used by the AST paper's recipes. */
export const NORM_STATS = {
  esc50: { mean: -6.6268077, std: 5.358466 },
  speechcommands: { mean: -6.845978, std: 5.5654526 },
  audioset: { mean: -4.2677393, std: 4.5689974 },
} as const;

export type NormStatsName = keyof typeof NORM_STATS;

/** Mono waveform -> resampled, mean-removed waveform at `sampleRate`. */
export function astWaveform(mono: Float32Array, inputRate: number, sampleRate = 16000): Float32Array {
  const x = inputRate === sampleRate ? new Float32Array(mono) : resample(mono, inputRate, sampleRate);
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i];
  m /= x.length;
  for (let i = 0; i < x.length; i++) x[i] -= m;
  return x;
}

/** AST fbank of a waveform that is already mono, resampled and centred. */
export function astFbankOfWaveform(wave: Float32Array, sampleRate = 16000, numMelBins = 128): Spectrogram {
  const opts: FbankOptions = { ...AST_FBANK, sampleFrequency: sampleRate, numMelBins };
  return fbank(wave, opts);
}

/** Most frames a target length may ask for (100k frames is 1000 s at a 10 ms shift). */
export const MAX_TARGET_LENGTH = LIMITS.frames;
/** Most mel bins (AST uses 128; a filterbank wider than an FFT half is meaningless anyway). */
export const MAX_MEL_BINS = LIMITS.melBins;

/**
 * Front-end settings come from users and adapter configs: each is checked where it is read, and
 * the error names the key (`frontend.sample_rate: 1e9 ...`) rather than failing in an allocation.
 */
export function checkFrontEndOptions(opts: AstFrontEndOptions, where = 'front end'): void {
  const int = (v: number | undefined, key: string, lo: number, hi: number): void => {
    if (v === undefined) return;
    if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new Error(`${where}: ${key} must be an integer in [${lo}, ${hi}], got ${v}`);
  };
  int(opts.sampleRate, 'sample_rate', MIN_SAMPLE_RATE, MAX_SAMPLE_RATE);
  int(opts.numMelBins, 'num_mel_bins', 1, MAX_MEL_BINS);
  int(opts.targetLength, 'target_length', 1, MAX_TARGET_LENGTH);
}

/**
 * The input samples that decide the first `frames` fbank frames at `outRate`, with margin for the
 * resampler's filter: cropping to them before resampling keeps a long (or lying) file from costing
 * time and memory for frames that are cut off anyway. The frames kept are the same up to float
 * rounding (Kaldi's per-frame DC removal cancels the waveform mean, which the crop changes).
 */
export function samplesForFrames(frames: number, inRate: number, outRate: number): number {
  const { windowShift, windowSize } = frameLayout({ sampleFrequency: outRate, frameLength: 25, frameShift: 10, roundToPowerOfTwo: true });
  const outSamples = (frames - 1) * windowShift + windowSize;
  // the resampler reaches ~6 / rolloff input periods of the slower rate either side
  const margin = 2 * Math.ceil((7 * inRate) / Math.min(inRate, outRate)) + 64;
  return Math.ceil((outSamples * inRate) / outRate) + margin;
}

/** The whole front end on decoded audio; `source` names the input in errors. */
export function astFeatures(audio: DecodedAudio, opts: AstFrontEndOptions = {}, source = 'audio'): Spectrogram {
  checkFrontEndOptions(opts, source);
  const sr = opts.sampleRate ?? 16000;
  const mel = opts.numMelBins ?? 128;
  let spec: Spectrogram;
  try {
    let mono = toMono(audio);
    if (opts.targetLength !== undefined) {
      const keep = samplesForFrames(opts.targetLength, audio.sampleRate, sr);
      if (mono.length > keep) mono = mono.subarray(0, keep);
    }
    spec = astFbankOfWaveform(astWaveform(mono, audio.sampleRate, sr), sr, mel);
  } catch (e) {
    throw namedError(source, e, 'this clip');
  }
  if (opts.targetLength !== undefined) spec = padOrCrop(spec, opts.targetLength);
  if (opts.mean !== undefined || opts.std !== undefined) {
    if (opts.mean === undefined || opts.std === undefined) throw new Error(`${source}: normalisation needs both mean and std`);
    spec = normalize(spec, opts.mean, opts.std);
  }
  return spec;
}

/** Zero frames appended at the end, or the first `target` frames kept (AST's target_length). */
export function padOrCrop(spec: Spectrogram, target: number): Spectrogram {
  if (!Number.isSafeInteger(target) || target < 1) throw new Error(`targetLength must be a positive integer, got ${target}`);
  const data = new Float32Array(target * spec.bins);
  data.set(spec.data.subarray(0, Math.min(spec.frames, target) * spec.bins));
  return { data, frames: target, bins: spec.bins };
}

/** Edge padding (repeat the last frame) or cropping, as the EPIC-SOUNDS loader does. */
export function padEdgeOrCrop(spec: Spectrogram, target: number): Spectrogram {
  if (!Number.isSafeInteger(target) || target < 1) throw new Error(`targetLength must be a positive integer, got ${target}`);
  if (spec.frames === 0) throw new Error('cannot edge-pad a spectrogram with no frames');
  const { bins } = spec;
  const data = new Float32Array(target * bins);
  const keep = Math.min(spec.frames, target);
  data.set(spec.data.subarray(0, keep * bins));
  const last = spec.data.subarray((spec.frames - 1) * bins, spec.frames * bins);
  for (let f = keep; f < target; f++) data.set(last, f * bins);
  return { data, frames: target, bins };
}

/** `(x - mean) / (2 * std)`, AST's normalisation, into a new spectrogram. */
export function normalize(spec: Spectrogram, mean: number, std: number): Spectrogram {
  if (!Number.isFinite(mean)) throw new Error(`normalisation mean must be finite, got ${mean}`);
  if (!(std > 0) || !Number.isFinite(std)) throw new Error(`normalisation std must be positive, got ${std}`);
  const data = new Float32Array(spec.data.length);
  const k = 1 / (2 * std);
  for (let i = 0; i < data.length; i++) data[i] = (spec.data[i] - mean) * k;
  return { data, frames: spec.frames, bins: spec.bins };
}

/**
 * Dataset statistics the way AST's get_norm_stats computes them: the mean of the per-clip means and
 * the mean of the per-clip standard deviations (torch.std: unbiased), over unnormalised fbanks.
 */
export function normStats(specs: Iterable<Spectrogram>): { mean: number; std: number; clips: number } {
  let sumMean = 0;
  let sumStd = 0;
  let clips = 0;
  for (const s of specs) {
    const { mean, std } = clipStats(s.data);
    sumMean += mean;
    sumStd += std;
    clips++;
  }
  if (clips === 0) throw new Error('normStats: no clips');
  return { mean: sumMean / clips, std: sumStd / clips, clips };
}

/** Mean and unbiased standard deviation of one clip's values (two-pass, float64). */
export function clipStats(x: ArrayLike<number>): { mean: number; std: number } {
  const n = x.length;
  if (n < 2) throw new Error(`clip statistics need at least 2 values, got ${n}`);
  let m = 0;
  for (let i = 0; i < n; i++) m += x[i];
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - m) ** 2;
  return { mean: m, std: Math.sqrt(v / (n - 1)) };
}
