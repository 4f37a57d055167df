/**
 * Audio bytes -> features -> top-k for an exported model, with loaa's own front end (src/audio) and any
 * onnxruntime (web or node) session, without libtorch: the browser page (examples/browser) and Node
 * programs (docs/deploy.md) share it.
 */
import { decodeAudio } from '../audio/decode.js';
import { features as frontendFeatures, specFromFile, type ClipFeatures, type FrontendFile, type FrontendSpec } from '../audio/frontend.js';
import { onnxMetadata } from './onnx_meta.js';

export { topK, type Scored } from '../infer/scores.js';

export interface ModelInfo {
  labels: string[];
  /** the front end as the metadata records it (adapter_config.json's form) */
  frontend: FrontendFile;
  /** the same, read once */
  spec: FrontendSpec;
}

export function modelInfo(model: Uint8Array): ModelInfo {
  const meta = onnxMetadata(model);
  if (!meta.labels) throw new Error('model.onnx: no "labels" in metadata_props (was it written by loaa export?)');
  if (!meta.frontend) throw new Error('model.onnx: no "frontend" in metadata_props (the adapter config had no front-end settings)');
  const frontend = JSON.parse(meta.frontend) as FrontendFile;
  return { labels: JSON.parse(meta.labels) as string[], frontend, spec: specFromFile(frontend) };
}

/** The model input of an audio file's bytes through the model's recorded front end. */
export async function features(bytes: Uint8Array, name: string, info: ModelInfo): Promise<ClipFeatures> {
  return frontendFeatures(await decodeAudio(bytes, name), info.spec, { source: name });
}
