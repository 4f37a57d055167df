/** One training step and one evaluation pass: the arithmetic of the loop, nothing about files. */
import type { Tensor } from '../tensor/tensor.js';
import { bceWithLogits, crossEntropy, noGrad, tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import type { Batch, DataLoader } from '../data/loader.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import { clipGradNorm } from '../optim/clip.js';
import { autocast } from '../tensor/autocast.js';
import { toDevice } from '../tensor/device.js';
import type { GradScaler } from './amp.js';
import { CPU_FP32, type Engine } from './engine.js';
import type { Optimizer, GroupOptions } from '../optim/optimizer.js';
import { evaluate, type MetricReport } from './metrics.js';
import type { Progress } from './progress.js';

export function batchLoss(logits: Tensor, batch: Batch, kind: 'ce' | 'bce', labelSmoothing = 0, reduction: 'mean' | 'sum' = 'mean'): Tensor {
  return scope(() => {
    const on = (t: Tensor): Tensor => toDevice(t, logits.device);
    if (kind === 'bce') return bceWithLogits(logits, on(tensor(batch.targets, [batch.size, batch.numClasses])), reduction);
    if (batch.soft || batch.labels.some((l) => l < 0)) {
      return crossEntropy(logits, on(tensor(batch.targets, [batch.size, batch.numClasses])), reduction, labelSmoothing);
    }
    return crossEntropy(logits, on(tensor(batch.labels, [batch.size], 'int64')), reduction, labelSmoothing);
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
  afterBackward?: (params: Tensor[], batch: Batch) => void;
  /** device and precision (default: CPU, fp32) */
  engine?: Engine;
  /** fp16's loss scaler; absent or disabled for fp32 and bf16 */
  scaler?: GradScaler;
}

/**
 * One optimisation step; returns the loss. A non-finite loss returns before anything is updated.
 */
export function trainStep(ctx: StepContext, batch: Batch): number {
  return scope(() => {
    ctx.opt.zeroGrad();
    const e = ctx.engine ?? CPU_FP32;
    const scaler = ctx.scaler?.enabled ? ctx.scaler : null;
    const update = (): void => {
      if (ctx.gradClip !== null) clipGradNorm(ctx.params, ctx.gradClip);
      ctx.opt.step();
    };
    if (batch.size === 0) {
      // a data-parallel rank with no clips in a short last batch: a zero gradient, the same update
      ctx.afterBackward?.(ctx.params, batch);
      if (scaler) scaler.step(ctx.params, update);
      else update();
      ctx.opt.zeroGrad();
      return 0;
    }
    const x = toDevice(tensor(batch.x, [batch.size, batch.frames, batch.bins]), e.device);
    const loss = autocast(e.amp.device, e.amp.dtype, () => batchLoss(ctx.model.forward(x), batch, ctx.loss, ctx.labelSmoothing));
    const v = loss.item();
    if (!Number.isFinite(v)) return v;
    // backward outside autocast, as torch does
    (scaler ? scaler.scaleLoss(loss) : loss).backward();
    ctx.afterBackward?.(ctx.params, batch);
    // the scaler unscales first, so clipping sees true gradients, and skips overflowing steps
    if (scaler) scaler.step(ctx.params, update);
    else update();
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
  o: { loss: 'ce' | 'bce'; progress?: Progress; engine?: Engine; requireFinite?: boolean },
): Promise<EvalResult> {
  const e = o.engine ?? CPU_FP32;
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
          const x = toDevice(tensor(b.x, [b.size, b.frames, b.bins]), e.device);
          const lg = autocast(e.amp.device, e.amp.dtype, () => model.forward(x)).to('float32');
          const l = batchLoss(lg, b, o.loss, 0, 'sum').item();
          return { l, data: lg.data<'float32'>() };
        }),
      );
      if (o.requireFinite) checkFiniteBatch(b, out.data, C);
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

/**
 * NaN in (features) or NaN weights would make metrics of NaN logits (NaN loss, arbitrary ranks)
 * and exit 0: the first clip with a non-finite input or output is an Error naming it and the source.
 */
function checkFiniteBatch(b: { x: Float32Array; ids: string[]; size: number }, logits: ArrayLike<number>, C: number): void {
  const per = b.x.length / b.size;
  for (let i = 0; i < b.size; i++) {
    let bad = -1;
    for (let j = i * C; j < (i + 1) * C; j++) if (!Number.isFinite(logits[j]!)) bad = j;
    if (bad < 0) continue;
    const id = b.ids[i] ?? `clip ${i}`;
    const x = b.x.subarray(i * per, (i + 1) * per);
    const f = x.findIndex((v) => !Number.isFinite(v));
    if (f >= 0) throw new Error(`${id}: its features hold ${x[f]} (value ${f} of ${per}): the input audio is not finite; not evaluated`);
    throw new Error(`${id}: the model's outputs are not finite (NaN or infinity) for finite features: the backbone or adapter weights hold NaN/Inf`);
  }
}

/** The scalar metrics of a report (what metrics.jsonl and results.json carry). */
export function scalarMetrics(r: EvalResult): Record<string, number> {
  const m = r.report;
  const out: Record<string, number> = { n: r.n, loss: r.loss };
  if (m) Object.assign(out, { top1: m.top1, top5: m.top5, mAP: m.mAP, meanClassAccuracy: m.meanClassAccuracy, macroAUC: m.macroAUC, dPrime: m.dPrime });
  return out;
}
