/**
 * The ONNX classify helpers under their old import path (src/onnx holds them now). `topK` here keeps
 * the `p` key that `loaa predict --json` prints, for the tests that compare the two; `loaa/onnx` says `score`.
 */
import { topK as scored } from '../onnx/frontend.js';

export { features, modelInfo, type ModelInfo } from '../onnx/frontend.js';

export function topK(logits: ArrayLike<number>, labels: string[], k: number): { label: string; p: number }[] {
  return scored(logits, labels, k).map((s) => ({ label: s.label, p: s.score }));
}
