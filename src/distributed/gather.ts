/**
 * Sharded evaluation: each rank computes the rows of its `evalShard` positions; `gatherRows` gives
 * every rank all n rows in clip order, so the metrics are computed from the same numbers a single
 * process would have.
 */
import type { Tensor } from '../tensor/tensor.js';
import { cat, stack, zeros } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import type { ProcessGroup } from './group.js';
import { evalShardSize } from './sampler.js';

/** `local`: [m, ...] rows of this rank's evalShard(n); returns [n, ...] in clip order. */
export function gatherRows(group: ProcessGroup, local: Tensor, n: number): Tensor {
  const W = group.worldSize;
  const want = evalShardSize(n, group.rank, W);
  if (local.shape[0] !== want) {
    throw new Error(`gatherRows: rank ${group.rank} has ${local.shape[0]} rows, its shard of ${n} clips over ${W} ranks is ${want}`);
  }
  if (W === 1) return local;
  const rows = Math.ceil(n / W);
  const rest = local.shape.slice(1);
  return scope(() => {
    // All-gather needs equal shapes: pad the short shards with zero rows, dropped below.
    const padded =
      local.shape[0] === rows
        ? local.contiguous()
        : cat([local, zeros([rows - local.shape[0]!, ...rest], { dtype: local.dtype, device: local.device })]);
    const all = group.allGather(padded);
    // Rank r's row i is clip position i * W + r: stack by rank, then read rank-fastest.
    const byPosition = stack(all, 1).reshape(rows * W, ...rest);
    return byPosition.narrow(0, 0, n).contiguous();
  });
}
