/** SGD with momentum, dampening, Nesterov and L2 weight decay: torch.optim.SGD's single-tensor path. */
import type { Tensor } from '../tensor/tensor.js';
import { checkRange, Optimizer, type GroupInput, type GroupOptions, type ParamGroup, type ParamState } from './optimizer.js';

export interface SGDOptions extends GroupOptions {
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Tensor[] | GroupInput<SGDOptions>[], opts: Partial<SGDOptions> & { lr: number }) {
    super('sgd', params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...opts });
  }

  protected validate(g: ParamGroup<SGDOptions>, where: string): void {
    checkRange(where, 'lr', g.lr, 0);
    checkRange(where, 'momentum', g.momentum, 0);
    checkRange(where, 'dampening', g.dampening, -Infinity);
    checkRange(where, 'weightDecay', g.weightDecay, 0);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new RangeError(`${where}: nesterov needs momentum > 0 and dampening 0`);
    }
  }

  protected update(p: Tensor, grad: Tensor, state: ParamState, g: ParamGroup<SGDOptions>): void {
    let d = g.weightDecay !== 0 ? grad.add(p, g.weightDecay) : grad;
    if (g.momentum !== 0) {
      let buf = state.momentum_buffer as Tensor | undefined;
      if (buf === undefined) {
        buf = d.clone().keep();
        state.momentum_buffer = buf;
      } else {
        buf.mul_(g.momentum).add_(d, 1 - g.dampening);
      }
      d = g.nesterov ? d.add(buf, g.momentum) : buf;
    }
    p.add_(d, -g.lr);
  }
}
