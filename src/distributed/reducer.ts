/**
 * Gradient averaging for data-parallel steps, in buckets as DDP does: the trainable tensors' gradients
 * are flattened into a few contiguous buffers of about `bucketBytes`, and all buckets' all-reduces are
 * started before the first is waited for, so Gloo's threads move one bucket while the next is packed.
 * (Overlap with the backward pass itself would need per-tensor autograd hooks in the addon; the
 * backward here is one native call, so the reduction follows it.)
 *
 * Each rank scales its gradient (a mean over its own clips) by its share of the global batch before
 * the sum, so the result is the mean over the global batch exactly as one process would compute it,
 * also for an uneven last batch where the ranks hold different numbers of clips.
 */
import type { Tensor } from '../tensor/tensor.js';
import { cat, noGrad, zeros } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import type { ProcessGroup } from './group.js';

export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024; // DDP's default bucket_cap_mb

export class GradientReducer {
  readonly buckets: Tensor[][];
  /** float32 bytes each rank all-reduces per step: the trainable tensors' size */
  readonly bytesPerStep: number;

  constructor(
    readonly group: ProcessGroup,
    params: Tensor[],
    bucketBytes = DEFAULT_BUCKET_BYTES,
  ) {
    if (!(bucketBytes > 0)) throw new Error(`reducer: bucketBytes must be positive, got ${bucketBytes}`);
    for (const [i, p] of params.entries()) {
      if (p.dtype !== 'float32') throw new Error(`reducer: parameter ${i} is ${p.dtype}; gradients are reduced as float32`);
    }
    this.buckets = [];
    let cur: Tensor[] = [];
    let bytes = 0;
    // Reverse order, as DDP: the last layers' gradients are the first ones ready in a backward pass.
    for (const p of [...params].reverse()) {
      const b = p.numel * 4;
      if (cur.length && bytes + b > bucketBytes) {
        this.buckets.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(p);
      bytes += b;
    }
    if (cur.length) this.buckets.push(cur);
    this.bytesPerStep = params.reduce((s, p) => s + p.numel * 4, 0);
  }

  /**
   * Replaces every parameter's gradient with the global-batch mean. `localCount` clips were used on
   * this rank (its loss a mean over them), `globalCount` over all ranks. A parameter without a
   * gradient (a rank with no clips in this step) counts as zero and gets one.
   */
  reduce(localCount: number, globalCount: number): void {
    if (!(globalCount > 0)) throw new Error(`reducer: globalCount must be positive, got ${globalCount}`);
    if (!this.group.distributed) {
      if (localCount !== globalCount) throw new Error(`reducer: one process saw ${localCount} of ${globalCount} clips`);
      return;
    }
    const weight = localCount / globalCount;
    noGrad(() =>
      scope(() => {
        const flats = this.buckets.map((bucket) => {
          const flat = cat(
            bucket.map((p) => {
              const g = p.grad;
              return g === null ? zeros([p.numel], { device: p.device }) : g.contiguous().view(p.numel);
            }),
          );
          if (weight !== 1) flat.mul_(weight);
          return { flat, work: this.group.allReduceSumAsync([flat]) };
        });
        for (const [b, { flat, work }] of flats.entries()) {
          this.group.wait(work);
          let offset = 0;
          for (const p of this.buckets[b]!) {
            const part = flat.narrow(0, offset, p.numel).view(...p.shape);
            offset += p.numel;
            const g = p.grad;
            if (g === null) p.grad = part.clone();
            else g.copy_(part);
          }
        }
      }),
    );
  }
}

/** Makes every rank's parameters rank `root`'s (at start, so that all begin from the same weights). */
export function broadcastParameters(group: ProcessGroup, params: Tensor[], root = 0): void {
  if (!group.distributed) return;
  noGrad(() =>
    scope(() => {
      for (const p of params) {
        // In place: Gloo writes the shared storage of this detached view (the addon rejects gaps).
        group.broadcast([p.detach()], root);
      }
    }),
  );
}
