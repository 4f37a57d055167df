/**
 * `loaa/onnx`: run a model written by `loaa export` with onnxruntime-node, without libtorch (an
 * optional peer: `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node`). See docs/deploy.md.
 */
export { OnnxClassifier, type OnnxInput, type OnnxLoadOptions, type OnnxClassifyOptions } from './classifier.js';
export { modelInfo, features, featuresOf, topK, type ModelInfo, type ClipFeatures, type Scored } from './frontend.js';
export { onnxMetadata } from './metadata.js';
export { INSTALL_ORT_NODE } from './runtime.js';
