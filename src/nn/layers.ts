/** The layers a ViT needs, with torch's parameter names and default initialisations. */
import { Tensor } from '../tensor/tensor.js';
import { conv2d, dropout, empty, layerNorm, linear, ones, zeros, type ConvOptions } from '../tensor/functional.js';
import { Module } from './module.js';

export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean; seed?: number } = {}) {
    super();
    // torch's default: kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in)), same for the bias
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', empty([outFeatures, inFeatures]).uniform_(-bound, bound, opts.seed));
    this.bias = opts.bias === false ? null : this.param('bias', empty([outFeatures]).uniform_(-bound, bound, seedPlus(opts.seed)));
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export class Conv2d extends Module {
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
    return conv2d(x, this.weight, this.bias, this.opts);
  }
}

export class LayerNorm extends Module {
  weight: Tensor;
  bias: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-5) {
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
