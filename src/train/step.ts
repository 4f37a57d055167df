/** One training step and one evaluation pass: the arithmetic of the loop, nothing about files. */
import type { Tensor } from '../tensor/tensor.js';
import { bceWithLogits, crossEntropy, noGrad, tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import type { Batch, DataLoader } from '../data/loader.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import { clipGradNorm } from '../optim/clip.js';
import type { Optimizer, GroupOptions } from '../optim/optimizer.js';
import { evaluate, type MetricReport } from './metrics.js';
import type { Progress } from './progress.js';

export function batchLoss(logits: Tensor, batch: Batch, kind: 'ce' | 'bce', labelSmoothing = 0, reduction: 'mean' | 'sum' = 'mean'): Tensor {
  return scope(() => {
    if (kind === 'bce') return bceWithLogits(logits, tensor(batch.targets, [batch.size, batch.numClasses]), reduction);
    if (batch.soft || batch.labels.some((l) => l < 0)) {
      return crossEntropy(logits, tensor(batch.targets, [batch.size, batch.numClasses]), reduction, labelSmoothing);
    }
    return crossEntropy(logits, tensor(batch.labels, [batch.size], 'int64'), reduction, labelSmoothing);
  });
}

export interface StepContext {
  model: AudioSpectrogramTransformer;
  opt: Optimizer<GroupOptions>;
  params: Tensor[];
  loss: 'ce' | 'bce';
  labelSmoothing: number;
  gradClip: number | null;
  /**
   * Runs after backward, before clipping and the update: the data-parallel seam (all-reduce the
   * gradients of `params` across ranks). Absent: one process.
   */
  afterBackward?: (params: Tensor[]) => void;
}

/**
 * One optimisation step; returns the loss. A non-finite loss returns before anything is updated.
 */
export function trainStep(ctx: StepContext, batch: Batch): number {
  return scope(() => {
    ctx.opt.zeroGrad();
    const x = tensor(batch.x, [batch.size, batch.frames, batch.bins]);
    const logits = ctx.model.forward(x);
    const loss = batchLoss(logits, batch, ctx.loss, ctx.labelSmoothing);
    const v = loss.item();
    if (!Number.isFinite(v)) return v;
    loss.backward();
    ctx.afterBackward?.(ctx.params);
    if (ctx.gradClip !== null) clipGradNorm(ctx.params, ctx.gradClip);
    ctx.opt.step();
    ctx.opt.zeroGrad();
    return v;
  });
}

export interface EvalResult {
  report: MetricReport | null;
  loss: number;
  n: number;
  /** [n, C] logits in clip order of the loader */
  logits: Float32Array;
  ids: string[];
  seconds: number;
}

/** Logits, loss and metrics of a model over a loader (no augmentation, no gradients). */
export async function evaluateModel(
  model: AudioSpectrogramTransformer,
  loader: DataLoader,
  o: { loss: 'ce' | 'bce'; progress?: Progress },
): Promise<EvalResult> {
  const t0 = performance.now();
  const wasTraining = model.training;
  model.eval();
  const C = loader.numClasses;
  const n = loader.samplesPerEpoch;
  const logits = new Float32Array(n * C);
  const targets = new Float32Array(n * C);
  const labels = new Int32Array(n);
  const ids: string[] = [];
  let soft = false;
  let lossSum = 0;
  let at = 0;
  try {
    for await (const b of loader.epoch(0)) {
      const out = noGrad(() =>
        scope(() => {
          const lg = model.forward(tensor(b.x, [b.size, b.frames, b.bins]));
          const l = batchLoss(lg, b, o.loss, 0, 'sum').item();
          return { l, data: lg.data<'float32'>() };
        }),
      );
      lossSum += o.loss === 'bce' ? out.l / C : out.l;
      logits.set(out.data, at * C);
      targets.set(b.targets, at * C);
      labels.set(b.labels, at);
      soft ||= b.soft || b.labels.some((l) => l < 0);
      ids.push(...b.ids);
      at += b.size;
      o.progress?.tick(1, b.size);
    }
  } finally {
    model.train(wasTraining);
  }
  let report: MetricReport | null = null;
  if (n > 0) report = evaluate(logits, soft ? targets : Array.from(labels), { numClasses: C });
  return { report, loss: n > 0 ? lossSum / n : NaN, n, logits, ids, seconds: (performance.now() - t0) / 1000 };
}

/** The scalar metrics of a report (what metrics.jsonl and results.json carry). */
export function scalarMetrics(r: EvalResult): Record<string, number> {
  const m = r.report;
  const out: Record<string, number> = { n: r.n, loss: r.loss };
  if (m) Object.assign(out, { top1: m.top1, top5: m.top5, mAP: m.mAP, meanClassAccuracy: m.meanClassAccuracy, macroAUC: m.macroAUC, dPrime: m.dPrime });
  return out;
}
