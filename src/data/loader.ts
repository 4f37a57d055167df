/**
 * Batches for training and evaluation, computed off the main thread.
 *
 * Worker threads decode, resample, featurise and augment (src/data/worker.ts) and transfer the
 * Float32Array batches back; the loader keeps `prefetch` batches in flight so that, once warm, the
 * training step finds its next batch ready. Reproducibility does not depend on the worker count:
 * the shuffle is a function of (seed, epoch), and every random draw of a clip's augmentation comes
 * from its own seed (seed, epoch, clip index). `workers: 0` computes batches in process (tests).
 *
 * Un-augmented sets can keep their features in memory (`cache`): the first epoch computes them, the
 * following ones only copy.
 */
import { Worker } from 'node:worker_threads';
import { Rng } from '../audio/rng.js';
import type { ClipRef } from './types.js';
import { viewIds, type WindowSpec } from './window.js';
import {
  processJob,
  type AugmentSpec,
  type ClipLite,
  type FrontendSpec,
  type Job,
  type JobItem,
  type JobResult,
  type WorkerReply,
  type WorkerRequest,
} from './worker.js';

export type { AugmentSpec, FrontendSpec, JobResult } from './worker.js';

/** 32-bit hash of a few integers (murmur3's finaliser after each): seeds for epochs and clips. */
export function mixSeed(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    const lo = x >>> 0;
    const hi = Math.floor(x / 2 ** 32) >>> 0;
    h = fmix(h ^ lo);
    h = fmix((h + 0x7f4a7c15) ^ hi);
  }
  return h >>> 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A fixed set of worker threads, shared by the loaders of one run. */
export class WorkerPool {
  readonly size: number;
  readonly #workers: { w: Worker; inFlight: number; dead: Error | null }[] = [];
  readonly #pending = new Map<number, { resolve: (r: JobResult) => void; reject: (e: Error) => void; slot: number }>();
  #nextId = 0;
  #rr = 0;
  #closed = false;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`workers: expected a positive integer, got ${size}`);
    this.size = size;
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: { loaaLoader: true } });
      const slot = { w, inFlight: 0, dead: null as Error | null };
      w.unref(); // an idle pool never keeps the process alive
      w.on('message', (m: WorkerReply) => this.#onReply(i, m));
      w.on('error', (e) => this.#fail(i, e));
      w.on('exit', (code) => {
        if (!this.#closed) this.#fail(i, new Error(`loader worker ${i} exited with status ${code}`));
      });
      this.#workers.push(slot);
    }
  }

  run(job: Job): Promise<JobResult> {
    if (this.#closed) return Promise.reject(new Error('loader: the worker pool is closed'));
    const slotIndex = this.#rr++ % this.size;
    const slot = this.#workers[slotIndex]!;
    if (slot.dead) return Promise.reject(slot.dead);
    const id = this.#nextId++;
    return new Promise<JobResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, slot: slotIndex });
      if (slot.inFlight++ === 0) slot.w.ref();
      slot.w.postMessage({ id, job } satisfies WorkerRequest);
    });
  }

  #onReply(i: number, m: WorkerReply): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    const slot = this.#workers[i]!;
    if (--slot.inFlight === 0) slot.w.unref();
    if ('error' in m) p.reject(new Error(m.error));
    else p.resolve(m.result);
  }

  #fail(i: number, e: Error): void {
    const slot = this.#workers[i]!;
    slot.dead = e;
    for (const [id, p] of this.#pending) {
      if (p.slot !== i) continue;
      this.#pending.delete(id);
      p.reject(new Error(`loader worker: ${e.message}`));
    }
    slot.inFlight = 0;
    slot.w.unref();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [, p] of this.#pending) p.reject(new Error('loader: the worker pool was closed'));
    this.#pending.clear();
    await Promise.all(this.#workers.map((s) => s.w.terminate()));
  }
}

export interface LoaderOptions {
  clips: ClipRef[];
  numClasses: number;
  frontend: FrontendSpec;
  /** training augmentation; null / absent for evaluation */
  augment?: AugmentSpec | null;
  batchSize: number;
  shuffle?: boolean;
  /** leave out the last, smaller batch */
  dropLast?: boolean;
  seed?: number;
  /** worker threads (0: in process), or a pool shared with other loaders */
  workers?: number | WorkerPool;
  /** batches in flight ahead of the consumer (default 2 per worker) */
  prefetch?: number;
  /** keep features in memory after the first epoch (only without augmentation) */
  cache?: boolean;
  /**
   * Data parallelism: this rank's part of every batch (positions i of the batch with
   * i % worldSize == rank, as src/distributed/sampler.ts's shardEpoch), so the ranks together read each
   * single-process batch exactly once.
   */
  shard?: { rank: number; worldSize: number };
  /**
   * The part of each clip the front end sees (src/data/window.ts). With `views` > 1 every clip is
   * read `views` times in a row (ids `<id>#view<k>`), for evaluations that average them.
   */
  window?: WindowSpec | null;
}

export interface Batch {
  epoch: number;
  /** index within the epoch */
  index: number;
  size: number;
  frames: number;
  bins: number;
  numClasses: number;
  /** [size, frames, bins] */
  x: Float32Array;
  /** [size, numClasses] one-hot / multi-hot / mixed; zeros for unlabelled clips */
  targets: Float32Array;
  /** class index per clip; -1 where unlabelled, multi-label or mixed */
  labels: Int32Array;
  /** true when some target is not a single class (mixup, multi-label): use `targets` */
  soft: boolean;
  ids: string[];
  /** indices into the loader's clips */
  clipIndices: number[];
  /** clips in this batch over all ranks (with `shard`; else `size`) */
  globalSize?: number;
}

interface Cached {
  x: Float32Array;
  target: Float32Array;
  label: number;
  soft: boolean;
}

function lite(c: ClipRef): ClipLite {
  const o: ClipLite = { id: c.id, path: c.path, label: c.label };
  if (c.start !== undefined) o.start = c.start;
  if (c.end !== undefined) o.end = c.end;
  if (c.dataset !== undefined) o.dataset = c.dataset;
  if (c.source !== undefined) o.source = c.source;
  return o;
}

export class DataLoader {
  readonly clips: ClipRef[];
  readonly batchSize: number;
  readonly numClasses: number;
  readonly frontend: FrontendSpec;
  readonly augment: AugmentSpec | null;
  readonly window: WindowSpec | null;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly shard: { rank: number; worldSize: number } | null;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly #pool: WorkerPool | null;
  readonly #ownsPool: boolean;
  readonly #cache: Map<number, Cached> | null;
  readonly #lite: ClipLite[];

  constructor(o: LoaderOptions) {
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`batchSize: expected a positive integer, got ${o.batchSize}`);
    if (!Number.isInteger(o.numClasses) || o.numClasses < 1)
      throw new Error(`numClasses: expected a positive integer, got ${o.numClasses}`);
    if (o.clips.length === 0) throw new Error('loader: no clips');
    const fe = o.frontend;
    if ((fe.mean === undefined) !== (fe.std === undefined)) throw new Error('frontend: normalisation needs both mean and std');
    const aug = o.augment ?? null;
    if (aug && aug.mixup > 0 && !(aug.mixupAlpha > 0)) throw new Error(`augment.mixup_alpha: must be positive, got ${aug.mixupAlpha}`);
    const augments = aug !== null && (aug.freqm > 0 || aug.timem > 0 || aug.mixup > 0 || aug.noise || Boolean(aug.epic));
    if (o.cache && augments) throw new Error('loader: cache is only for un-augmented sets (features change every epoch)');
    const win = o.window ?? null;
    if (win && !(win.seconds > 0 && Number.isInteger(win.views) && win.views >= 1))
      throw new Error(`loader: window of ${win.seconds} s and ${win.views} views is not a window`);
    this.window = win;
    const views = win?.views ?? 1;
    this.clips = views > 1 ? o.clips.flatMap((c) => viewIds(c.id, views).map((id) => ({ ...c, id }))) : o.clips;
    this.#lite = this.clips.map(lite);
    this.batchSize = o.batchSize;
    this.numClasses = o.numClasses;
    this.frontend = { ...fe };
    this.augment = augments ? aug : null;
    this.seed = o.seed ?? 0;
    this.shuffle = o.shuffle ?? false;
    if (
      o.shard &&
      !(
        Number.isInteger(o.shard.worldSize) &&
        o.shard.worldSize >= 1 &&
        Number.isInteger(o.shard.rank) &&
        o.shard.rank >= 0 &&
        o.shard.rank < o.shard.worldSize
      )
    ) {
      throw new Error(`loader: shard rank ${o.shard.rank} of ${o.shard.worldSize} is not a rank of the group`);
    }
    this.shard = o.shard && o.shard.worldSize > 1 ? o.shard : null;
    this.dropLast = o.dropLast ?? false;
    const workers = o.workers ?? 0;
    if (workers instanceof WorkerPool) {
      this.#pool = workers;
      this.#ownsPool = false;
    } else {
      this.#pool = workers > 0 ? new WorkerPool(workers) : null;
      this.#ownsPool = true;
    }
    this.prefetch = Math.max(1, o.prefetch ?? 2 * (this.#pool?.size ?? 0));
    this.#cache = o.cache ? new Map() : null;
    if (this.dropLast && this.length === 0) {
      throw new Error(`loader: ${o.clips.length} clips make no full batch of ${o.batchSize} (drop_last)`);
    }
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.clips.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** How many clips one epoch yields. */
  get samplesPerEpoch(): number {
    return this.dropLast ? this.length * this.batchSize : this.clips.length;
  }

  /** Clip indices in the order of epoch `epoch`. */
  order(epoch: number): Int32Array {
    const n = this.clips.length;
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    if (!this.shuffle) return idx;
    const rng = new Rng(mixSeed(this.seed, epoch, 0x5eed));
    for (let i = n - 1; i > 0; i--) {
      const j = rng.randint(0, i + 1);
      const t = idx[i]!;
      idx[i] = idx[j]!;
      idx[j] = t;
    }
    return idx;
  }

  /** Batch `index` of epoch `epoch` (computed now; the epoch iterator prefetches). */
  batch(epoch: number, index: number, order: Int32Array = this.order(epoch)): Promise<Batch> {
    if (!(index >= 0 && index < this.length)) throw new Error(`loader: batch ${index} outside 0..${this.length - 1}`);
    const from = index * this.batchSize;
    let indices = Array.from(order.subarray(from, Math.min(from + this.batchSize, order.length)));
    const globalSize = indices.length;
    const shard = this.shard;
    if (shard) indices = indices.filter((_, i) => i % shard.worldSize === shard.rank);
    const make = (r: JobResult): Batch => ({
      epoch,
      index,
      size: indices.length,
      frames: r.frames,
      bins: r.bins,
      numClasses: this.numClasses,
      x: r.x,
      targets: r.targets,
      labels: r.labels,
      soft: r.soft,
      ids: indices.map((i) => this.clips[i]!.id),
      clipIndices: indices,
      globalSize,
    });
    // a short last batch may leave this rank nothing: it still takes the step (zero gradient)
    if (indices.length === 0) {
      const none: JobResult = {
        frames: this.frontend.targetLength,
        bins: this.frontend.numMelBins,
        x: new Float32Array(0),
        targets: new Float32Array(0),
        labels: new Int32Array(0),
        soft: false,
      };
      return Promise.resolve(make(none));
    }
    const cache = this.#cache;
    if (cache && indices.every((i) => cache.has(i))) return Promise.resolve(make(this.#fromCache(indices)));
    const job: Job = {
      frontend: this.frontend,
      augment: this.augment,
      numClasses: this.numClasses,
      window: this.window,
      items: indices.map((i) => this.#item(epoch, i)),
    };
    const run = this.#pool ? this.#pool.run(job) : processJob(job);
    const p = run.then((r) => {
      if (cache) this.#toCache(indices, r);
      return make(r);
    });
    // prefetched batches may fail before anyone awaits them: the awaiting code sees the error
    p.catch(() => undefined);
    return p;
  }

  #item(epoch: number, clipIndex: number): JobItem {
    const seed = mixSeed(this.seed, epoch, clipIndex);
    const item: JobItem = { clip: this.#lite[clipIndex]!, seed };
    if (this.window && this.window.views > 1) item.view = clipIndex % this.window.views;
    const aug = this.augment;
    if (aug && aug.mixup > 0) {
      const rng = new Rng(seed);
      // AST: with probability `mixup`, a partner drawn uniformly from the whole set
      if (rng.uniform() < aug.mixup) item.mix = this.#lite[rng.randint(0, this.clips.length)]!;
    }
    return item;
  }

  #toCache(indices: number[], r: JobResult): void {
    const per = r.frames * r.bins;
    const C = this.numClasses;
    indices.forEach((ci, k) => {
      this.#cache!.set(ci, {
        x: r.x.slice(k * per, (k + 1) * per),
        target: r.targets.slice(k * C, (k + 1) * C),
        label: r.labels[k]!,
        soft: r.labels[k]! < 0 && r.targets.subarray(k * C, (k + 1) * C).some((v) => v > 0),
      });
    });
  }

  #fromCache(indices: number[]): JobResult {
    const fe = this.frontend;
    const per = fe.targetLength * fe.numMelBins;
    const C = this.numClasses;
    const x = new Float32Array(indices.length * per);
    const targets = new Float32Array(indices.length * C);
    const labels = new Int32Array(indices.length);
    let soft = false;
    indices.forEach((ci, k) => {
      const c = this.#cache!.get(ci)!;
      x.set(c.x, k * per);
      targets.set(c.target, k * C);
      labels[k] = c.label;
      soft ||= c.soft;
    });
    return { x, frames: fe.targetLength, bins: fe.numMelBins, targets, labels, soft };
  }

  /**
   * The batches of one epoch in order, from `startBatch` (resuming mid-epoch: the earlier batches
   * are not computed). Keeps `prefetch` batches in flight.
   */
  async *epoch(epoch: number, opts: { startBatch?: number } = {}): AsyncGenerator<Batch> {
    const order = this.order(epoch);
    const nb = this.length;
    let next = opts.startBatch ?? 0;
    if (!this.#pool) {
      for (; next < nb; next++) yield await this.batch(epoch, next, order);
      return;
    }
    const pending: Promise<Batch>[] = [];
    try {
      while (next < nb && pending.length < this.prefetch) pending.push(this.batch(epoch, next++, order));
      while (pending.length > 0) {
        const b = await pending.shift()!;
        // refill before handing the batch over: the workers run while the caller computes
        if (next < nb) pending.push(this.batch(epoch, next++, order));
        yield b;
      }
    } finally {
      for (const p of pending) p.catch(() => undefined);
    }
  }

  /** Stops the loader's own workers (a shared pool is closed by its owner). */
  async close(): Promise<void> {
    if (this.#ownsPool && this.#pool) await this.#pool.close();
  }
}

/**
 * AST's normalisation statistics (mean of clip means, mean of clip stds, unbiased) over the
 * un-augmented, unnormalised, padded features of `clips`.
 */
export async function computeNormStats(
  clips: ClipRef[],
  frontend: FrontendSpec,
  opts: { workers?: number | WorkerPool; batchSize?: number } = {},
): Promise<{ mean: number; std: number; clips: number }> {
  if (clips.length === 0) throw new Error('normalisation statistics: no clips');
  const pool = opts.workers instanceof WorkerPool ? opts.workers : (opts.workers ?? 0) > 0 ? new WorkerPool(opts.workers as number) : null;
  const bs = opts.batchSize ?? 64;
  const fe: FrontendSpec = { ...frontend, mean: undefined, std: undefined };
  try {
    const jobs: Promise<JobResult>[] = [];
    for (let i = 0; i < clips.length; i += bs) {
      const job: Job = {
        frontend: fe,
        augment: null,
        numClasses: 1,
        statsOnly: true,
        items: clips.slice(i, i + bs).map((c, k) => ({ clip: { ...lite(c), label: -1 }, seed: i + k })),
      };
      const p = pool ? pool.run(job) : processJob(job);
      p.catch(() => undefined); // reported when awaited below
      jobs.push(p);
    }
    let sumMean = 0;
    let sumStd = 0;
    for (const j of jobs) {
      const r = await j;
      for (let k = 0; k < r.stats!.length; k += 2) {
        sumMean += r.stats![k]!;
        sumStd += r.stats![k + 1]!;
      }
    }
    return { mean: sumMean / clips.length, std: sumStd / clips.length, clips: clips.length };
  } finally {
    if (pool && !(opts.workers instanceof WorkerPool)) await pool.close();
  }
}
