/**
 * Finding and reading training runs for `loaa report`: a run is a directory with results.json or
 * metrics.jsonl (what `loaa train` writes); `grid_run.json` (written by `loaa grid`) gives its axis
 * values, otherwise the run is named by its path (and `.../fold<k>` directories, as `loaa cv` writes
 * them, are folds of one run).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { readMetrics, type MetricsLine } from '../train/run_dir.js';
import { readInputJson } from '../util/guarded_fs.js';

export interface RunResults {
  name?: string;
  dataset?: string;
  method?: string;
  arch?: string;
  params?: { total: number; trainable: number; frozen?: number; ratio?: number };
  epochs?: number;
  seconds_per_epoch?: number;
  final?: { epoch: number; split: string | null; metrics: Record<string, number> | null };
  best?: { epoch: number; metric: string; value: number; split: string | null; metrics: Record<string, number> | null } | null;
  test?: { split: string; checkpoint: string; metrics: Record<string, number> } | null;
  [k: string]: unknown;
}

export interface RunRecord {
  dir: string;
  /** axis values (grid runs) or {run: <path relative to the root given>} */
  axes: Record<string, string>;
  results: RunResults | null;
  epochs: MetricsLine[];
  /** problems reading it (shown in the report, never fatal) */
  problems: string[];
}

function readJson<T>(file: string, problems: string[]): T | null {
  if (!existsSync(file)) return null;
  try {
    return readInputJson<T>(file, { what: 'run file' });
  } catch (e) {
    const m = (e as Error).message;
    problems.push(m.startsWith(file) ? m : `${file}: unreadable JSON (${m})`);
    return null;
  }
}

/** metrics.jsonl through the trainer's own reader (src/train/run_dir.ts); damage is one of the run's problems, never fatal. */
function readEpochs(dir: string, problems: string[]): MetricsLine[] {
  let lines: MetricsLine[];
  try {
    lines = readMetrics(dir, (w) => problems.push(w.replace(/^warning: /, '')));
  } catch (e) {
    problems.push((e as Error).message);
    return [];
  }
  const numbered = lines.filter((l) => typeof l.epoch === 'number');
  if (numbered.length < lines.length)
    problems.push(`${join(dir, 'metrics.jsonl')}: ${lines.length - numbered.length} line(s) with no epoch number`);
  return numbered;
}

function isRunDir(dir: string): boolean {
  return existsSync(join(dir, 'results.json')) || existsSync(join(dir, 'metrics.jsonl')) || existsSync(join(dir, 'grid_run.json'));
}

/** Run directories under `root` (itself included), to `depth` levels; adapter folders are not entered. */
export function findRunDirs(root: string, depth = 4): string[] {
  const out: string[] = [];
  const walk = (d: string, level: number): void => {
    if (isRunDir(d)) {
      out.push(d);
      return;
    }
    if (level >= depth) return;
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      if (n.startsWith('.') || n === 'node_modules') continue;
      const p = join(d, n);
      try {
        if (statSync(p).isDirectory()) walk(p, level + 1);
      } catch {
        /* vanished */
      }
    }
  };
  walk(resolve(root), 0);
  return out;
}

/** Reads one run directory. */
export function readRun(dir: string, root: string): RunRecord {
  const problems: string[] = [];
  const grid = readJson<{ axes?: Record<string, string> }>(join(dir, 'grid_run.json'), problems);
  const results = readJson<RunResults>(join(dir, 'results.json'), problems);
  const epochs = readEpochs(dir, problems);
  const rel = relative(resolve(root), dir) || dir.replace(/^.*[\\/]/, '');
  let axes: Record<string, string>;
  if (grid?.axes && typeof grid.axes === 'object') axes = { ...grid.axes };
  else {
    // loaa cv writes <out>/fold<k>: the folds of one run are replicates of it
    const m = /^(?:(.*)[\\/])?fold(\d+)$/.exec(rel);
    axes = m ? { run: m[1] || basename(dirname(dir)), fold: m[2]! } : { run: rel };
  }
  return { dir, axes, results, epochs, problems };
}

/** Every run under the given roots (a grid's output directory, a folder of runs, or single runs). */
export function collectRuns(roots: string[]): RunRecord[] {
  const out: RunRecord[] = [];
  const seen = new Set<string>();
  for (const root of roots) {
    if (!existsSync(root)) throw new Error(`${root}: no such directory`);
    if (!statSync(root).isDirectory()) throw new Error(`${root}: not a directory (give a run directory, or a folder of runs)`);
    for (const d of findRunDirs(root)) {
      if (seen.has(d)) continue;
      seen.add(d);
      out.push(readRun(d, root));
    }
  }
  return out;
}

export type Split = 'test' | 'best' | 'final';
/**
 * What a report cell reads: a run's `test`, `best` or `final` metrics; `auto` (test when the run has
 * a test set, else the last epoch); `fold-best`, AST's ESC-50 protocol (the folds' validation curves
 * averaged epoch by epoch, every fold read at the epoch where that average is highest, as AST's
 * get_esc_result.py does); `paper`, the paper's protocol per dataset (fold-best for cross-validated
 * cells, the test set with the best validation checkpoint when the run has one, else the best
 * validation epoch).
 */
export type ReportSplit = Split | 'auto' | 'fold-best' | 'paper';
export const REPORT_SPLITS: readonly ReportSplit[] = ['test', 'best', 'final', 'auto', 'fold-best', 'paper'];

/** The metrics a run reports for a split on its own ('fold-best' needs the other folds: see cellValues). */
export function runMetrics(r: RunRecord, split: ReportSplit): Record<string, number> | null {
  const res = r.results;
  if (!res) return null;
  const pick =
    split === 'auto' ? (res.test ? 'test' : 'final') : split === 'paper' || split === 'fold-best' ? (res.test ? 'test' : 'best') : split;
  if (pick === 'test') return res.test?.metrics ?? null;
  if (pick === 'best') return res.best?.metrics ?? null;
  return res.final?.metrics ?? null;
}

/** The validation curve of a run for a metric (NaN where an epoch lacks it). */
export function runCurve(r: RunRecord, metric: string): number[] {
  return r.epochs.map((e) => {
    const v = e.val?.[metric];
    return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
  });
}

/**
 * AST's ESC-50 number for a group of folds: average the finished folds' curves over the epochs they
 * all have, take the epoch (1-based) with the highest average (the first on ties, as numpy's argmax)
 * and return every fold's value there. null when fewer than two folds are finished.
 */
export function foldBest(
  runs: RunRecord[],
  metric: string,
  better: 'higher' | 'lower' = 'higher',
): { epoch: number; values: number[] } | null {
  const curves = runs.filter((r) => r.results !== null).map((r) => runCurve(r, metric));
  if (curves.length < 2) return null;
  const E = Math.min(...curves.map((c) => c.length));
  let best = -1;
  let bestAvg = NaN;
  for (let e = 0; e < E; e++) {
    const avg = curves.reduce((a, c) => a + c[e]!, 0) / curves.length;
    if (!Number.isFinite(avg)) continue;
    if (best < 0 || (better === 'higher' ? avg > bestAvg : avg < bestAvg)) {
      best = e;
      bestAvg = avg;
    }
  }
  return best < 0 ? null : { epoch: best + 1, values: curves.map((c) => c[best]!) };
}

/** The runs grouped by their values of `axes`, groups in the grid file's order of those values (others last, by name). */
export function groupBy(runs: RunRecord[], axes: string[], order: Record<string, string[]>): { key: string[]; runs: RunRecord[] }[] {
  const m = new Map<string, { key: string[]; runs: RunRecord[] }>();
  for (const r of runs) {
    const key = axes.map((a) => r.axes[a] ?? '-');
    const k = JSON.stringify(key);
    (m.get(k) ?? m.set(k, { key, runs: [] }).get(k)!).runs.push(r);
  }
  const rank = (a: string, v: string): number => {
    const i = order[a]?.indexOf(v) ?? -1;
    return i < 0 ? 1e9 : i;
  };
  return [...m.values()].sort((p, q) => {
    for (let i = 0; i < axes.length; i++) {
      const d = rank(axes[i]!, p.key[i]!) - rank(axes[i]!, q.key[i]!) || p.key[i]!.localeCompare(q.key[i]!, 'en', { numeric: true });
      if (d) return d;
    }
    return 0;
  });
}
