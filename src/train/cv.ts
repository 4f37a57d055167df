/**
 * k-fold cross-validation (ESC-50): one training run per held-out fold under `<out>/fold<k>`, the
 * held-out fold evaluated every epoch (AST's protocol). Resumable fold by fold: a fold with
 * results.json is read, not re-run; an interrupted fold continues from its checkpoint.
 *
 * Reported: per fold the last epoch's and the best epoch's accuracy; their mean and standard
 * deviation (population, numpy's default); and AST's way for ESC-50: average the folds' accuracy
 * curves epoch by epoch and take the epoch where the average is highest.
 *
 * Data parallelism (`parallel`): every fold trains over the ranks (fresh hooks per fold: the gradient
 * buckets are the fold's model's); the ranks meet before each fold so that all of them see the same
 * finished or started folds, and rank 0 alone writes cv_results.json.
 */
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import type { MetricName, Recipe } from './recipe.js';
import { readMetrics, readResults, readRunRecipe, resumeDiff, runDone, runPaths, runStarted } from './run_dir.js';
import { train, type ParallelHooks, type TrainOptions, type TrainResults } from './trainer.js';

export interface CvOptions {
  recipe: Recipe;
  folds: number;
  out: string;
  log?: (line: string) => void;
  progress?: TrainOptions['progress'];
  /** data parallelism: the hooks for one fold's training (absent: one process) */
  parallel?: () => ParallelHooks;
}

export interface FoldResult {
  fold: number;
  dir: string;
  /** the metric at the last epoch */
  final: number;
  /** the best epoch on this fold (1-based) and its value */
  best: { epoch: number; value: number };
  /** the metric per epoch */
  curve: number[];
  seconds_per_epoch: number;
  trainable: number;
  /** read from an earlier invocation rather than trained now */
  reused: boolean;
}

export interface CvResults {
  name: string;
  metric: MetricName;
  folds: FoldResult[];
  final: { mean: number; std: number };
  best: { mean: number; std: number };
  /** AST's ESC-50 number: the epoch best on the fold-averaged curve */
  ast: { epoch: number; mean: number; std: number; curve: number[] };
  trainable: number;
}

export function meanStd(xs: number[]): { mean: number; std: number } {
  if (xs.length === 0) return { mean: NaN, std: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { mean, std: Math.sqrt(v) };
}

function readCurve(dir: string, metric: MetricName): number[] {
  return readMetrics(dir).map((m) => m.val?.[metric] ?? NaN);
}

/** The recipe of fold k. */
export function foldRecipe(recipe: Recipe, fold: number): Recipe {
  return { ...recipe, name: `${recipe.name}_fold${fold}`, data: { ...recipe.data, fold } };
}

export async function runCv(o: CvOptions): Promise<CvResults> {
  const log = o.log ?? ((s: string) => process.stdout.write(`${s}\n`));
  if (!Number.isInteger(o.folds) || o.folds < 2) throw new Error(`--folds: expected an integer >= 2, got ${o.folds}`);
  const out = resolve(o.out);
  const metric: MetricName = o.recipe.train.best_metric === 'loss' ? 'top1' : o.recipe.train.best_metric;
  const folds: FoldResult[] = [];
  const main = !o.parallel || o.parallel().rank === 0;
  for (let k = 1; k <= o.folds; k++) {
    const dir = join(out, `fold${k}`);
    const recipe = foldRecipe(o.recipe, k);
    const parallel = o.parallel?.();
    // rank 0 has finished the folds before this one (results.json written) when the others look
    parallel?.barrier();
    let results: TrainResults;
    let reused = false;
    if (runDone(dir)) {
      const diff = resumeDiff(readRunRecipe(dir), recipe);
      if (diff.length) throw new Error(`${dir}: fold ${k} was run with a different recipe (${diff.join(', ')}); use another --out`);
      results = readResults<TrainResults>(dir);
      reused = true;
      log(`fold ${k}/${o.folds}: done earlier (${runPaths(dir).results})`);
    } else {
      log(`fold ${k}/${o.folds}: ${runStarted(dir) ? 'resuming' : 'training'} (fold${k} held out)`);
      results = await train({ recipe, out: dir, resume: runStarted(dir), log, progress: o.progress, ...(parallel ? { parallel } : {}) });
    }
    const curve = readCurve(dir, metric);
    let bestEpoch = 0;
    curve.forEach((v, i) => {
      if (!(curve[bestEpoch]! >= v)) bestEpoch = i;
    });
    folds.push({
      fold: k,
      dir,
      final: curve[curve.length - 1] ?? NaN,
      best: { epoch: bestEpoch + 1, value: curve[bestEpoch] ?? NaN },
      curve,
      seconds_per_epoch: results.seconds_per_epoch,
      trainable: results.params.trainable,
      reused,
    });
  }
  const epochs = Math.min(...folds.map((f) => f.curve.length));
  const avg: number[] = [];
  for (let e = 0; e < epochs; e++) avg.push(folds.reduce((a, f) => a + f.curve[e]!, 0) / folds.length);
  let astEpoch = 0;
  avg.forEach((v, i) => {
    if (v > avg[astEpoch]!) astEpoch = i;
  });
  const results: CvResults = {
    name: o.recipe.name,
    metric,
    folds,
    final: meanStd(folds.map((f) => f.final)),
    best: meanStd(folds.map((f) => f.best.value)),
    ast: { epoch: astEpoch + 1, ...meanStd(folds.map((f) => f.curve[astEpoch]!)), curve: avg },
    trainable: folds[0]?.trainable ?? 0,
  };
  if (main) writeFileAtomic(join(out, 'cv_results.json'), `${JSON.stringify(results, null, 1)}\n`);
  return results;
}

/** The table `loaa cv` prints. */
export function formatCv(r: CvResults): string {
  const pct = (v: number): string => (Number.isFinite(v) ? (100 * v).toFixed(2) : '-');
  const lines = [
    `${r.name}: ${r.folds.length}-fold cross-validation, ${r.metric} (%), ${r.trainable.toLocaleString('en-US')} trainable parameters`,
    '',
  ];
  lines.push('fold   last epoch   best (epoch)   s/epoch');
  for (const f of r.folds) {
    lines.push(
      `${String(f.fold).padEnd(5)}  ${pct(f.final).padStart(10)}   ${pct(f.best.value).padStart(6)} (${String(f.best.epoch).padStart(2)})   ${f.seconds_per_epoch.toFixed(1).padStart(7)}`,
    );
  }
  lines.push('');
  lines.push(`last epoch:  ${pct(r.final.mean)} +/- ${pct(r.final.std)}`);
  lines.push(`best epoch per fold (optimistic):  ${pct(r.best.mean)} +/- ${pct(r.best.std)}`);
  lines.push(`AST's way (epoch ${r.ast.epoch}, best on the fold-averaged curve):  ${pct(r.ast.mean)} +/- ${pct(r.ast.std)}`);
  return lines.join('\n');
}
