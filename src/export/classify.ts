/**
 * The ONNX classify helpers under their old import path: `loaa/onnx` (src/onnx) holds them now, and
 * the browser page and Node programs import them from there.
 */
export { features, featuresOf, modelInfo, type ModelInfo } from '../onnx/frontend.js';
export { topK, type Scored } from '../util/scores.js';
