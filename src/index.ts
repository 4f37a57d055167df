/**
 * `loaa`: the package's curated surface. Everything here is public and kept working across minor
 * versions; deeper modules are reachable only through the subpaths in package.json's `exports`
 * (`loaa/audio`, `loaa/models`, `loaa/peft`, `loaa/train`).
 */
export { loadAst, AudioSpectrogramTransformer, type AstConfig, type AstOptions } from './models/ast.js';
export { pullBackbone } from './models/pull.js';
export { applyPeft } from './peft/methods.js';
export { parsePeft, type PeftConfig } from './peft/config.js';
export { saveAdapter, loadAdapter, readAdapterConfig, type AdapterConfigFile, type BackboneRecord } from './peft/checkpoint.js';
export { decodeAudio, readAudio } from './audio/decode.js';
export { astFeatures } from './audio/frontend.js';
export type { DecodedAudio, Spectrogram } from './audio/types.js';
export { startServer, type ServeOptions, type ServerHandle } from './serve/server.js';
export type { ClassifierBackend, ClassifyInput, ClassifyItem, Scored } from './serve/backend.js';
export { runBatchPredict, type BatchPredictOptions } from './batch/cli.js';
export {
  AudioClassifier,
  type FromPretrainedOptions,
  type AudioInput,
  type ClassifyOptions,
  type ClassifyManyOptions,
  type ClassifyOutcome,
  type ClassifyManyResult,
  type Device,
  type Precision,
} from './api/classifier.js';
export type { FileTimeline, FileTimelineOptions } from './infer/file_timeline.js';
export type { Segment } from './infer/timeline.js';
export { recordBackbone, readBackbone, fileProvenance, randomProvenance, type BackboneProvenance } from './infer/provenance.js';
