export {
  rankFromEnv,
  launchPlan,
  rankEnv,
  threadsPerRank,
  DEFAULT_TIMEOUT_MS,
  type DistConfig,
  type DistFlags,
  type LaunchPlan,
  type Backend,
} from './env.js';
export { shardEpoch, evalShard, evalShardSize, type ShardStep, type ShardOptions } from './sampler.js';
export { ProcessGroup } from './group.js';
export { GradientReducer, broadcastParameters, DEFAULT_BUCKET_BYTES } from './reducer.js';
export { gatherRows } from './gather.js';
export { launchLocal, type LaunchResult } from './launch.js';
export { parallelHooks } from './hooks.js';
