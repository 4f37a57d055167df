/**
 * Dynamic loss scaling for fp16, as torch.cuda.amp.GradScaler: the loss is multiplied by `scale`
 * before backward so small gradients survive fp16; before the optimizer step the gradients are
 * divided back and checked. A step whose gradients hold inf/NaN is skipped and the scale halves;
 * after `growthInterval` good steps in a row it doubles. bf16 and fp32 need none of this (bf16 has
 * fp32's exponent range): the scaler is then disabled and passes everything through.
 */
import type { Tensor } from '../tensor/tensor.js';
import { noGrad, stack } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';

export interface GradScalerOptions {
  enabled?: boolean;
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
  /** told about each skipped step (the trainer logs it) */
  onSkip?: (info: { step: number; scale: number; newScale: number }) => void;
}

export interface GradScalerState {
  scale: number;
  growthTracker: number;
  skipped: number;
}

/** What a loop checkpoint restores (src/train/checkpoint.ts): `steps` keeps skip messages on the loop's step numbers. */
export type GradScalerRestore = Pick<GradScalerState, 'scale' | 'growthTracker'> & { skipped?: number; steps?: number };

export class GradScaler {
  readonly enabled: boolean;
  scale: number;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  /** good steps since the last change of scale */
  growthTracker = 0;
  /** steps skipped so far for non-finite gradients */
  skipped = 0;
  #steps = 0;
  readonly #onSkip: GradScalerOptions['onSkip'];

  constructor(opts: GradScalerOptions = {}) {
    this.enabled = opts.enabled ?? true;
    // torch's defaults
    this.scale = opts.initScale ?? 65536;
    this.growthFactor = opts.growthFactor ?? 2;
    this.backoffFactor = opts.backoffFactor ?? 0.5;
    this.growthInterval = opts.growthInterval ?? 2000;
    for (const [k, v] of Object.entries({ initScale: this.scale, growthFactor: this.growthFactor, growthInterval: this.growthInterval })) {
      if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`GradScaler: ${k} must be a positive number, not ${v}`);
    }
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1))
      throw new RangeError(`GradScaler: backoffFactor must be in (0, 1), not ${this.backoffFactor}`);
    this.#onSkip = opts.onSkip;
  }

  /** The loss to call backward on: `loss * scale` (the loss itself when disabled; a new handle either way). */
  scaleLoss(loss: Tensor): Tensor {
    return this.enabled ? loss.mul(this.scale) : loss.alias();
  }

  /**
   * Unscales the gradients of `params` in place and, when all are finite, runs `step` (the
   * optimizer's). Returns whether the step ran. Call once per optimizer step, after backward
   * (and before gradient clipping, which must see true gradients: clip inside `step`).
   */
  step(params: Iterable<Tensor>, step: () => void): boolean {
    this.#steps++;
    if (!this.enabled) {
      step();
      return true;
    }
    const finite = this.#unscale(params);
    if (finite) step();
    this.#update(finite);
    return finite;
  }

  #unscale(params: Iterable<Tensor>): boolean {
    return noGrad(() =>
      scope(() => {
        const inv = 1 / this.scale;
        const sums: Tensor[] = [];
        for (const p of params) {
          const g = p.grad;
          if (g === null) continue;
          g.mul_(inv);
          // a sum is inf/NaN when any element is: one host sync for all parameters, not one each
          sums.push(g.sum().to('float32'));
        }
        if (sums.length === 0) return true;
        return Number.isFinite(stack(sums).sum().item());
      }),
    );
  }

  #update(finite: boolean): void {
    if (!finite) {
      const newScale = this.scale * this.backoffFactor;
      this.skipped++;
      this.#onSkip?.({ step: this.#steps, scale: this.scale, newScale });
      this.scale = newScale;
      this.growthTracker = 0;
      return;
    }
    if (++this.growthTracker >= this.growthInterval) {
      this.scale *= this.growthFactor;
      this.growthTracker = 0;
    }
  }

  stateDict(): GradScalerState {
    return { scale: this.scale, growthTracker: this.growthTracker, skipped: this.skipped };
  }
  loadStateDict(s: GradScalerRestore): void {
    if (!(s.scale > 0) || !Number.isFinite(s.scale))
      throw new Error(`GradScaler state: scale must be a finite positive number, not ${s.scale}`);
    for (const k of ['growthTracker', 'skipped', 'steps'] as const) {
      const v = s[k];
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0))
        throw new Error(`GradScaler state: ${k} must be a non-negative integer, not ${v}`);
    }
    this.scale = s.scale;
    this.growthTracker = s.growthTracker;
    if (s.skipped !== undefined) this.skipped = s.skipped;
    if (s.steps !== undefined) this.#steps = s.steps;
  }
}
