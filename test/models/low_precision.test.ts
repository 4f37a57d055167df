/**
 * Mixed precision on the PyTorch parity cases: the model under autocast(bf16) against the float32
 * reference outputs. The documented tolerance (README, "Mixed precision"): max |bf16 - fp32| <=
 * BF16_TOL * (1 + max |fp32|) on pooled features and logits. bf16 keeps 8 significant bits (relative
 * rounding 2^-9 = 0.2%), and the error grows through the blocks' residual sums.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autocast } from '../../src/tensor/autocast.js';
import { noGrad } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';
import { caseInput, cases, expectedOf, loadCase, maxDiff } from './model_cases.js';

export const BF16_TOL = 0.05;

for (const c of cases) {
  test(`bf16 autocast forward within ${BF16_TOL} of fp32: ${c.name}`, () => {
    const { model } = loadCase(c);
    try {
      const exp = expectedOf(c);
      const x = caseInput(c);
      const run = (): Record<string, Float32Array> =>
        noGrad(() =>
          scope(() => {
            const pooled = model.features(x);
            return { pooled: pooled.toFloat32(), logits: model.head.forward(pooled).toFloat32() };
          }),
        );
      const got = autocast('cpu', 'bfloat16', run);
      // the frozen backbone cast once gives the same numbers
      model.freeze();
      model.castFrozenWeights('bfloat16');
      const cast = autocast('cpu', 'bfloat16', run);
      x.dispose();
      for (const name of ['pooled', 'logits'] as const) {
        const want = exp.get(name);
        if (!want) continue;
        const { diff, scale } = maxDiff(got[name], want);
        console.log(`# ${c.name} ${name}: bf16 vs fp32 max diff ${diff.toExponential(2)} (max |value| ${scale.toFixed(3)})`);
        assert.ok(
          diff <= BF16_TOL * (1 + scale),
          `${c.name}: ${name} differs by ${diff.toExponential(2)} (max |value| ${scale.toFixed(3)})`,
        );
        assert.ok(diff > 0, `${c.name}: ${name}: bf16 should differ from fp32 somewhere (is autocast on?)`);
        assert.deepEqual(cast[name], got[name], `${c.name}: ${name}: cast-once weights change the result`);
      }
    } finally {
      model.dispose();
    }
  });
}
