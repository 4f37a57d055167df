/**
 * The trainer's data-parallel seam (`TrainOptions.parallel` in src/train/trainer.ts) over a process
 * group: every call averages the gradients over the global batch in buckets. The ranks build the same
 * model from the recipe's seed; the first call also broadcasts rank 0's parameters (before the first
 * update), so that any drift between ranks' starting weights ends there.
 */
import type { Tensor } from '../tensor/tensor.js';
import type { ProcessGroup } from './group.js';
import { GradientReducer, broadcastParameters } from './reducer.js';

export interface ParallelHooks {
  rank: number;
  worldSize: number;
  allReduceGradients(params: Tensor[], counts: { local: number; global: number }): void;
}

export function parallelHooks(group: ProcessGroup, bucketBytes?: number): ParallelHooks & { reducer(): GradientReducer | null } {
  let reducer: GradientReducer | null = null;
  return {
    rank: group.rank,
    worldSize: group.worldSize,
    allReduceGradients(params, counts) {
      if (reducer === null) {
        broadcastParameters(group, params);
        reducer = new GradientReducer(group, params, bucketBytes);
      }
      reducer.reduce(counts.local, counts.global);
    },
    reducer: () => reducer,
  };
}
