/**
 * The one thing the server and batch predict need from a model: classify a batch of inputs with a
 * named adapter. Kept this small so both can run against `AudioClassifier` or against a test double.
 */

/** Mono audio at its own rate (the backend resamples), or model-ready features. */
export type ClassifyInput =
  | { kind: 'audio'; samples: Float32Array; sampleRate: number }
  | { kind: 'features'; data: Float32Array; shape: number[] };

/** A label and its probability: the one definition, in src/util/scores.ts (no imports, no libtorch). */
export type { Scored } from '../util/scores.js';
import type { Scored } from '../util/scores.js';

export interface ClassifyItem {
  input: ClassifyInput;
  /** labels to return, best first */
  topK: number;
}

export interface ClassifierBackend {
  /** adapter names, the default first */
  adapters(): string[];
  /**
   * One result per item, in order. An item the model cannot take (wrong feature shape, clip too
   * short) is an `Error` in its slot, so one bad request does not fail the batch; a throw means the
   * whole batch failed.
   */
  classifyBatch(items: ClassifyItem[], adapter: string): Promise<(Scored[] | Error)[]>;
}
