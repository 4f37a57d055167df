export { Tensor, type DType, type Device, type TensorLike } from './tensor.js';
export * from './functional.js';
export { scope, scopeDepth } from './scope.js';
