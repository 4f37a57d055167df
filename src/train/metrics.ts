/**
 * Classification metrics on plain arrays (no tensors), matching sklearn / the AST code.
 *
 * Conventions (the golden fixture, tools/fixtures/metrics_fixtures.py, uses the same ones):
 * - scores are `[N, C]`: `number[][]`, or a row-major Float32Array / Float64Array with `numClasses`;
 * - targets are class indices (length N), or a `[N, C]` matrix (multi-hot, one-hot or soft),
 *   as `number[][]` or a flat row-major array of length N*C;
 * - ranking: descending score, ties broken by the lower class index (top-1 = argmax, first maximum);
 * - a row's reference classes are the targets equal to the row maximum (and > 0): a top-k hit is any
 *   of them in the first k ranks (one-hot: the usual top-k; multi-hot: any positive in the top k);
 * - AP and AUC are per class on targets binarised at >= 0.5; mAP averages the classes with at least
 *   one positive, macro AUC the classes with both positives and negatives (as the AST code, which
 *   otherwise would average NaNs);
 * - mean class accuracy (balanced accuracy) and the confusion matrix use argmax(target) vs argmax(score);
 * - d' = sqrt(2) * Phi^-1(macro AUC) (the AST code's `d_prime(mAUC)`).
 */

export type ScoreInput = readonly (readonly number[])[] | Float32Array | Float64Array;
export type TargetInput = ArrayLike<number> | readonly (readonly number[])[];

export interface MetricOptions {
  /** Required when scores are a flat typed array. */
  numClasses?: number;
}

export interface MetricReport {
  n: number;
  numClasses: number;
  top1: number;
  top5: number;
  mAP: number;
  meanClassAccuracy: number;
  macroAUC: number;
  dPrime: number;
  /** Per class; null where the class has no positive. */
  perClassAP: (number | null)[];
  /** Per class; null where the class lacks positives or negatives. */
  perClassAUC: (number | null)[];
  /** `[true][predicted]` counts. */
  confusion: number[][];
}

interface Scores {
  n: number;
  c: number;
  /** row-major, length n*c */
  v: Float64Array;
}

interface Targets {
  /** argmax(target) per row (first maximum). */
  index: Int32Array;
  /** row-major target values, length n*c (one-hot for index targets). */
  m: Float64Array;
}

function readScores(scores: ScoreInput, opts: MetricOptions = {}): Scores {
  if (scores instanceof Float32Array || scores instanceof Float64Array) {
    const c = opts.numClasses;
    if (c === undefined || !Number.isInteger(c) || c < 1) {
      throw new Error('numClasses: a positive integer is required with flat scores');
    }
    if (scores.length % c !== 0) {
      throw new Error(`scores: length ${scores.length} is not a multiple of numClasses ${c}`);
    }
    const v = Float64Array.from(scores);
    checkNaN(v, c);
    return { n: scores.length / c, c, v };
  }
  if (!Array.isArray(scores)) throw new Error('scores: expected number[][] or a Float32Array/Float64Array');
  const n = scores.length;
  const c = opts.numClasses ?? (n > 0 ? scores[0]!.length : 0);
  if (c < 1) throw new Error('scores: no classes (empty rows); pass numClasses');
  const v = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    const row = scores[i]!;
    if (row.length !== c) throw new Error(`scores: row ${i} has ${row.length} values, expected ${c}`);
    for (let j = 0; j < c; j++) v[i * c + j] = row[j]!;
  }
  checkNaN(v, c);
  return { n, c, v };
}

function checkNaN(v: Float64Array, c: number): void {
  for (let k = 0; k < v.length; k++) {
    if (Number.isNaN(v[k]!)) throw new Error(`scores: NaN at row ${Math.floor(k / c)}, class ${k % c}`);
  }
}

function readTargets(targets: TargetInput, n: number, c: number): Targets {
  const m = new Float64Array(n * c);
  const index = new Int32Array(n);
  const isRows = Array.isArray(targets) && targets.length > 0 && Array.isArray(targets[0]);
  if (isRows) {
    const rows = targets as readonly (readonly number[])[];
    if (rows.length !== n) throw new Error(`targets: ${rows.length} rows, scores have ${n}`);
    for (let i = 0; i < n; i++) {
      const row = rows[i]!;
      if (!Array.isArray(row) || row.length !== c) {
        throw new Error(`targets: row ${i} has ${Array.isArray(row) ? row.length : 'no'} values, expected ${c}`);
      }
      for (let j = 0; j < c; j++) m[i * c + j] = row[j]!;
    }
  } else {
    const flat = targets as ArrayLike<number>;
    if (flat.length === n * c && c > 1) {
      for (let k = 0; k < n * c; k++) m[k] = flat[k]!;
    } else if (flat.length === n) {
      for (let i = 0; i < n; i++) {
        const t = flat[i]!;
        if (!Number.isInteger(t) || t < 0 || t >= c) {
          throw new Error(`targets: row ${i} has class index ${t}, expected an integer in [0, ${c})`);
        }
        m[i * c + t] = 1;
        index[i] = t;
      }
      return { index, m };
    } else {
      throw new Error(`targets: length ${flat.length} is neither N=${n} (indices) nor N*C=${n * c} (a matrix)`);
    }
  }
  for (let k = 0; k < m.length; k++) {
    if (Number.isNaN(m[k]!)) throw new Error(`targets: NaN at row ${Math.floor(k / c)}, class ${k % c}`);
  }
  for (let i = 0; i < n; i++) index[i] = argmaxRow(m, i, c);
  return { index, m };
}

function argmaxRow(v: Float64Array, i: number, c: number): number {
  let best = 0;
  for (let j = 1; j < c; j++) if (v[i * c + j]! > v[i * c + best]!) best = j;
  return best;
}

function topKFrom(s: Scores, t: Targets, k: number): number {
  const { n, c, v } = s;
  if (n === 0) return NaN;
  const kk = Math.min(k, c);
  let hits = 0;
  for (let i = 0; i < n; i++) {
    let tmax = -Infinity;
    for (let j = 0; j < c; j++) tmax = Math.max(tmax, t.m[i * c + j]!);
    if (!(tmax > 0)) continue;
    for (let j = 0; j < c; j++) {
      if (t.m[i * c + j] !== tmax) continue;
      // rank of j = classes scored higher + equal-scored classes with a lower index
      const sj = v[i * c + j]!;
      let rank = 0;
      for (let l = 0; l < c && rank < kk; l++) {
        const sl = v[i * c + l]!;
        if (sl > sj || (sl === sj && l < j)) rank++;
      }
      if (rank < kk) {
        hits++;
        break;
      }
    }
  }
  return hits / n;
}

/** Fraction of rows whose reference class (see the file comment) is among the k best scores. */
export function topKAccuracy(scores: ScoreInput, targets: TargetInput, k: number, opts: MetricOptions = {}): number {
  if (!Number.isInteger(k) || k < 1) throw new Error(`k: expected a positive integer, got ${k}`);
  const s = readScores(scores, opts);
  return topKFrom(s, readTargets(targets, s.n, s.c), k);
}

/** Indices sorted by descending score (ties in any order: callers group equal scores). */
function descendingOrder(score: ArrayLike<number>): Int32Array {
  const idx = new Int32Array(score.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  idx.sort((a, b) => score[b]! - score[a]! || a - b);
  return idx;
}

/**
 * sklearn's `average_precision_score` for one binary problem: sum over distinct score thresholds
 * (descending) of (R_k - R_{k-1}) * P_k, all items tied at a threshold counted together.
 * NaN when there is no positive.
 */
export function averagePrecision(yTrue: ArrayLike<number>, score: ArrayLike<number>): number {
  if (yTrue.length !== score.length) throw new Error(`yTrue: length ${yTrue.length} differs from score's ${score.length}`);
  let pos = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i]! >= 0.5) pos++;
  if (pos === 0) return NaN;
  const order = descendingOrder(score);
  let tp = 0;
  let fp = 0;
  let prevRecall = 0;
  let ap = 0;
  for (let k = 0; k < order.length; ) {
    const sv = score[order[k]!]!;
    while (k < order.length && score[order[k]!] === sv) {
      if (yTrue[order[k]!]! >= 0.5) tp++;
      else fp++;
      k++;
    }
    const recall = tp / pos;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}

/**
 * sklearn's `roc_auc_score` for one binary problem: the trapezoidal area under the ROC curve,
 * which counts a tied positive/negative pair as half. NaN without both positives and negatives.
 */
export function rocAuc(yTrue: ArrayLike<number>, score: ArrayLike<number>): number {
  if (yTrue.length !== score.length) throw new Error(`yTrue: length ${yTrue.length} differs from score's ${score.length}`);
  let pos = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i]! >= 0.5) pos++;
  const neg = yTrue.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  const order = descendingOrder(score);
  let tp = 0;
  let fp = 0;
  // twice the area in units of (pos * neg): integers, exact up to 2^53
  let area2 = 0;
  for (let k = 0; k < order.length; ) {
    const sv = score[order[k]!]!;
    const tp0 = tp;
    const fp0 = fp;
    while (k < order.length && score[order[k]!] === sv) {
      if (yTrue[order[k]!]! >= 0.5) tp++;
      else fp++;
      k++;
    }
    area2 += (fp - fp0) * (tp + tp0);
  }
  return area2 / (2 * pos * neg);
}

function column(v: Float64Array, n: number, c: number, j: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = v[i * c + j]!;
  return out;
}

function mean(xs: (number | null)[]): number {
  let sum = 0;
  let k = 0;
  for (const x of xs) {
    if (x === null) continue;
    sum += x;
    k++;
  }
  return k === 0 ? NaN : sum / k;
}

function perClass(s: Scores, t: Targets, f: (y: Float64Array, sc: Float64Array) => number): (number | null)[] {
  const out: (number | null)[] = [];
  for (let j = 0; j < s.c; j++) {
    const r = f(column(t.m, s.n, s.c, j), column(s.v, s.n, s.c, j));
    out.push(Number.isNaN(r) ? null : r);
  }
  return out;
}

/** Per-class AP (null where a class has no positive). */
export function perClassAveragePrecision(scores: ScoreInput, targets: TargetInput, opts: MetricOptions = {}): (number | null)[] {
  const s = readScores(scores, opts);
  return perClass(s, readTargets(targets, s.n, s.c), averagePrecision);
}

/** mAP over the classes present in the targets. */
export function meanAveragePrecision(scores: ScoreInput, targets: TargetInput, opts: MetricOptions = {}): number {
  return mean(perClassAveragePrecision(scores, targets, opts));
}

/** Per-class ROC AUC (null where a class lacks positives or negatives). */
export function perClassAuc(scores: ScoreInput, targets: TargetInput, opts: MetricOptions = {}): (number | null)[] {
  const s = readScores(scores, opts);
  return perClass(s, readTargets(targets, s.n, s.c), rocAuc);
}

/** Mean ROC AUC over the classes with both positives and negatives. */
export function macroAuc(scores: ScoreInput, targets: TargetInput, opts: MetricOptions = {}): number {
  return mean(perClassAuc(scores, targets, opts));
}

function predictions(s: Scores): Int32Array {
  const p = new Int32Array(s.n);
  for (let i = 0; i < s.n; i++) p[i] = argmaxRow(s.v, i, s.c);
  return p;
}

/** Counts `[true][predicted]` from class indices. */
export function confusionFromLabels(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number): number[][] {
  if (yTrue.length !== yPred.length) throw new Error(`yPred: length ${yPred.length} differs from yTrue's ${yTrue.length}`);
  const cm = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i]!;
    const p = yPred[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= numClasses) throw new Error(`yTrue: row ${i} has class ${t}, expected [0, ${numClasses})`);
    if (!Number.isInteger(p) || p < 0 || p >= numClasses) throw new Error(`yPred: row ${i} has class ${p}, expected [0, ${numClasses})`);
    cm[t]![p]!++;
  }
  return cm;
}

/** Confusion matrix `[true][predicted]` of argmax(target) vs argmax(score). */
export function confusionMatrix(scores: ScoreInput, targets: TargetInput, opts: MetricOptions = {}): number[][] {
  const s = readScores(scores, opts);
  return confusionFromLabels(readTargets(targets, s.n, s.c).index, predictions(s), s.c);
}

function balanced(cm: number[][]): number {
  const recalls: (number | null)[] = cm.map((row, j) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? null : row[j]! / total;
  });
  return mean(recalls);
}

/** Balanced accuracy: the mean over classes present in the targets of their recall. */
export function meanClassAccuracy(scores: ScoreInput, targets: TargetInput, opts: MetricOptions = {}): number {
  return balanced(confusionMatrix(scores, targets, opts));
}

// Wichura, Algorithm AS 241 (PPND16), Applied Statistics 37 (1988): about 1e-16 relative accuracy.
const A = [
  3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125, 45921.953931549871457, 67265.770927008700853,
  33430.575583588128105, 2509.0809287301226727,
];
const B = [
  1, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077, 21213.794301586595867, 39307.89580009271061, 28729.085735721942674,
  5226.495278852854561,
];
const C = [
  1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504, 1.27045825245236838258,
  0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4,
];
const D = [
  1, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455, 0.14810397642748007459, 0.0151986665636164571966,
  5.475938084995344946e-4, 1.05075007164441684324e-9,
];
const E = [
  6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123, 0.026532189526576123093,
  0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7,
];
const F = [
  1, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525, 7.868691311456132591e-4, 1.8463183175100546818e-5,
  1.4215117583164458887e-7, 2.04426310338993978564e-15,
];

function poly(c: number[], x: number): number {
  let r = 0;
  for (let i = c.length - 1; i >= 0; i--) r = r * x + c[i]!;
  return r;
}

/** The standard normal quantile (scipy.stats.norm.ppf): -Infinity at 0, Infinity at 1, NaN outside [0, 1]. */
export function normPpf(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * poly(A, r)) / poly(B, r);
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let x: number;
  if (r <= 5) {
    r -= 1.6;
    x = poly(C, r) / poly(D, r);
  } else {
    r -= 5;
    x = poly(E, r) / poly(F, r);
  }
  return q < 0 ? -x : x;
}

/** AST's d-prime of an AUC: sqrt(2) * Phi^-1(auc). */
export function dPrime(auc: number): number {
  return Math.SQRT2 * normPpf(auc);
}

/** Every metric at once (one pass over the inputs' validation). */
export function evaluate(scores: ScoreInput, targets: TargetInput, opts: MetricOptions = {}): MetricReport {
  const s = readScores(scores, opts);
  const t = readTargets(targets, s.n, s.c);
  const perClassAP = perClass(s, t, averagePrecision);
  const perClassAUC = perClass(s, t, rocAuc);
  const confusion = confusionFromLabels(t.index, predictions(s), s.c);
  const auc = mean(perClassAUC);
  return {
    n: s.n,
    numClasses: s.c,
    top1: topKFrom(s, t, 1),
    top5: topKFrom(s, t, 5),
    mAP: mean(perClassAP),
    meanClassAccuracy: balanced(confusion),
    macroAUC: auc,
    dPrime: dPrime(auc),
    perClassAP,
    perClassAUC,
    confusion,
  };
}
