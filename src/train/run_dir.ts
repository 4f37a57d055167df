/**
 * The run directory, one place for its layout (what `loaa train` writes, what eval, cv, grid and
 * report read):
 *
 *   recipe.json        the resolved recipe (what `--resume` continues)
 *   norm_stats.json    normalisation statistics, when the recipe computes them (mean: auto)
 *   metrics.jsonl      one line per epoch: train loss, lr, validation metrics, timings
 *   checkpoint/        trainable tensors + optimizer state + loop state, written atomically
 *   best/  final/      adapter directories (saveAdapter): best by `train.best_metric`, and the last
 *   results.json       final and best validation metrics, test metrics of the best checkpoint,
 *                      trainable parameters, seconds per epoch
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import { appendGuarded, readInputJson, readInputText } from '../util/guarded_fs.js';
import { recipeDiff, recipeFromObject, type Recipe } from './recipe.js';

export interface RunPaths {
  dir: string;
  recipe: string;
  normStats: string;
  metrics: string;
  checkpoint: string;
  best: string;
  final: string;
  results: string;
}

export function runPaths(dir: string): RunPaths {
  const d = resolve(dir);
  return {
    dir: d,
    recipe: join(d, 'recipe.json'),
    normStats: join(d, 'norm_stats.json'),
    metrics: join(d, 'metrics.jsonl'),
    checkpoint: join(d, 'checkpoint'),
    best: join(d, 'best'),
    final: join(d, 'final'),
    results: join(d, 'results.json'),
  };
}

/** started: has recipe.json; done: has results.json. */
export function runStarted(dir: string): boolean {
  return existsSync(runPaths(dir).recipe);
}
export function runDone(dir: string): boolean {
  return existsSync(runPaths(dir).results);
}

/** The run's saved recipe, checked again; `set` overrides as with --set. */
export function readRunRecipe(dir: string, set: string[] = [], edit?: (raw: Record<string, unknown>) => void): Recipe {
  const file = runPaths(dir).recipe;
  if (!existsSync(file)) throw new Error(`${resolve(dir)}: not a run directory (no recipe.json)`);
  const raw = readInputJson<Record<string, unknown>>(file, { what: 'run recipe' });
  edit?.(raw);
  return recipeFromObject(raw, file, set);
}

/** Keys that may change between an interrupted run and its resumption (they do not change the result). */
export const RESUME_FREE = [
  'data.workers',
  'data.prefetch',
  'data.root',
  'data.cache',
  'train.log_every',
  'train.checkpoint_every',
  'train.device',
  'description',
];

/** Key paths where `recipe` differs from a run's saved one in ways that change the result. */
export function resumeDiff(saved: Recipe, recipe: Recipe): string[] {
  return recipeDiff(saved, recipe).filter((k) => !RESUME_FREE.some((p) => k === p || k.startsWith(`${p}.`)));
}

export function writeRunRecipe(dir: string, recipe: Recipe): void {
  writeFileAtomic(runPaths(dir).recipe, `${JSON.stringify(recipe, null, 1)}\n`);
}

/** One line of metrics.jsonl (unknown keys are kept). */
export interface MetricsLine {
  epoch: number;
  step?: number;
  lr?: number;
  train_loss?: number | null;
  train_seconds?: number;
  samples_per_second?: number | null;
  split?: string | null;
  val?: Record<string, number>;
  eval_seconds?: number;
  [k: string]: unknown;
}

/** torn lines already reported (file:line): resume reads the file more than once */
const warnedTorn = new Set<string>();

/**
 * Every line of a run's metrics.jsonl ([] before the first epoch). A torn last line (a crash
 * mid-append) is dropped with one warning naming the file and line; damage elsewhere is an Error.
 */
export function readMetrics(dir: string, warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): MetricsLine[] {
  const file = runPaths(dir).metrics;
  if (!existsSync(file)) return [];
  const lines = readInputText(file, { what: 'metrics log', noFollow: true })
    .split('\n')
    .filter((l) => l.trim() !== '');
  return lines.flatMap((l, i) => {
    try {
      return [JSON.parse(l) as MetricsLine];
    } catch (e) {
      if (i < lines.length - 1) throw new Error(`${file}: line ${i + 1}: not valid JSON (${(e as Error).message})`);
      const key = `${file}:${i + 1}`;
      if (!warnedTorn.has(key)) {
        warnedTorn.add(key);
        warn(`warning: ${file}: line ${i + 1} is cut short (a crash while it was written?): dropped (${l.length} characters)`);
      }
      return [];
    }
  });
}

export function appendMetrics(dir: string, line: MetricsLine): void {
  appendGuarded(runPaths(dir).metrics, 'metrics line', `${JSON.stringify(line)}\n`);
}

/** Keeps the lines of epochs up to `epoch` (resuming re-runs the epochs a checkpoint has not seen finish). */
export function keepMetrics(dir: string, epoch: number, warn?: (line: string) => void): void {
  const kept = readMetrics(dir, warn).filter((m) => m.epoch <= epoch);
  writeFileAtomic(runPaths(dir).metrics, kept.map((m) => `${JSON.stringify(m)}\n`).join(''));
}

export function writeResults<T>(dir: string, results: T): void {
  writeFileAtomic(runPaths(dir).results, `${JSON.stringify(results, null, 1)}\n`);
}

export function readResults<T = Record<string, unknown>>(dir: string): T {
  const file = runPaths(dir).results;
  // a regular file (a device there would be read forever), its errors naming it once
  return readInputJson<T>(file, { what: 'run results' });
}
