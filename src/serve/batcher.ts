/**
 * Dynamic batching: requests wait until `maxBatch` of them (for the same adapter) are queued or the
 * oldest has waited `maxWaitMs`, then go to the model together. One model call runs at a time (the
 * model already uses every core), and the queue is bounded so overload is refused early with a
 * clear answer instead of growing memory and latency without limit.
 */
import type { ClassifierBackend, ClassifyItem, Scored } from './backend.js';

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  onBatch?: (size: number) => void;
}

/** The queue is full: the caller answers 503 with Retry-After. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

interface Pending {
  item: ClassifyItem;
  adapter: string;
  enqueuedAt: number;
  cancelled: boolean;
  resolve: (r: Scored[] | Error) => void;
  reject: (e: Error) => void;
}

export interface Ticket {
  result: Promise<Scored[] | Error>;
  /** the caller gave up (timeout, client gone): skip it if it has not reached the model yet */
  cancel(): void;
}

export class Batcher {
  private readonly queue: Pending[] = [];
  private busy = false;
  private timer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];
  /** requests handed to the model in the current call */
  private running = 0;

  constructor(
    private readonly backend: ClassifierBackend,
    private readonly opts: BatcherOptions,
  ) {
    if (!(opts.maxBatch >= 1)) throw new Error(`maxBatch: expected a positive integer, got ${opts.maxBatch}`);
    if (!(opts.maxQueue >= 1)) throw new Error(`maxQueue: expected a positive integer, got ${opts.maxQueue}`);
    if (!(opts.maxWaitMs >= 0)) throw new Error(`maxWaitMs: expected a number >= 0, got ${opts.maxWaitMs}`);
  }

  get depth(): number {
    return this.queue.length;
  }

  get inModel(): number {
    return this.running;
  }

  submit(item: ClassifyItem, adapter: string): Ticket {
    if (this.queue.length >= this.opts.maxQueue) throw new QueueFullError(`queue full (${this.opts.maxQueue} requests waiting)`);
    let p!: Pending;
    const result = new Promise<Scored[] | Error>((resolve, reject) => {
      p = { item, adapter, enqueuedAt: Date.now(), cancelled: false, resolve, reject };
    });
    this.queue.push(p);
    this.schedule();
    return {
      result,
      cancel: () => {
        p.cancelled = true;
      },
    };
  }

  /** Resolves once nothing is queued or running (graceful shutdown waits on it). */
  idle(): Promise<void> {
    if (!this.busy && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private schedule(): void {
    if (this.busy) return;
    this.dropCancelled();
    if (this.queue.length === 0) {
      this.wakeIdle();
      return;
    }
    const head = this.queue[0];
    const ready = this.queue.filter((p) => p.adapter === head.adapter).length >= this.opts.maxBatch;
    const waited = Date.now() - head.enqueuedAt;
    if (ready || waited >= this.opts.maxWaitMs) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      void this.runBatch();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, this.opts.maxWaitMs - waited);
    }
  }

  private dropCancelled(): void {
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].cancelled) this.queue.splice(i, 1);
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  private async runBatch(): Promise<void> {
    this.busy = true;
    const adapter = this.queue[0].adapter;
    const batch: Pending[] = [];
    for (let i = 0; i < this.queue.length && batch.length < this.opts.maxBatch; ) {
      if (this.queue[i].adapter === adapter) batch.push(...this.queue.splice(i, 1));
      else i++;
    }
    this.running = batch.length;
    this.opts.onBatch?.(batch.length);
    try {
      const out = await this.backend.classifyBatch(
        batch.map((p) => p.item),
        adapter,
      );
      if (out.length !== batch.length) throw new Error(`the classifier returned ${out.length} results for ${batch.length} inputs`);
      batch.forEach((p, i) => {
        p.resolve(out[i]);
      });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      for (const p of batch) p.reject(err);
    } finally {
      this.running = 0;
      this.busy = false;
      // let the answers go out before the next model call takes the thread
      setImmediate(() => this.schedule());
    }
  }
}
