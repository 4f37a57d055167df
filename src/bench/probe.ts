/**
 * The linear-probe benchmark's work, shared by `loaa bench`'s probe row (rows.ts) and the older
 * `--only speed` section (speed_rows.ts): the step rows' backbone with a linear head over random
 * FSDD-sized clips, trained for some epochs with Adam, the frozen features computed every batch
 * (the plain loop a user writes) or once through a `FeatureCache`.
 */
import { performance } from 'node:perf_hooks';
import { type AstConfig, AudioSpectrogramTransformer } from '../models/ast.js';
import { Adam } from '../optim/adam.js';
import type { GroupOptions, Optimizer } from '../optim/optimizer.js';
import type { FeatureCache, FeatureContext } from '../peft/feature_cache.js';
import { applyPeft } from '../peft/methods.js';
import { crossEntropy, manualSeed, randint, randn } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** FSDD: 1-s clips at 8 kHz are 100 fbank frames at the 16-kHz front end. */
export const PROBE_FRAMES = 100;

export interface ProbeWork {
  /** milliseconds of `epochs` epochs in batches of `batch`; `cache` null is the plain loop */
  run(epochs: number, batch: number, cache: FeatureCache | null): number;
  /** the model's geometry (for the FLOPs of a clip) */
  cfg: AstConfig;
  dispose(): void;
}

export function probeWork(arch: string, clips: number, bins = 128): ProbeWork {
  manualSeed(0);
  const frames = PROBE_FRAMES;
  const cfg: AstConfig = { arch, numClasses: 10, melBins: bins, frames, fstride: 16, tstride: 16 };
  const model = new AudioSpectrogramTransformer(cfg, { seed: 0 });
  applyPeft(model, { method: 'linear' }, { seed: 0 });
  model.eval();
  const x = randn([clips, frames, bins], { seed: 5 }).keep();
  const labels = randint(0, 10, [clips], { seed: 6 }).keep();
  const ctx: FeatureContext = { backbone: '0'.repeat(64), frontend: { bench: 'random fbank', frames, bins } };
  return {
    cfg,
    run(epochs, batch, cache) {
      const opt = new Adam(
        model.trainableParameters().map(([, p]) => p),
        { lr: 1e-3 },
      ) as unknown as Optimizer<GroupOptions>;
      const t0 = performance.now();
      for (let e = 0; e < epochs; e++) {
        for (let s = 0; s < clips; s += batch) {
          const n = Math.min(batch, clips - s);
          scope(() => {
            opt.zeroGrad();
            const xb = (): Tensor => x.narrow(0, s, n);
            const names = Array.from({ length: n }, (_, i) => `clip${s + i}`);
            const logits = cache ? model.head.forward(cache.features(model, ctx, names, xb)) : model.forward(xb());
            crossEntropy(logits, labels.narrow(0, s, n)).backward();
            opt.step();
          });
        }
      }
      const ms = performance.now() - t0;
      opt.dispose();
      return ms;
    },
    dispose() {
      x.dispose();
      labels.dispose();
      model.dispose();
    },
  };
}
