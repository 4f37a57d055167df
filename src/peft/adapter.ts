/**
 * The Look-Aside Adapter (docs/adapter-format.md section 1): A(u) = Up(GELU(Down(u))) with Down/Up 2-D
 * convolutions over the [f_dim, t_dim] patch-token grid (token f * t_dim + t), zero padding
 * (kF//2, kT//2). Tokens outside the grid (cls, dist, prompts) are each their own 1x1 grid, so only
 * the kernel's centre tap acts on them. Up starts at zero: an untrained adapter changes nothing.
 * Kernel (1,1) is the plain parallel (Houlsby) adapter; it runs as two matrix products.
 */
import type { Tensor } from '../tensor/tensor.js';
import { cat, conv2d, linear, noGrad } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { Module } from '../nn/module.js';
import { Conv2d } from '../nn/layers.js';
import type { SideAdapter } from '../models/vit.js';
import { checkAdapterSpec, type AdapterMode, type AdapterSpec } from './config.js';
import { loaaTokens } from './loaa_tokens.js';

/**
 * 'tokens': the convolutions as shifted matmuls on the token layout (src/peft/loaa_tokens.ts), the
 * fast path; 'conv': Conv2d on a transposed [B, D, f, t] copy, kept as the reference the tests compare to.
 */
export type AdapterImpl = 'tokens' | 'conv';

export type { AdapterMode, AdapterPosition, AdapterSpec } from './config.js';

/** Parameters of one adapter on width D: Down + Up (+ biases). */
export function adapterParamCount(a: Pick<AdapterSpec, 'kernel' | 'bottleneck' | 'bias'>, dim: number): number {
  const area = a.kernel[0] * a.kernel[1];
  return 2 * a.bottleneck * dim * area + (a.bias ? a.bottleneck + dim : 0);
}

/** One adapter's weights may take at most this much memory (LoAA's are a few MB). */
export const MAX_ADAPTER_BYTES = 2 ** 30;

/** The adapter's fp32 weight bytes checked before Conv2d allocates them, naming `bottleneck`. */
export function checkAdapterBytes(a: Pick<AdapterSpec, 'kernel' | 'bottleneck' | 'bias' | 'position'>, dim: number): void {
  const bytes = 4 * adapterParamCount(a, dim);
  if (bytes > MAX_ADAPTER_BYTES) {
    throw new Error(
      `bottleneck: ${a.bottleneck} on width ${dim} with a ${a.kernel[0]}x${a.kernel[1]} kernel (the ${a.position} adapter) needs ${(bytes / 2 ** 30).toFixed(1)} GiB ` +
        `of weights per block, over the ${MAX_ADAPTER_BYTES / 2 ** 30} GiB limit for one adapter: use a smaller bottleneck or kernel`,
    );
  }
}

export class LookAsideAdapter extends Module implements SideAdapter {
  readonly down: Conv2d;
  readonly up: Conv2d;
  readonly spec: Readonly<Required<AdapterSpec>>;
  readonly mode: AdapterMode;
  readonly scale: number;
  readonly #pad: [number, number];
  impl: AdapterImpl = 'tokens';

  constructor(
    readonly dim: number,
    spec: AdapterSpec,
    opts: { seed?: number } = {},
  ) {
    super();
    this.spec = Object.freeze(checkAdapterSpec(spec));
    const [kF, kT] = this.spec.kernel;
    const r = this.spec.bottleneck;
    this.mode = this.spec.mode;
    this.scale = this.spec.scale;
    this.#pad = [kF >> 1, kT >> 1];
    checkAdapterBytes(this.spec, dim);
    // Down: torch's Conv2d default (kaiming-uniform a=sqrt(5)); Up: zero, weight and bias
    this.down = this.child('down', new Conv2d(dim, r, [kF, kT], { padding: this.#pad, bias: this.spec.bias, seed: opts.seed }));
    this.up = this.child(
      'up',
      new Conv2d(r, dim, [kF, kT], { padding: this.#pad, bias: this.spec.bias, seed: opts.seed === undefined ? undefined : opts.seed + 7 }),
    );
    noGrad(() => {
      this.up.weight.zero_();
      this.up.bias?.zero_();
    });
  }

  /** s * A(u) for u [B, L, D] whose first `nPre` tokens are outside the grid. */
  forward(u: Tensor, nPre: number, grid: readonly [number, number]): Tensor {
    return scope(() => {
      const [B, L, D] = u.shape;
      const [f, t] = grid;
      if (L !== nPre + f * t) throw new Error(`adapter: ${L} tokens do not make ${nPre} + ${f}x${t}`);
      const [kF, kT] = this.spec.kernel;
      let out: Tensor;
      if (kF === 1 && kT === 1) {
        out = this.#centre(u);
      } else if (this.impl === 'tokens') {
        out = loaaTokens(u, nPre, grid, {
          downWeight: this.down.weight,
          downBias: this.down.bias,
          upWeight: this.up.weight,
          upBias: this.up.bias,
        });
      } else {
        const g = u
          .narrow(1, nPre, f * t)
          .transpose(1, 2)
          .reshape(B, D, f, t);
        const h = conv2d(conv2d(g, this.down.weight, this.down.bias, { padding: this.#pad }).gelu(), this.up.weight, this.up.bias, {
          padding: this.#pad,
        });
        const grid = h.reshape(B, D, f * t).transpose(1, 2);
        out = nPre > 0 ? cat([this.#centre(u.narrow(1, 0, nPre)), grid], 1) : grid;
      }
      return this.scale === 1 ? out : out.mul(this.scale);
    });
  }

  /** The adapter through the kernel's centre tap only: what a 1x1 grid sees. */
  #centre(x: Tensor): Tensor {
    const [cF, cT] = this.#pad;
    const wd = this.down.weight.select(3, cT).select(2, cF);
    const wu = this.up.weight.select(3, cT).select(2, cF);
    return linear(linear(x, wd, this.down.bias).gelu(), wu, this.up.bias);
  }
}
