/**
 * Audio bytes -> fbank -> top-k for an exported model, with loaa's own front end (src/audio) and any
 * onnxruntime (web or node), without libtorch: `loaa/onnx` (Node) and the browser page
 * (examples/browser) share it, so both compute exactly the features `loaa predict` computes.
 */
import { decodeAudio } from '../audio/decode.js';
import { astFeatures } from '../audio/frontend.js';
import { frameLayout } from '../audio/kaldi.js';
import type { DecodedAudio, Spectrogram } from '../audio/types.js';
import { onnxMetadata } from './metadata.js';

export interface ModelInfo {
  labels: string[];
  frontend: { sample_rate: number; num_mel_bins: number; target_length: number; mean?: number; std?: number };
}

/** Labels and front-end settings from an exported model's metadata_props; `source` names it in errors. */
export function modelInfo(model: Uint8Array, source = 'model.onnx'): ModelInfo {
  const meta = onnxMetadata(model, source);
  if (!meta.labels) throw new Error(`${source}: no "labels" in metadata_props (was it written by loaa export?)`);
  if (!meta.frontend) throw new Error(`${source}: no "frontend" in metadata_props (the adapter config had no front-end settings)`);
  let labels: unknown;
  let frontend: unknown;
  try {
    labels = JSON.parse(meta.labels);
    frontend = JSON.parse(meta.frontend);
  } catch (e) {
    throw new Error(`${source}: metadata_props "labels"/"frontend" is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) throw new Error(`${source}: metadata_props "labels" is not a list of strings`);
  const fe = frontend as Partial<ModelInfo['frontend']> | null;
  for (const k of ['sample_rate', 'num_mel_bins', 'target_length'] as const) {
    if (typeof fe?.[k] !== 'number') throw new Error(`${source}: metadata_props "frontend".${k} is missing or not a number`);
  }
  return { labels, frontend: fe as ModelInfo['frontend'] };
}

/** The model input of a clip, and how many of its frames the clip fills (the rest is padding). */
export interface ClipFeatures extends Spectrogram {
  clipFrames: number;
}

/** Features of decoded audio (any rate, any channels), padded or cropped to the model's frames. */
export function featuresOf(audio: DecodedAudio, info: ModelInfo, name = 'audio'): ClipFeatures {
  const fe = info.frontend;
  const spec = astFeatures(audio, { sampleRate: fe.sample_rate, numMelBins: fe.num_mel_bins, targetLength: fe.target_length, mean: fe.mean, std: fe.std }, name);
  // Kaldi frames with snip_edges: 1 + floor((n - window) / shift) over the resampled clip
  const { windowShift, windowSize } = frameLayout({ sampleFrequency: fe.sample_rate, frameLength: 25, frameShift: 10, roundToPowerOfTwo: true });
  const n = Math.round(((audio.channels[0]?.length ?? 0) * fe.sample_rate) / audio.sampleRate);
  const clipFrames = Math.max(0, Math.min(spec.frames, n < windowSize ? 0 : 1 + Math.floor((n - windowSize) / windowShift)));
  return { ...spec, clipFrames };
}

/** Features of an encoded file's bytes (WAV, FLAC, Ogg/Vorbis, MP3); `name` names it in errors. */
export async function features(bytes: Uint8Array, name: string, info: ModelInfo): Promise<ClipFeatures> {
  return featuresOf(await decodeAudio(bytes, name), info, name);
}

export interface Scored {
  label: string;
  score: number;
}

/** Softmax probabilities, best first (ties by index, as loaa predict orders them). */
export function topK(logits: ArrayLike<number>, labels: string[], k: number): Scored[] {
  const l = Array.from(logits);
  const m = Math.max(...l);
  const e = l.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  const order = l.map((_, i) => i).sort((a, b) => e[b] - e[a] || a - b);
  return order.slice(0, k).map((i) => ({ label: labels[i] ?? String(i), score: e[i] / z }));
}
