/**
 * Adam (L2 weight decay added to the gradient) and AdamW (decoupled: p *= 1 - lr * wd first), with
 * amsgrad: torch.optim's single-tensor (foreach=False) algorithm, op for op, so that float64 runs
 * agree with torch to rounding.
 */
import type { Tensor } from '../tensor/tensor.js';
import { zeros } from '../tensor/functional.js';
import { checkRange, Optimizer, type GroupInput, type GroupOptions, type ParamGroup, type ParamState } from './optimizer.js';

export interface AdamOptions extends GroupOptions {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}

abstract class AdamBase extends Optimizer<AdamOptions> {
  protected abstract readonly decoupled: boolean;

  protected validate(g: ParamGroup<AdamOptions>, where: string): void {
    checkRange(where, 'lr', g.lr, 0);
    checkRange(where, 'eps', g.eps, 0);
    if (!Array.isArray(g.betas) || g.betas.length !== 2) throw new RangeError(`${where}: betas must be [beta1, beta2]`);
    checkRange(where, 'betas[0]', g.betas[0], 0, 1 - Number.EPSILON);
    checkRange(where, 'betas[1]', g.betas[1], 0, 1 - Number.EPSILON);
    checkRange(where, 'weightDecay', g.weightDecay, 0);
  }

  protected update(p: Tensor, grad: Tensor, s: ParamState, g: ParamGroup<AdamOptions>): void {
    const [beta1, beta2] = g.betas;
    if (s.step === undefined) {
      const like = { dtype: p.dtype, device: p.device };
      s.step = 0;
      s.exp_avg = zeros(p.shape, like).keep();
      s.exp_avg_sq = zeros(p.shape, like).keep();
      if (g.amsgrad) s.max_exp_avg_sq = zeros(p.shape, like).keep();
    }
    const expAvg = s.exp_avg as Tensor;
    const expAvgSq = s.exp_avg_sq as Tensor;
    const step = (s.step as number) + 1;
    s.step = step;

    if (this.decoupled) p.mul_(1 - g.lr * g.weightDecay);
    else if (g.weightDecay !== 0) grad = grad.add(p, g.weightDecay);

    expAvg.mul_(beta1).add_(grad, 1 - beta1);
    expAvgSq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);

    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2 = 1 - beta2 ** step;
    const stepSize = g.lr / biasCorrection1;
    const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);

    let second = expAvgSq;
    if (g.amsgrad) {
      // state saved without amsgrad, resumed with it: start the running max from the current moment
      s.max_exp_avg_sq ??= expAvgSq.clone().keep();
      second = (s.max_exp_avg_sq as Tensor).maximum_(expAvgSq);
    }
    const denom = second.sqrt().div_(biasCorrection2Sqrt).add_(g.eps);
    p.addcdiv_(expAvg, denom, -stepSize);
  }
}

export class Adam extends AdamBase {
  protected readonly decoupled = false;
  constructor(params: Tensor[] | GroupInput<AdamOptions>[], opts: Partial<AdamOptions> = {}) {
    super('adam', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, ...opts });
  }
}

export class AdamW extends AdamBase {
  protected readonly decoupled = true;
  constructor(params: Tensor[] | GroupInput<AdamOptions>[], opts: Partial<AdamOptions> = {}) {
    super('adamw', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, ...opts });
  }
}
