/**
 * The trainer's data-parallel seam (`TrainOptions.parallel` in src/train/trainer.ts) over a process
 * group: every call averages the gradients over the global batch in buckets. The ranks build the same
 * model from the recipe's seed; the first call also broadcasts rank 0's parameters (before the first
 * update), so that any drift between ranks' starting weights ends there. Evaluation is sharded
 * (`evalShard`) and its rows gathered back into clip order on every rank (`gatherEval`).
 */
import { emptyRows, type EvalRows } from '../train/step.js';
import type { ParallelHooks } from '../train/trainer.js';
import { tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import type { ProcessGroup } from './group.js';
import { GradientReducer, broadcastParameters } from './reducer.js';
import { evalShard } from './sampler.js';
import { gatherRows } from './gather.js';

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
    evalShard: (n) => evalShard(n, group.rank, group.worldSize),
    gatherEval: (rows, n) => gatherEvalRows(group, rows, n),
    barrier: () => group.barrier(),
    // NCCL: a GPU per rank, so an unnumbered CUDA device (cuda, auto) becomes this rank's own;
    // an explicit cuda:N is the user's choice
    device: (requested) => (group.device.startsWith('cuda') && (requested === 'cuda' || requested === 'auto') ? group.device : requested),
    reducer: () => reducer,
  };
}

/**
 * One all-gather of [m, 2C + 1] float32 rows (logits, targets, label: float32 holds every class
 * index exactly) and one sum of (loss, soft clips): what the metrics need, in clip order.
 */
export function gatherEvalRows(group: ProcessGroup, rows: EvalRows, n: number): EvalRows {
  const C = rows.numClasses;
  const m = rows.labels.length;
  if (rows.logits.length !== m * C || rows.targets.length !== m * C) {
    throw new Error(
      `gatherEval: rank ${group.rank} has ${m} labels but ${rows.logits.length} logits / ${rows.targets.length} targets for ${C} classes`,
    );
  }
  const w = 2 * C + 1;
  const packed = new Float32Array(m * w);
  for (let i = 0; i < m; i++) {
    packed.set(rows.logits.subarray(i * C, (i + 1) * C), i * w);
    packed.set(rows.targets.subarray(i * C, (i + 1) * C), i * w + C);
    packed[i * w + 2 * C] = rows.labels[i]!;
  }
  const all = scope(() => {
    const local = tensor(packed, [m, w]);
    const onDevice = group.device === 'cpu' ? local : local.to(null, group.device);
    return gatherRows(group, onDevice, n).data<'float32'>();
  });
  const out = emptyRows(C, n);
  for (let i = 0; i < n; i++) {
    out.logits.set(all.subarray(i * w, i * w + C), i * C);
    out.targets.set(all.subarray(i * w + C, i * w + 2 * C), i * C);
    out.labels[i] = all[i * w + 2 * C]!;
  }
  const [lossSum, soft] = group.sumNumbers([rows.lossSum, rows.soft ? 1 : 0]);
  out.lossSum = lossSum!;
  out.soft = soft! > 0;
  return out;
}
