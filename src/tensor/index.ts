export { Tensor, type DType, type Device, type TensorLike } from './tensor.js';
export * from './functional.js';
export { scope, scopeDepth } from './scope.js';
export {
  autocast,
  autocastDtype,
  cpuAutocastLimitation,
  deviceType,
  parsePrecision,
  precisionDtype,
  type AutocastDevice,
  type LowDType,
  type Precision,
} from './autocast.js';
export { cudaAvailable, cudaDeviceCount, moveTo_, resolveDevice, toDevice } from './device.js';
export { measureCpuBf16, resolvePrecision } from './precision.js';
export {
  activeGemm,
  chooseGemm,
  describeGemm,
  GEMM_KERNELS,
  gemmChoice,
  gemmKernels,
  gemmLibraries,
  gemmMm,
  measureGemm,
  setGemm,
  VIT_B_SHAPES,
  type GemmChoice,
  type GemmKernel,
  type GemmShape,
} from './gemm.js';
