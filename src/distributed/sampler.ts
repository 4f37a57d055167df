/**
 * Which clips each rank reads: DistributedSampler's semantics (a deterministic order from the seed and
 * the epoch, split by rank with stride `worldSize`) applied inside every global batch, so that a run on
 * W ranks takes the same optimizer steps on the same clips as one process with the same batch size:
 * global batch k is positions [kB, (k+1)B) of the epoch's order, and rank r takes the positions
 * p with p % W == r.
 *
 * Unlike torch's DistributedSampler, nothing is padded: a clip is never seen twice in an epoch. An
 * uneven last batch gives the ranks ceil or floor of its size over W (a rank may get none and then
 * contributes a zero gradient); gradients are weighted by each rank's share of the global batch, so the
 * step still equals the single-process mean (see `GradientReducer`).
 */

export interface ShardStep {
  /** clip indices this rank reads in this step, in the epoch order */
  indices: number[];
  /** clips in this step over all ranks (the global batch's size) */
  globalCount: number;
}

export interface ShardOptions {
  rank: number;
  worldSize: number;
  /** the global batch size (the recipe's `train.batch_size`) */
  batchSize: number;
  /** drop a last global batch smaller than batchSize (as the single-process loader would) */
  dropLast?: boolean;
}

function check(o: ShardOptions): void {
  if (!Number.isInteger(o.worldSize) || o.worldSize < 1)
    throw new Error(`sampler: worldSize must be a positive integer, got ${o.worldSize}`);
  if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.worldSize)
    throw new Error(`sampler: rank ${o.rank} is outside [0, ${o.worldSize})`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
    throw new Error(`sampler: batchSize must be a positive integer, got ${o.batchSize}`);
}

/** This rank's part of every step of an epoch whose clip order is `order`. */
export function shardEpoch(order: ArrayLike<number>, o: ShardOptions): ShardStep[] {
  check(o);
  const n = order.length;
  const steps = o.dropLast ? Math.floor(n / o.batchSize) : Math.ceil(n / o.batchSize);
  const out: ShardStep[] = [];
  for (let k = 0; k < steps; k++) {
    const from = k * o.batchSize;
    const to = Math.min(from + o.batchSize, n);
    const indices: number[] = [];
    for (let p = from + o.rank; p < to; p += o.worldSize) indices.push(order[p]!);
    out.push({ indices, globalCount: to - from });
  }
  return out;
}

/**
 * Evaluation: rank r takes positions r, r+W, r+2W, ... of `n` clips (no padding, no duplicates);
 * `unshard` puts the gathered rows back in clip order.
 */
export function evalShard(n: number, rank: number, worldSize: number): number[] {
  check({ rank, worldSize, batchSize: 1 });
  const out: number[] = [];
  for (let p = rank; p < n; p += worldSize) out.push(p);
  return out;
}

/** Rows per rank of `evalShard` for n clips: ranks below n % W have one more. */
export function evalShardSize(n: number, rank: number, worldSize: number): number {
  return Math.floor(n / worldSize) + (rank < n % worldSize ? 1 : 0);
}
