/** The layers a ViT needs, with torch's parameter names and default initialisations. */
import type { Tensor } from '../tensor/tensor.js';
import { conv2d, dropout, empty, layerNorm, linear, ones, zeros, type ConvOptions } from '../tensor/functional.js';
import { Module } from './module.js';
import { autocastDtype, deviceType, type LowDType } from '../tensor/autocast.js';

/** A frozen weight (and bias) in autocast's low-precision dtype: see `Module.castFrozenWeights`. */
class LowCopy {
  private constructor(
    readonly dtype: LowDType,
    readonly weight: Tensor,
    readonly bias: Tensor | null,
  ) {}
  /** null when the layer trains (autocast's own cache handles trainable weights) */
  static of(dtype: LowDType | null, weight: Tensor, bias: Tensor | null): LowCopy | null {
    if (dtype === null || weight.requiresGrad || bias?.requiresGrad) return null;
    return new LowCopy(dtype, weight.to(dtype).keep(), bias ? bias.to(dtype).keep() : null);
  }
  /** usable now: autocast is on in this dtype, and nobody unfroze the layer since */
  usable(weight: Tensor, bias: Tensor | null): boolean {
    return autocastDtype(deviceType(weight.device)) === this.dtype && !weight.requiresGrad && !bias?.requiresGrad;
  }
  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }
}

/**
 * A layer with a weight and an optional bias whose forward may run on their low-precision copies
 * under autocast (frozen backbones: cast and packed once instead of once per step).
 */
abstract class WeightLayer extends Module {
  abstract weight: Tensor;
  abstract bias: Tensor | null;
  #low: LowCopy | null = null;
  protected override lowPrecisionCopies(dtype: LowDType | null): void {
    this.#low?.dispose();
    this.#low = LowCopy.of(dtype, this.weight, this.bias);
  }
  /** the weight and bias to compute with now */
  protected operands(): { weight: Tensor; bias: Tensor | null } {
    const low = this.#low;
    return low?.usable(this.weight, this.bias) ? low : this;
  }
}

export class Linear extends WeightLayer {
  weight: Tensor;
  bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; seed?: number } = {},
  ) {
    super();
    // torch's default: kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in)), same for the bias
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', empty([outFeatures, inFeatures]).uniform_(-bound, bound, opts.seed));
    this.bias = opts.bias === false ? null : this.param('bias', empty([outFeatures]).uniform_(-bound, bound, seedPlus(opts.seed)));
  }
  forward(x: Tensor): Tensor {
    const { weight, bias } = this.operands();
    return linear(x, weight, bias);
  }
}

export class Conv2d extends WeightLayer {
  weight: Tensor;
  bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: [number, number],
    readonly opts: ConvOptions & { bias?: boolean; seed?: number } = {},
  ) {
    super();
    const fanIn = (inChannels / (opts.groups ?? 1)) * kernel[0] * kernel[1];
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = this.param('weight', empty([outChannels, inChannels / (opts.groups ?? 1), ...kernel]).uniform_(-bound, bound, opts.seed));
    this.bias = opts.bias === false ? null : this.param('bias', empty([outChannels]).uniform_(-bound, bound, seedPlus(opts.seed)));
  }
  forward(x: Tensor): Tensor {
    const { weight, bias } = this.operands();
    return conv2d(x, weight, bias, this.opts);
  }
}

export class LayerNorm extends Module {
  weight: Tensor;
  bias: Tensor;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.param('weight', ones([dim]));
    this.bias = this.param('bias', zeros([dim]));
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, [this.dim], this.weight, this.bias, this.eps);
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0) {
    super();
  }
  forward(x: Tensor): Tensor {
    // p = 0 (every ViT/AST recipe here) must not cost a copy
    if (!this.training || this.p === 0) return x.alias();
    return dropout(x, this.p, true);
  }
}

function seedPlus(seed: number | undefined): number | undefined {
  return seed === undefined ? undefined : seed + 1;
}
