/**
 * Audio bytes -> fbank -> top-k for an exported model, with loaa's own front end (src/audio) and any
 * onnxruntime (web or node) session, without libtorch: the browser page (examples/browser) and Node
 * programs (docs/deploy.md) share it.
 */
import { decodeAudio } from '../audio/decode.js';
import { astFeatures } from '../audio/frontend.js';
import type { Spectrogram } from '../audio/types.js';
import { onnxMetadata } from './onnx_meta.js';

export interface ModelInfo {
  labels: string[];
  frontend: { sample_rate: number; num_mel_bins: number; target_length: number; mean?: number; std?: number };
}

export function modelInfo(model: Uint8Array): ModelInfo {
  const meta = onnxMetadata(model);
  if (!meta.labels) throw new Error('model.onnx: no "labels" in metadata_props (was it written by loaa export?)');
  if (!meta.frontend) throw new Error('model.onnx: no "frontend" in metadata_props (the adapter config had no front-end settings)');
  return { labels: JSON.parse(meta.labels) as string[], frontend: JSON.parse(meta.frontend) as ModelInfo['frontend'] };
}

export async function features(bytes: Uint8Array, name: string, info: ModelInfo): Promise<Spectrogram> {
  const fe = info.frontend;
  const audio = await decodeAudio(bytes, name);
  return astFeatures(audio, { sampleRate: fe.sample_rate, numMelBins: fe.num_mel_bins, targetLength: fe.target_length, mean: fe.mean, std: fe.std }, name);
}

export interface Scored {
  label: string;
  p: number;
}

/** Softmax probabilities, best first (ties by index, as loaa predict orders them). */
export function topK(logits: ArrayLike<number>, labels: string[], k: number): Scored[] {
  const l = Array.from(logits);
  const m = Math.max(...l);
  const e = l.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  const order = l.map((_, i) => i).sort((a, b) => e[b] - e[a] || a - b);
  return order.slice(0, k).map((i) => ({ label: labels[i] ?? String(i), p: e[i] / z }));
}
