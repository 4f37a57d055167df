export {
  Optimizer,
  type GroupOptions,
  type GroupInput,
  type ParamGroup,
  type ParamState,
  type OptimizerStateDict,
  type OptimizerMeta,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { clipGradNorm } from './clip.js';
export { constantLr, stepDecayLr, multiStepLr, epicLr, cosineLr, type LrSchedule, type WarmupOptions } from './schedule.js';
