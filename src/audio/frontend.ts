/**
 * The front end: how a clip becomes model input, the one definition that training's loader
 * (src/data/worker.ts), inference (src/infer), `loaa features`, export and the web page call.
 * `type: ast` (AST's recipes): average the channels, resample with torchaudio's default windowed
 * sinc, subtract the waveform mean, Kaldi fbank with AST's options, pad with zeros / keep the first
 * frames (AST's target_length). `type: epic`: resample, EPIC-SOUNDS' log-mel, edge padding. Then
 * `(x - mean) / (2 * std)` when the spec has them, in that order, as AST's dataloader does.
 * A clip is cut to the samples the kept frames need before anything else, so a long (or lying)
 * file costs what `targetLength` frames cost.
 */
import { AST_FBANK, fbank, frameLayout, KALDI_DEFAULTS, numFrames, type FbankOptions, type FrameLayout } from './kaldi.js';
import { EPIC_DEFAULTS, epicLogMel } from './epic.js';
import { resample, resampledLength, resampleInto } from './resample.js';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, toMono, type DecodedAudio, type Spectrogram } from './types.js';
import { LIMITS } from '../util/bounds.js';
import { namedError } from '../util/errors.js';

/** The sample rate AST and the recipes resample to unless they say otherwise. */
export const SAMPLE_RATE = 16000;

/** How a clip becomes the model input: the one spec type (recipes, adapters, exports convert to it). */
export interface FrontendSpec {
  /** `ast`: Kaldi fbank (AST); `epic`: EPIC-SOUNDS log-mel (24 kHz STFT) */
  type: 'ast' | 'epic';
  sampleRate: number;
  numMelBins: number;
  /** frames after padding / cropping (0: the clip's own length, no padding) */
  targetLength: number;
  /** `(x - mean) / (2 std)` when both are given */
  mean?: number;
  std?: number;
}

/** The spec as adapter_config.json and an exported model's metadata write it (absent type: ast). */
export interface FrontendFile {
  type?: 'ast' | 'epic';
  sample_rate: number;
  num_mel_bins: number;
  target_length: number;
  /** normalisation (x - mean) / (2 std); both absent: none */
  mean?: number;
  std?: number;
}

/** The file form read (once, where adapters and exported models are read). */
export function specFromFile(f: FrontendFile): FrontendSpec {
  return {
    type: f.type ?? 'ast',
    sampleRate: f.sample_rate,
    numMelBins: f.num_mel_bins,
    targetLength: f.target_length,
    ...(f.mean !== undefined && f.mean !== null && f.std !== undefined && f.std !== null ? { mean: f.mean, std: f.std } : {}),
  };
}

/** The file form written (type left out for ast, as adapters before EPIC-SOUNDS were written). */
export function specToFile(s: FrontendSpec): FrontendFile {
  return {
    ...(s.type !== 'ast' ? { type: s.type } : {}),
    sample_rate: s.sampleRate,
    num_mel_bins: s.numMelBins,
    target_length: s.targetLength,
    ...(s.mean !== undefined && s.std !== undefined ? { mean: s.mean, std: s.std } : {}),
  };
}

/** AST's defaults under the settings given (`loaa features`, `astFeatures`). */
export function astSpec(opts: Partial<Omit<FrontendSpec, 'type'>> = {}): FrontendSpec {
  return {
    type: 'ast',
    sampleRate: opts.sampleRate ?? SAMPLE_RATE,
    numMelBins: opts.numMelBins ?? 128,
    targetLength: opts.targetLength ?? 0,
    ...(opts.mean !== undefined ? { mean: opts.mean } : {}),
    ...(opts.std !== undefined ? { std: opts.std } : {}),
  };
}

/** Normalisation statistics (unnormalised fbank mean / std) used by the AST paper's recipes. */
export const NORM_STATS = {
  esc50: { mean: -6.6268077, std: 5.358466 },
  speechcommands: { mean: -6.845978, std: 5.5654526 },
  audioset: { mean: -4.2677393, std: 4.5689974 },
} as const;

export type NormStatsName = keyof typeof NORM_STATS;

/**
 * Mono waveform -> resampled, mean-removed waveform at `sampleRate`: a new array, or a view of `out`
 * (at least the resampled length) when it is given.
 */
export function astWaveform(mono: Float32Array, inputRate: number, sampleRate = SAMPLE_RATE, out?: Float32Array): Float32Array {
  const x = out
    ? resampleInto(mono, inputRate, sampleRate, out)
    : inputRate === sampleRate
      ? new Float32Array(mono)
      : resample(mono, inputRate, sampleRate);
  removeMean(x);
  return x;
}

/**
 * The waveform `features()` computes and drops, kept from clip to clip on this thread: a new array
 * per clip (320 KB for 5 s) is fresh pages each time once the allocator hands memory back, and on the
 * VM we measure on touching them cost more than resampling into them (docs/performance.md). Longer
 * waveforms than this get an array of their own.
 */
const SCRATCH_SAMPLES = 1 << 21;
let scratch = new Float32Array(0);

function scratchFor(samples: number): Float32Array | undefined {
  if (samples > SCRATCH_SAMPLES) return undefined;
  if (scratch.length < samples) scratch = new Float32Array(Math.min(SCRATCH_SAMPLES, Math.max(samples, 2 * scratch.length)));
  return scratch;
}

/**
 * x -= mean(x) in place (the sum in float64, in order). Each loop is a function of its own: with both
 * in astWaveform's body, V8 compiled the first loop on stack replacement before the second had run,
 * and threw that code away ("insufficient type feedback") at the second loop on every call of the
 * bench's first round (0.1-0.3 ms of a 5-s clip's 4 ms; docs/performance.md).
 */
function removeMean(x: Float32Array): void {
  subtractInPlace(x, sumOf(x) / x.length);
}

function sumOf(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

function subtractInPlace(x: Float32Array, m: number): void {
  for (let i = 0; i < x.length; i++) x[i] -= m;
}

/**
 * AST fbank of a waveform that is already mono, resampled and centred; with `targetLength`, padded
 * with zero frames or cropped to it (`padOrCrop`), in the one output array.
 */
export function astFbankOfWaveform(wave: Float32Array, sampleRate = SAMPLE_RATE, numMelBins = 128, targetLength?: number): Spectrogram {
  const opts: FbankOptions = { ...AST_FBANK, sampleFrequency: sampleRate, numMelBins };
  return fbank(wave, opts, targetLength);
}

/** AST's frame geometry at `rate` (Kaldi's 25 ms frames, AST's 10 ms shift, padded to a power of two) */
function astFrames(rate: number): FrameLayout {
  return frameLayout({ ...KALDI_DEFAULTS, ...AST_FBANK, sampleFrequency: rate });
}

/** Most frames a target length may ask for (100k frames is 1000 s at a 10 ms shift). */
export const MAX_TARGET_LENGTH = LIMITS.frames;
/** Most mel bins (AST uses 128; a filterbank wider than an FFT half is meaningless anyway). */
export const MAX_MEL_BINS = LIMITS.melBins;

/**
 * Front-end settings come from users and adapter configs: each is checked where it is read, and
 * the error names the key (`frontend.sample_rate: 1e9 ...`) rather than failing in an allocation.
 */
export function checkFrontEndOptions(opts: Partial<FrontendSpec>, where = 'front end'): void {
  const int = (v: number | undefined, key: string, lo: number, hi: number): void => {
    if (v === undefined) return;
    if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new Error(`${where}: ${key} must be an integer in [${lo}, ${hi}], got ${v}`);
  };
  int(opts.sampleRate, 'sample_rate', MIN_SAMPLE_RATE, MAX_SAMPLE_RATE);
  int(opts.numMelBins, 'num_mel_bins', 1, MAX_MEL_BINS);
  int(opts.targetLength, 'target_length', 0, MAX_TARGET_LENGTH);
}

/**
 * The input samples that decide the first `frames` fbank frames at `outRate`, with margin for the
 * resampler's filter: cropping to them before resampling keeps a long (or lying) file from costing
 * time and memory for frames that are cut off anyway. The frames kept are the same up to float
 * rounding (Kaldi's per-frame DC removal cancels the waveform mean, which the crop changes).
 */
export function samplesForFrames(frames: number, inRate: number, outRate: number, type: FrontendSpec['type'] = 'ast'): number {
  let outSamples: number;
  if (type === 'epic') {
    // frame t of the centred STFT reads up to t * hop + (the window's right half) samples
    const { hopLength: hop, nFft, winLength } = EPIC_DEFAULTS;
    outSamples = (frames - 1) * hop + Math.floor((nFft - winLength) / 2) + winLength - Math.floor(nFft / 2) + 1;
  } else {
    const { windowShift, windowSize } = astFrames(outRate);
    outSamples = (frames - 1) * windowShift + windowSize;
  }
  // the resampler reaches ~6 / rolloff input periods of the slower rate either side
  const margin = 2 * Math.ceil((7 * inRate) / Math.min(inRate, outRate)) + 64;
  return Math.ceil((outSamples * inRate) / outRate) + margin;
}

/** The AST front end with AST's defaults under `opts` (no targetLength: the clip's own length). */
export function astFeatures(audio: DecodedAudio, opts: Partial<Omit<FrontendSpec, 'type'>> = {}, source = 'audio'): Spectrogram {
  checkFrontEndOptions(opts, source);
  if ((opts.mean === undefined) !== (opts.std === undefined)) throw new Error(`${source}: normalisation needs both mean and std`);
  const { data, frames, bins } = features(audio, astSpec(opts), { source });
  return { data, frames, bins };
}

export interface ClipFeatures extends Spectrogram {
  /** frames that came from the audio (the rest is padding) */
  validFrames: number;
}

export interface FeatureOptions {
  /** names the input in errors and warnings */
  source?: string;
  /** told when a clip shorter than one analysis window is padded with silence (default console.warn) */
  warn?: (message: string) => void;
}

/**
 * A clip's waveform as the spectrogram starts from it: mono samples at `rate` cut to what the
 * spec's frames need, resampled to its rate, and for AST centred and at least one analysis window
 * long (a shorter clip is padded with silence, with a warning, as padding frames would be).
 */
export function frontendWaveform(mono: Float32Array, rate: number, spec: FrontendSpec, opts: FeatureOptions = {}): Float32Array {
  return waveformOf(mono, rate, spec, opts, false);
}

/** `frontendWaveform`, into this thread's scratch array when `reuse` (the caller drops it before the next clip) */
function waveformOf(mono: Float32Array, rate: number, spec: FrontendSpec, opts: FeatureOptions, reuse: boolean): Float32Array {
  if (mono.length === 0) throw new Error('zero samples');
  if (spec.targetLength > 0) {
    const keep = samplesForFrames(spec.targetLength, rate, spec.sampleRate, spec.type);
    if (mono.length > keep) mono = mono.subarray(0, keep);
  }
  if (spec.type === 'epic') return rate === spec.sampleRate ? mono : resample(mono, rate, spec.sampleRate);
  const out = reuse ? scratchFor(rate === spec.sampleRate ? mono.length : resampledLength(mono.length, rate, spec.sampleRate)) : undefined;
  const wave = astWaveform(mono, rate, spec.sampleRate, out);
  const { windowSize } = astFrames(spec.sampleRate);
  if (wave.length >= windowSize) return wave;
  const padded = new Float32Array(windowSize);
  padded.set(wave); // before the warning: a callback that runs the front end again reuses the scratch
  const ms = (1000 * mono.length) / rate;
  (opts.warn ?? console.warn)(
    `${opts.source ?? 'audio'}: ${ms.toFixed(1)} ms of audio is shorter than one 25 ms analysis window: padded with silence`,
  );
  return padded;
}

/** The spectrogram of a front-end waveform, padded / cropped to the spec's frames (not normalised). */
export function frontendSpectrogram(wave: Float32Array, spec: FrontendSpec): ClipFeatures {
  if (spec.type === 'epic') {
    const valid = Math.min(1 + Math.floor(wave.length / EPIC_DEFAULTS.hopLength), spec.targetLength || Infinity);
    return {
      ...epicLogMel(wave, { sampleRate: spec.sampleRate, numMelBins: spec.numMelBins, numFrames: spec.targetLength }),
      validFrames: valid,
    };
  }
  const target = spec.targetLength > 0 ? spec.targetLength : undefined;
  const out = astFbankOfWaveform(wave, spec.sampleRate, spec.numMelBins, target);
  const { windowShift, windowSize } = astFrames(spec.sampleRate);
  return { ...out, validFrames: Math.min(numFrames(wave.length, windowSize, windowShift, true), out.frames) };
}

/** `(x - mean) / (2 std)` when the spec has both, else the spectrogram as it is. */
export function frontendNormalize<S extends Spectrogram>(spec: S, fe: FrontendSpec): S {
  return fe.mean !== undefined && fe.std !== undefined ? { ...spec, ...normalize(spec, fe.mean, fe.std) } : spec;
}

/** `frontendNormalize` over the spectrogram's own array (features() made it and hands it out once) */
function normalizeOwn<S extends Spectrogram>(spec: S, fe: FrontendSpec): S {
  if (fe.mean !== undefined && fe.std !== undefined) normalize(spec, fe.mean, fe.std, spec.data);
  return spec;
}

/** The whole front end on decoded audio: crop, resample, spectrogram, pad, normalise. */
export function features(audio: DecodedAudio, spec: FrontendSpec, opts: FeatureOptions = {}): ClipFeatures {
  const source = opts.source ?? 'audio';
  try {
    // cut each channel before the downmix: a long multichannel file is never averaged whole
    const keep = spec.targetLength > 0 ? samplesForFrames(spec.targetLength, audio.sampleRate, spec.sampleRate, spec.type) : Infinity;
    const cut =
      audio.channels[0] && audio.channels[0].length > keep ? { ...audio, channels: audio.channels.map((c) => c.subarray(0, keep)) } : audio;
    // the waveform lives until the spectrogram is made: this thread's scratch array holds it
    const wave = waveformOf(toMono(cut), audio.sampleRate, spec, opts, true);
    return normalizeOwn(frontendSpectrogram(wave, spec), spec);
  } catch (e) {
    throw namedError(source, e, 'this clip');
  }
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

/** `(x - mean) / (2 * std)`, AST's normalisation, into a new spectrogram (or into `data`, which may be spec.data). */
export function normalize(
  spec: Spectrogram,
  mean: number,
  std: number,
  data: Float32Array = new Float32Array(spec.data.length),
): Spectrogram {
  if (!Number.isFinite(mean)) throw new Error(`normalisation mean must be finite, got ${mean}`);
  if (!(std > 0) || !Number.isFinite(std)) throw new Error(`normalisation std must be positive, got ${std}`);
  if (data.length !== spec.data.length)
    throw new Error(`normalize: the output holds ${data.length} values, the spectrogram ${spec.data.length}`);
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
