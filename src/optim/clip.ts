/** Gradient clipping by the global norm of all gradients, as torch.nn.utils.clip_grad_norm_. */
import type { Tensor } from '../tensor/tensor.js';
import { noGrad, stack } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';

/**
 * Scales every gradient in place by min(1, maxNorm / (total + 1e-6)), where total is the p-norm
 * (default 2, Infinity for the max-abs) of all gradients taken together, and returns total (before
 * clipping). Parameters without a gradient are skipped. Computed in the gradients' dtype with
 * torch's op order, so results agree with torch to rounding.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType = 2): number {
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0))
    throw new RangeError(`clipGradNorm: maxNorm must be a number >= 0, not ${String(maxNorm)}`);
  if (typeof normType !== 'number' || !(normType > 0)) throw new RangeError(`clipGradNorm: normType must be > 0, not ${String(normType)}`);
  return noGrad(() =>
    scope(() => {
      const grads: Tensor[] = [];
      for (const p of params) {
        const g = p.grad;
        if (g !== null) grads.push(g);
      }
      if (grads.length === 0) return 0;
      let total: Tensor;
      if (normType === Infinity) {
        const norms = grads.map((g) => g.abs().amax());
        total = norms.length === 1 ? norms[0] : stack(norms).amax();
      } else {
        total = stack(grads.map((g) => g.norm(normType))).norm(normType);
      }
      // torch: max_norm / (total + 1e-6) is reciprocal(total + 1e-6) * max_norm, clamped at 1
      const coef = total.add(1e-6).reciprocal().mul(maxNorm).clamp(null, 1);
      for (const g of grads) g.mul_(coef);
      return total.item();
    }),
  );
}
