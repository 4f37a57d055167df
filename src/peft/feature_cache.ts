/**
 * Frozen-backbone features kept across epochs for a linear probe (issue #12): with the backbone
 * frozen, in eval mode, and no augmentation, a clip's pooled features are the same every epoch, so
 * only the head needs computing after the first. Entries are keyed by the backbone's sha256, the
 * front-end settings and the clip, so a change to any of them misses instead of returning stale
 * features; memory is bounded (least recently used entries go first). With augmentation the cache
 * is off: every call computes.
 */
import { createHash } from 'node:crypto';
import { noGrad, stack, tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { forEachChunk } from '../util/guarded_fs.js';

/** What identifies the computation apart from the clip: backbone weights and front-end settings. */
export interface FeatureContext {
  /** sha256 of the backbone checkpoint (see sha256File) */
  backbone: string;
  /** the front end's settings (sample rate, mel bins, frames, mean/std, ...) */
  frontend: Record<string, unknown>;
}

export interface FeatureCacheOptions {
  /** bound on the cached features in bytes (default 256 MiB) */
  maxBytes?: number;
  /** augmentation changes every epoch's input: the cache then never stores or returns anything */
  augment?: boolean;
}

/** A model that gives pooled features [B, D] for input [B, T, F]. */
export interface FeatureModel {
  features(x: Tensor): Tensor;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  forEachChunk(path, { what: 'the backbone checkpoint' }, (b) => h.update(b));
  return h.digest('hex');
}

/** Key order fixed so that equal settings written in another order hit the same entry. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export class FeatureCache {
  readonly maxBytes: number;
  readonly enabled: boolean;
  #bytes = 0;
  // a Map iterates in insertion order: re-inserting on a hit makes the first key the least recent
  readonly #entries = new Map<string, Float32Array>();
  hits = 0;
  misses = 0;

  constructor(opts: FeatureCacheOptions = {}) {
    this.maxBytes = opts.maxBytes ?? 256 * 2 ** 20;
    if (!(this.maxBytes >= 0)) throw new Error(`FeatureCache: maxBytes must be >= 0, got ${opts.maxBytes}`);
    this.enabled = !opts.augment;
  }

  get size(): number {
    return this.#entries.size;
  }
  get bytes(): number {
    return this.#bytes;
  }

  static key(ctx: FeatureContext, clip: string): string {
    if (!/^[0-9a-f]{64}$/.test(ctx.backbone)) throw new Error(`FeatureCache: backbone must be a sha256 hex digest, got "${ctx.backbone}"`);
    return stable([ctx.backbone, ctx.frontend, clip]);
  }

  /**
   * Pooled features [B, D] of a batch, no autograd: cached rows for clips seen before, the model's
   * features for the batch otherwise (then stored). `clips` names each row of `input()`; `input` is
   * only called on a miss, so a fully cached batch needs no front end either.
   */
  features(model: FeatureModel, ctx: FeatureContext, clips: readonly string[], input: () => Tensor): Tensor {
    const keys = clips.map((c) => FeatureCache.key(ctx, c));
    const rows = this.enabled ? keys.map((k) => this.#get(k)) : [];
    if (this.enabled && rows.every((r) => r !== undefined)) {
      this.hits += keys.length;
      return scope(() =>
        stack(
          rows.map((r) => tensor(r as Float32Array, [r!.length])),
          0,
        ),
      );
    }
    this.misses += keys.length;
    return noGrad(() =>
      scope(() => {
        const x = input();
        if (x.shape[0] !== clips.length) throw new Error(`FeatureCache: ${clips.length} clip names for a batch of ${x.shape[0]}`);
        const f = model.features(x);
        if (this.enabled) {
          const flat = f.toFloat32();
          const D = f.shape[1];
          keys.forEach((k, i) => {
            this.#set(k, flat.slice(i * D, (i + 1) * D));
          });
        }
        return f.detach();
      }),
    );
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  #get(k: string): Float32Array | undefined {
    const v = this.#entries.get(k);
    if (v) {
      this.#entries.delete(k);
      this.#entries.set(k, v);
    }
    return v;
  }

  #set(k: string, v: Float32Array): void {
    const old = this.#entries.get(k);
    if (old) {
      this.#bytes -= old.byteLength;
      this.#entries.delete(k);
    }
    if (v.byteLength > this.maxBytes) return;
    this.#entries.set(k, v);
    this.#bytes += v.byteLength;
    for (const [key, val] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(key);
      this.#bytes -= val.byteLength;
    }
  }
}
