/**
 * A process group as the trainer sees it: collectives on `Tensor`s, a world of one without any
 * native machinery, and errors that already name this rank, the operation and the lost rank.
 */
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { cudaDeviceCount } from '../tensor/device.js';
import type { DistConfig } from './env.js';
import { nativeDist, type NativeGroup } from './native.js';

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  /**
   * Where this rank's collective tensors must live: the CPU for Gloo; for NCCL this rank's GPU,
   * cuda:(LOCAL_RANK mod the visible GPUs), as torchrun scripts pick theirs.
   */
  readonly device: string;
  #native: NativeGroup | null;
  /** bytes this rank sent into all-reduces so far (the payload, not the wire protocol's) */
  allReducedBytes = 0;

  private constructor(rank: number, worldSize: number, n: NativeGroup | null, device = 'cpu') {
    this.rank = rank;
    this.worldSize = worldSize;
    this.device = device;
    this.#native = n;
  }

  /** A world of one: every collective is the identity. */
  static single(): ProcessGroup {
    return new ProcessGroup(0, 1, null);
  }

  /**
   * Joins the group described by `cfg` (blocks until every rank has joined, or the timeout). A world
   * of one has no native group unless `native` asks for one (a backend check on a single GPU).
   */
  static join(cfg: DistConfig, o: { native?: boolean } = {}): ProcessGroup {
    if (cfg.worldSize === 1 && !o.native) return ProcessGroup.single();
    const d = nativeDist();
    const n = new d.ProcessGroup({
      backend: cfg.backend,
      rank: cfg.rank,
      worldSize: cfg.worldSize,
      masterAddr: cfg.masterAddr,
      masterPort: cfg.masterPort,
      timeoutMs: cfg.timeoutMs,
      ...(cfg.host ? { host: cfg.host } : {}),
      ...(cfg.iface ? { iface: cfg.iface } : {}),
    });
    return new ProcessGroup(cfg.rank, cfg.worldSize, n, cfg.backend === 'nccl' ? ncclDevice(cfg.localRank) : 'cpu');
  }

  get isMain(): boolean {
    return this.rank === 0;
  }
  get distributed(): boolean {
    return this.#native !== null;
  }

  #open(op: string): NativeGroup | null {
    if (this.#native === null && this.worldSize > 1)
      throw new Error(`dist rank ${this.rank}/${this.worldSize} ${op}: the process group is closed`);
    return this.#native;
  }

  /** Sums the tensors over the ranks, in place. */
  allReduceSum(ts: Tensor[]): void {
    const n = this.#open('allreduce');
    if (!n) return;
    n.allreduce(ts.map((t) => t.native));
    this.allReducedBytes += bytesOf(ts);
  }

  /** Starts a sum (in place) and returns a handle for `wait`, so that several travel at once. */
  allReduceSumAsync(ts: Tensor[]): number {
    const n = this.#open('allreduce');
    if (!n) return 0;
    this.allReducedBytes += bytesOf(ts);
    return n.allreduce(
      ts.map((t) => t.native),
      true,
    );
  }

  wait(work: number): void {
    const n = this.#open('wait');
    if (n) n.wait(work);
  }

  /** Sums plain numbers over the ranks (float64: exact for counts up to 2^53). */
  sumNumbers(xs: number[]): number[] {
    if (!this.#open('allreduce') || xs.length === 0) return xs.slice();
    return scope(() => {
      const host = tensor(Float64Array.from(xs), [xs.length], 'float64');
      const t = this.device === 'cpu' ? host : host.to(null, this.device);
      this.allReduceSum([t]);
      return t.toArray();
    });
  }

  /** Copies the root's tensors into everyone's, in place. */
  broadcast(ts: Tensor[], root = 0): void {
    const n = this.#open('broadcast');
    if (n)
      n.broadcast(
        ts.map((t) => t.native),
        root,
      );
  }

  /** Every rank's `t` (all the same shape), by rank. */
  allGather(t: Tensor): Tensor[] {
    const n = this.#open('allgather');
    if (!n) return [t];
    return n.allgather([t.native]).map((x) => new Tensor(x));
  }

  barrier(): void {
    const n = this.#open('barrier');
    if (n) n.barrier();
  }

  /**
   * Tells the others this rank is failing on its own account (so they do not report it as lost) -
   * for errors outside collectives, such as a bad batch, before the process exits.
   */
  markFailed(why: string): void {
    this.#native?.markFailed(why);
  }

  /** Leaves the group (after a barrier, so that rank 0's store outlives the others' last call). */
  close(opts: { barrier?: boolean } = {}): void {
    const n = this.#native;
    if (!n) return;
    if (opts.barrier ?? true) n.barrier();
    n.shutdown();
    this.#native = null;
  }
}

/** NCCL wants one GPU per rank: a node's ranks take its GPUs in turn. */
export function ncclDevice(localRank: number, gpus = cudaDeviceCount()): string {
  if (gpus < 1) throw new Error(`dist backend nccl: rank ${localRank} on this node sees no CUDA device`);
  return `cuda:${localRank % gpus}`;
}

function bytesOf(ts: Tensor[]): number {
  let b = 0;
  for (const t of ts)
    b += t.numel * (t.dtype === 'float64' || t.dtype === 'int64' ? 8 : t.dtype === 'float16' || t.dtype === 'bfloat16' ? 2 : 4);
  return b;
}
