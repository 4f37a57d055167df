/**
 * Audio bytes -> fbank -> top-k for an exported model, with loaa's own front end (src/audio) and any
 * onnxruntime (web or node), without libtorch: `loaa/onnx` (Node) and the browser page
 * (examples/browser) share it, so both compute exactly the features `loaa predict` computes.
 */
import { decodeAudio } from '../audio/decode.js';
import { features as frontendFeatures, specFromFile, type ClipFeatures, type FrontendFile, type FrontendSpec } from '../audio/frontend.js';
import type { DecodedAudio } from '../audio/types.js';
import { onnxMetadata } from './metadata.js';

export { topK, type Scored } from '../util/scores.js';
export type { ClipFeatures } from '../audio/frontend.js';

export interface ModelInfo {
  labels: string[];
  /** the front end as the metadata records it (adapter_config.json's form) */
  frontend: FrontendFile;
  /** the same, read once */
  spec: FrontendSpec;
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
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string'))
    throw new Error(`${source}: metadata_props "labels" is not a list of strings`);
  const fe = frontend as Partial<FrontendFile> | null;
  for (const k of ['sample_rate', 'num_mel_bins', 'target_length'] as const) {
    if (typeof fe?.[k] !== 'number') throw new Error(`${source}: metadata_props "frontend".${k} is missing or not a number`);
  }
  return { labels, frontend: fe as FrontendFile, spec: specFromFile(fe as FrontendFile) };
}

/** Features of decoded audio (any rate, any channels): the one front end, with the model's recorded settings. */
export function featuresOf(audio: DecodedAudio, info: ModelInfo, name = 'audio'): ClipFeatures {
  return frontendFeatures(audio, info.spec, { source: name });
}

/** Features of an encoded file's bytes (WAV, FLAC, Ogg/Vorbis, MP3); `name` names it in errors. */
export async function features(bytes: Uint8Array, name: string, info: ModelInfo): Promise<ClipFeatures> {
  return featuresOf(await decodeAudio(bytes, name), info, name);
}
