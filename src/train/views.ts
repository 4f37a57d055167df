/**
 * Multi-view evaluation (EPIC-SOUNDS' test protocol, TEST.NUM_ENSEMBLE_VIEWS): every clip is read
 * as `views` windows in a row (DataLoader with `window.views`), and a clip's score is the mean of its
 * views' logits. The reference sums them (meters.py TestMeter.update_stats); the mean ranks the
 * classes the same and keeps the loss on the scale of one view. The loss is recomputed from the
 * averaged logits, as if the model had produced them.
 */
import { emptyRows, type EvalRows } from './step.js';

function logSumExp(x: Float32Array | Float64Array, from: number, n: number): number {
  let m = -Infinity;
  for (let j = 0; j < n; j++) m = Math.max(m, x[from + j]!);
  if (m === -Infinity) return m;
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(x[from + j]! - m);
  return m + Math.log(s);
}

/** The loss of one row of logits (what batchLoss sums with reduction 'sum'; bce averaged over classes). */
export function rowLoss(logits: Float64Array, target: Float32Array, label: number, kind: 'ce' | 'bce'): number {
  const C = logits.length;
  if (kind === 'bce') {
    let s = 0;
    for (let j = 0; j < C; j++) {
      const z = logits[j]!;
      // log(1 + e^-|z|) + max(z, 0) - z t: torch's stable form
      s += Math.max(z, 0) - z * target[j]! + Math.log1p(Math.exp(-Math.abs(z)));
    }
    return s / C;
  }
  const lse = logSumExp(logits, 0, C);
  if (label >= 0) return lse - logits[label]!;
  let s = 0;
  for (let j = 0; j < C; j++) s += target[j]! * (lse - logits[j]!);
  return s;
}

/**
 * Rows of `n x views` evaluated windows (a clip's views consecutive) -> rows of `n` clips, the
 * logits averaged over each clip's views; targets and labels are the first view's (all the same).
 */
export function averageViews(rows: EvalRows, views: number, loss: 'ce' | 'bce'): EvalRows {
  if (!Number.isInteger(views) || views < 1) throw new Error(`views: expected a positive integer, got ${views}`);
  if (views === 1) return rows;
  const C = rows.numClasses;
  const m = rows.labels.length;
  if (m % views !== 0) throw new Error(`views: ${m} evaluated windows are not ${views} per clip`);
  const n = m / views;
  const out = emptyRows(C, n, rows.soft);
  const acc = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    acc.fill(0);
    for (let v = 0; v < views; v++) {
      const r = i * views + v;
      for (let j = 0; j < C; j++) acc[j] += rows.logits[r * C + j]!;
    }
    for (let j = 0; j < C; j++) acc[j] /= views;
    out.logits.set(acc, i * C);
    const first = i * views;
    const target = rows.targets.subarray(first * C, (first + 1) * C);
    out.targets.set(target, i * C);
    out.labels[i] = rows.labels[first]!;
    out.lossSum += rowLoss(acc, target, rows.labels[first]!, loss);
  }
  return out;
}

/** The clip ids of view ids (`<id>#view<k>`, every `views`-th one). */
export function clipIdsOfViews(ids: string[], views: number): string[] {
  if (views === 1) return ids;
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += views) out.push(ids[i]!.replace(/#view\d+$/, ''));
  return out;
}
