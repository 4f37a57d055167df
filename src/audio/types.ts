import { LIMITS } from '../util/bounds.js';

/** Decoded audio: one Float32Array per channel, all the same length, samples nominally in [-1, 1). */
export interface DecodedAudio {
  sampleRate: number;
  channels: Float32Array[];
}

/** A time-frequency matrix, row-major `[frames, bins]` (the AST's `[T, F]`). */
export interface Spectrogram {
  data: Float32Array;
  frames: number;
  bins: number;
}

/** Highest sample rate accepted anywhere (384 kHz, the top of common converters). */
export const MAX_SAMPLE_RATE = LIMITS.maxSampleRate;

/**
 * Lowest sample rate accepted from a file (1 kHz, below any speech or sound recording): a header
 * claiming 1 Hz made resampling to 16 kHz a 16000-fold upsampling of every sample (31 s, 3.8 GB for
 * a 32 KB file).
 */
export const MIN_SAMPLE_RATE = LIMITS.minSampleRate;

export function checkSampleRate(rate: number, source: string): void {
  if (!Number.isFinite(rate) || rate <= 0) throw new Error(`${source}: invalid sample rate ${rate} Hz`);
  if (rate > MAX_SAMPLE_RATE) throw new Error(`${source}: sample rate ${rate} Hz is above the ${MAX_SAMPLE_RATE} Hz limit`);
  if (rate < MIN_SAMPLE_RATE) throw new Error(`${source}: sample rate ${rate} Hz is below the ${MIN_SAMPLE_RATE} Hz limit`);
}

/** Channels a decoded file may have (WAV allows 65535; nothing recorded has more than a few dozen). */
export const MAX_CHANNELS = 256;

/** Throws on the first NaN or infinite sample: decoded audio is never silently repaired. */
export function checkFinite(x: ArrayLike<number>, source: string, what = 'sample'): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v - v !== 0) throw new Error(`${source}: ${what} ${i} is ${Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf'}`);
  }
}

/** Checks a whole decode: channels present, equal length, at least one sample, all finite. */
export function checkDecoded(audio: DecodedAudio, source: string): DecodedAudio {
  checkSampleRate(audio.sampleRate, source);
  if (audio.channels.length === 0) throw new Error(`${source}: no audio channels`);
  if (audio.channels.length > MAX_CHANNELS)
    throw new Error(`${source}: ${audio.channels.length} channels is above the ${MAX_CHANNELS}-channel limit`);
  const n = audio.channels[0].length;
  if (n === 0) throw new Error(`${source}: zero samples`);
  audio.channels.forEach((ch, c) => {
    if (ch.length !== n) throw new Error(`${source}: channel ${c} has ${ch.length} samples, channel 0 has ${n}`);
    checkFinite(ch, source, `channel ${c} sample`);
  });
  return audio;
}

/** Average the channels (the AST front end's downmix). Sums in float64, rounds once. */
export function toMono(audio: DecodedAudio): Float32Array {
  const chs = audio.channels;
  if (chs.length === 1) return chs[0];
  const n = chs[0].length;
  const acc = new Float64Array(n);
  for (const ch of chs) for (let i = 0; i < n; i++) acc[i] += ch[i];
  const out = new Float32Array(n);
  const k = 1 / chs.length;
  for (let i = 0; i < n; i++) out[i] = acc[i] * k;
  return out;
}
