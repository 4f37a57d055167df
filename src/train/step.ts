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
import { CPU_FP32, type Engine } from '../tensor/engine.js';
import type { Optimizer, GroupOptions } from '../optim/optimizer.js';
import { evaluate, type MetricReport } from './metrics.js';
import type { Progress } from './progress.js';

export function batchLoss(
  logits: Tensor,
  batch: Batch,
  kind: 'ce' | 'bce',
  labelSmoothing = 0,
  reduction: 'mean' | 'sum' = 'mean',
): Tensor {
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
 * One optimisation step over several batches (gradient accumulation, train.accumulate): each
 * batch's mean loss is weighted by its share of the group's clips, so that the gradients add up to
 * those of one batch of all of them (the same update within float rounding). Returns each batch's
 * own mean loss; at a non-finite one it stops before anything is updated. `beforeBatch(k)` runs
 * before batch k's forward pass (the trainer seeds libtorch's generator there).
 */
export function accumulateStep(ctx: StepContext, batches: Batch[], beforeBatch?: (k: number) => void): number[] {
  if (ctx.afterBackward)
    throw new Error(
      'train.accumulate: gradient accumulation with data parallelism is not supported (use more ranks or a larger train.batch_size)',
    );
  const total = batches.reduce((a, b) => a + b.size, 0);
  const losses: number[] = [];
  const e = ctx.engine ?? CPU_FP32;
  const scaler = ctx.scaler?.enabled ? ctx.scaler : null;
  ctx.opt.zeroGrad();
  for (let k = 0; k < batches.length; k++) {
    const batch = batches[k]!;
    if (batch.size === 0) continue;
    beforeBatch?.(k);
    const v = scope(() => {
      const x = toDevice(tensor(batch.x, [batch.size, batch.frames, batch.bins]), e.device);
      const loss = autocast(e.amp.device, e.amp.dtype, () => batchLoss(ctx.model.forward(x), batch, ctx.loss, ctx.labelSmoothing));
      const lv = loss.item();
      if (!Number.isFinite(lv)) return lv;
      const weighted = batch.size === total ? loss : loss.mul(batch.size / total);
      (scaler ? scaler.scaleLoss(weighted) : weighted).backward();
      return lv;
    });
    losses.push(v);
    if (!Number.isFinite(v)) {
      ctx.opt.zeroGrad();
      return losses;
    }
  }
  scope(() => {
    const update = (): void => {
      if (ctx.gradClip !== null) clipGradNorm(ctx.params, ctx.gradClip);
      ctx.opt.step();
    };
    if (scaler) scaler.step(ctx.params, update);
    else update();
    ctx.opt.zeroGrad();
  });
  return losses;
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

/** What an evaluation pass collects per clip, before the metrics (what data-parallel ranks gather). */
export interface EvalRows {
  numClasses: number;
  /** [m, C] row-major */
  logits: Float32Array;
  /** [m, C] row-major: one-hot, multi-hot or soft */
  targets: Float32Array;
  /** [m] class indices (-1 where the target is not one class) */
  labels: Int32Array;
  /** the loss summed over the m clips (bce: averaged over classes first) */
  lossSum: number;
  /** some target is not a single class: the metrics read `targets` */
  soft: boolean;
}

/** Rows for `n` clips, zero-filled (none by default), to be filled in place. */
export function emptyRows(numClasses: number, n = 0, soft = false): EvalRows {
  return {
    numClasses,
    logits: new Float32Array(n * numClasses),
    targets: new Float32Array(n * numClasses),
    labels: new Int32Array(n),
    lossSum: 0,
    soft,
  };
}

/** The forward pass of an evaluation over a loader (no augmentation, no gradients), no metrics yet. */
export interface EvalOptions {
  loss: 'ce' | 'bce';
  progress?: Progress;
  engine?: Engine;
  requireFinite?: boolean;
  /** the logits of a batch from elsewhere (the onnx engine) instead of `model`'s forward */
  logits?: (x: Float32Array, n: number) => Promise<number[][]>;
}

export async function evaluateRows(
  model: AudioSpectrogramTransformer,
  loader: DataLoader,
  o: EvalOptions,
): Promise<{ rows: EvalRows; ids: string[] }> {
  const e = o.engine ?? CPU_FP32;
  const wasTraining = model.training;
  model.eval();
  const C = loader.numClasses;
  const n = loader.samplesPerEpoch;
  const rows = emptyRows(C, n);
  const ids: string[] = [];
  let at = 0;
  try {
    for await (const b of loader.epoch(0)) {
      // another runtime's logits (eval --engine onnx) are scored here as libtorch's are
      const given = o.logits ? Float32Array.from((await o.logits(b.x, b.size)).flat()) : null;
      const out = noGrad(() =>
        scope(() => {
          const lg = given
            ? tensor(given, [b.size, C])
            : autocast(e.amp.device, e.amp.dtype, () => model.forward(toDevice(tensor(b.x, [b.size, b.frames, b.bins]), e.device))).to(
                'float32',
              );
          const l = batchLoss(lg, b, o.loss, 0, 'sum').item();
          return { l, data: lg.data<'float32'>() };
        }),
      );
      if (o.requireFinite) checkFiniteBatch(b, out.data, C);
      rows.lossSum += o.loss === 'bce' ? out.l / C : out.l;
      rows.logits.set(out.data, at * C);
      rows.targets.set(b.targets, at * C);
      rows.labels.set(b.labels, at);
      rows.soft ||= b.soft || b.labels.some((l) => l < 0);
      ids.push(...b.ids);
      at += b.size;
      o.progress?.tick(1, b.size);
    }
  } finally {
    model.train(wasTraining);
  }
  return { rows, ids };
}

/** The metrics of all the rows of an evaluation (one process's, or every rank's gathered). */
export function evalResult(rows: EvalRows, ids: string[], seconds: number): EvalResult {
  const n = rows.labels.length;
  let report: MetricReport | null = null;
  if (n > 0) report = evaluate(rows.logits, rows.soft ? rows.targets : Array.from(rows.labels), { numClasses: rows.numClasses });
  return { report, loss: n > 0 ? rows.lossSum / n : NaN, n, logits: rows.logits, ids, seconds };
}

/** Logits, loss and metrics of a model over a loader (no augmentation, no gradients). */
export async function evaluateModel(model: AudioSpectrogramTransformer, loader: DataLoader, o: EvalOptions): Promise<EvalResult> {
  const t0 = performance.now();
  const { rows, ids } = await evaluateRows(model, loader, o);
  return evalResult(rows, ids, (performance.now() - t0) / 1000);
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
    throw new Error(
      `${id}: the model's outputs are not finite (NaN or infinity) for finite features: the backbone or adapter weights hold NaN/Inf`,
    );
  }
}

/** The scalar metrics of a report (what metrics.jsonl and results.json carry). */
export function scalarMetrics(r: EvalResult): Record<string, number> {
  const m = r.report;
  const out: Record<string, number> = { n: r.n, loss: r.loss };
  if (m)
    Object.assign(out, {
      top1: m.top1,
      top5: m.top5,
      mAP: m.mAP,
      meanClassAccuracy: m.meanClassAccuracy,
      macroAUC: m.macroAUC,
      dPrime: m.dPrime,
    });
  return out;
}
