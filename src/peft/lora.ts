/**
 * LoRA on the fused qkv projection: for each target t of q, k, v,
 *   t = x W_t^T + b_t + (alpha / r) (x A_t^T) B_t^T,
 * `blocks.{i}.attn.lora_{t}.A` [r, D] (kaiming-uniform a=sqrt(5), as torch's Linear) and `.B` [D, r]
 * (zero, so training starts from the backbone's function); no dropout.
 * `mergeLora` folds the update into qkv.weight for inference and removes the LoRA modules.
 */
import type { Tensor } from '../tensor/tensor.js';
import { empty, linear, noGrad, zeros } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { Module } from '../nn/module.js';
import type { QkvDelta, QkvTarget } from '../models/vit.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import { recordOriginal } from './state.js';

export class LoraDelta extends Module implements QkvDelta {
  readonly A: Tensor;
  readonly B: Tensor;
  readonly scaling: number;
  constructor(
    readonly dim: number,
    readonly rank: number,
    readonly alpha: number,
    opts: { seed?: number } = {},
  ) {
    super();
    const bound = 1 / Math.sqrt(dim); // kaiming_uniform(a=sqrt(5)) on [r, D]
    this.A = this.param('A', empty([rank, dim]).uniform_(-bound, bound, opts.seed));
    this.B = this.param('B', zeros([dim, rank]));
    this.scaling = alpha / rank;
  }
  forward(x: Tensor): Tensor {
    return scope(() => linear(linear(x, this.A), this.B).mul(this.scaling));
  }
  deltaWeight(): Tensor {
    return scope(() => this.B.matmul(this.A).mul(this.scaling));
  }
}

/**
 * Folds every LoRA update into its block's qkv.weight and removes the LoRA modules (disposed).
 * The merged model computes the same function with one matrix product less per target.
 * Returns how many deltas were merged.
 */
export function mergeLora(model: AudioSpectrogramTransformer): number {
  let n = 0;
  noGrad(() => {
    model.blocks.items.forEach((blk, bi) => {
      const attn = blk.attn;
      const D = attn.dim;
      (['q', 'k', 'v'] as QkvTarget[]).forEach((t, i) => {
        const d = attn.lora(t);
        if (!d) return;
        recordOriginal(model, `blocks.${bi}.attn.qkv.weight`, attn.qkv.weight);
        scope(() => {
          const w = d.deltaWeight().to(attn.qkv.weight.dtype);
          attn.qkv.weight.narrow(0, i * D, D).add_(w);
        });
        attn.setLora(t, null);
        d.dispose();
        n++;
      });
    });
  });
  return n;
}
