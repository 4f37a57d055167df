/**
 * Result tables laid out like the paper's: chosen axes on the rows and on the columns, each cell the
 * mean +/- std of one metric over the runs that share those axis values (the folds and seeds), the
 * best cell of each column (or row, or table) in bold and the second underlined, and the trainable
 * parameters of each row.
 */
import { foldBest, runMetrics, type ReportSplit, type RunRecord } from './runs.js';

import type { PaperSpec, RowKind } from './paper.js';
export type BestScope = 'column' | 'row' | 'table' | 'none';

export interface TableSpec {
  title: string;
  rows: string[];
  cols: string[];
  /** only runs whose axis values are among these */
  filter: Record<string, string[]>;
  metric: string;
  split: ReportSplit;
  params: boolean;
  best: BestScope;
  better: 'higher' | 'lower';
  /** show x100 */
  percent: boolean;
  digits: number;
  /** columns after the `cols` ones, each its own filter, metric and split (Table 2's EPIC mAP) */
  extra: ExtraColumn[];
  /** axis -> value -> the name shown (the paper's row and column names) */
  labels: Record<string, Record<string, string>>;
  /** the paper's values beside ours (src/viz/paper.ts) */
  paper?: PaperSpec;
}

export interface ExtraColumn {
  label: string;
  filter: Record<string, string[]>;
  metric?: string;
  split?: ReportSplit;
  /** this column shown x100 or not (EPIC mAP is a fraction in the paper's Table 2); default the table's */
  percent?: boolean;
  digits?: number;
}

export type Mark = 'best' | 'second' | null;

export interface Cell {
  values: number[];
  mean: number;
  std: number;
  /** runs in the cell that have no value (unfinished, or the metric is missing) */
  missing: number;
  mark: Mark;
  /** the value as shown (rounded, percent applied) */
  text: string;
  /** fold-best cells: the epoch (1-based) the folds were read at */
  epoch?: number;
}

export interface RowParams {
  trainable: number[];
  total: number[];
  /** shown as is instead of the counts (the paper's "# Param" on its rows) */
  text?: string;
}

export interface Table {
  spec: TableSpec;
  /** per row, the value of each row axis */
  rowKeys: string[][];
  colKeys: string[][];
  /** rowKeys / colKeys as shown (spec.labels applied); colLabels also holds the extra columns */
  rowLabels: string[][];
  colLabels: string[][];
  cells: Cell[][];
  params: RowParams[];
  /** axes (besides the replicates) whose several values were pooled into one cell */
  pooled: string[];
  /** the largest number of values in a cell */
  maxN: number;
  /** with a paper section: which rows are ours, the paper's for the row above, or quoted from other papers */
  rowKinds?: RowKind[];
  /** lines the paper prints with the table */
  notes?: string[];
}

/** population std (numpy's default, as loaa cv reports it) */
export function meanStd(xs: number[]): { mean: number; std: number } {
  if (!xs.length) return { mean: NaN, std: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean, std: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length) };
}

/** Natural order: numbers by value, then strings. */
function natural(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a.trim() !== '' && b.trim() !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a.localeCompare(b, 'en', { numeric: true });
}

function keyCombos(runs: RunRecord[], axes: string[], order: Record<string, string[]>): string[][] {
  const seen = new Map<string, string[]>();
  for (const r of runs) {
    const k = axes.map((a) => r.axes[a] ?? '-');
    seen.set(JSON.stringify(k), k);
  }
  const rank = (axis: string, v: string): number => {
    const i = order[axis]?.indexOf(v) ?? -1;
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  return [...seen.values()].sort((x, y) => {
    for (let i = 0; i < axes.length; i++) {
      const d = rank(axes[i]!, x[i]!) - rank(axes[i]!, y[i]!) || natural(x[i]!, y[i]!);
      if (d !== 0) return d;
    }
    return 0;
  });
}

export function formatValue(mean: number, std: number, n: number, spec: Pick<TableSpec, 'percent' | 'digits'>): string {
  if (!Number.isFinite(mean)) return '-';
  const k = spec.percent ? 100 : 1;
  const m = (mean * k).toFixed(spec.digits);
  return n > 1 ? `${m} ± ${(std * k).toFixed(spec.digits)}` : m;
}

/** 1234 -> "1.23K", 5.6e6 -> "5.60M" */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** "0.42M (0.49%)", or a range when the row's runs differ (e.g. heads of different sizes). */
export function formatParams(p: RowParams): string {
  if (p.text !== undefined) return p.text;
  if (!p.trainable.length) return '-';
  const lo = Math.min(...p.trainable);
  const hi = Math.max(...p.trainable);
  const ratios = p.trainable.map((t, i) => t / p.total[i]!);
  const rlo = Math.min(...ratios);
  const rhi = Math.max(...ratios);
  const pct = (r: number): string => (r >= 0.1 ? (100 * r).toFixed(1) : (100 * r).toFixed(2));
  if (lo === hi) return `${formatCount(lo)} (${pct(rlo)}%)`;
  return `${formatCount(lo)}–${formatCount(hi)} (${pct(rlo)}–${pct(rhi)}%)`;
}

function markCells(cells: Cell[], better: 'higher' | 'lower'): void {
  // compared as shown, so that equal-looking numbers get the same mark
  const shown = cells.map((c) => (Number.isFinite(c.mean) ? Number(c.text.split(' ')[0]) : NaN));
  const distinct = [...new Set(shown.filter((v) => Number.isFinite(v)))].sort((a, b) => (better === 'higher' ? b - a : a - b));
  if (distinct.length === 0) return;
  cells.forEach((c, i) => {
    if (shown[i] === distinct[0]) c.mark = 'best';
    else if (distinct.length > 1 && shown[i] === distinct[1]) c.mark = 'second';
  });
}

export function buildTable(all: RunRecord[], spec: TableSpec, order: Record<string, string[]>, replicates: string[]): Table {
  const runs = all.filter((r) => Object.entries(spec.filter).every(([a, vs]) => vs.includes(r.axes[a] ?? '')));
  const rowKeys = spec.rows.length ? keyCombos(runs, spec.rows, order) : [[]];
  const colKeys = spec.cols.length ? keyCombos(runs, spec.cols, order) : [[]];
  const match = (r: RunRecord, axes: string[], key: string[]): boolean => axes.every((a, i) => (r.axes[a] ?? '-') === key[i]);
  const cells: Cell[][] = [];
  const params: RowParams[] = [];
  let maxN = 0;
  const pooled = new Set<string>();
  const fixed = new Set([...spec.rows, ...spec.cols, ...replicates]);
  for (const rk of rowKeys) {
    const rowRuns = runs.filter((r) => match(r, spec.rows, rk));
    const p: RowParams = { trainable: [], total: [] };
    for (const r of rowRuns) {
      const pr = r.results?.params;
      if (pr && Number.isFinite(pr.trainable) && Number.isFinite(pr.total)) {
        p.trainable.push(pr.trainable);
        p.total.push(pr.total);
      }
    }
    params.push(p);
    const row: Cell[] = [];
    for (const ck of colKeys) {
      const cellRuns = rowRuns.filter((r) => match(r, spec.cols, ck));
      const { values, missing, epoch } = cellValues(cellRuns, spec.metric, spec.split, spec.better, replicates);
      const axesHere = new Map<string, Set<string>>();
      for (const r of cellRuns)
        for (const [a, v] of Object.entries(r.axes)) if (!fixed.has(a)) (axesHere.get(a) ?? axesHere.set(a, new Set()).get(a)!).add(v);
      for (const [a, vs] of axesHere) if (vs.size > 1) pooled.add(a);
      const { mean, std } = meanStd(values);
      maxN = Math.max(maxN, values.length);
      row.push({ values, mean, std, missing, mark: null, text: formatValue(mean, std, values.length, spec), ...(epoch ? { epoch } : {}) });
    }
    for (const x of spec.extra) {
      const xr = rowRuns.filter((r) => Object.entries(x.filter).every(([a, vs]) => vs.includes(r.axes[a] ?? '')));
      const { values, missing, epoch } = cellValues(xr, x.metric ?? spec.metric, x.split ?? spec.split, spec.better, replicates);
      const { mean, std } = meanStd(values);
      maxN = Math.max(maxN, values.length);
      const fmt = { percent: x.percent ?? spec.percent, digits: x.digits ?? spec.digits };
      row.push({ values, mean, std, missing, mark: null, text: formatValue(mean, std, values.length, fmt), ...(epoch ? { epoch } : {}) });
    }
    cells.push(row);
  }
  if (spec.best === 'column') {
    for (let j = 0; j < colKeys.length + spec.extra.length; j++)
      markCells(
        cells.map((row) => row[j]!),
        spec.better,
      );
  } else if (spec.best === 'row') {
    for (const row of cells) markCells(row, spec.better);
  } else if (spec.best === 'table') {
    markCells(cells.flat(), spec.better);
  }
  const show = (axes: string[], key: string[]): string[] => key.map((v, i) => spec.labels[axes[i]!]?.[v] ?? v);
  const rowLabels = rowKeys.map((k) => show(spec.rows, k));
  const colLabels = [...colKeys.map((k) => show(spec.cols, k)), ...spec.extra.map((x) => [x.label])];
  return { spec, rowKeys, colKeys, rowLabels, colLabels, cells, params, pooled: [...pooled], maxN };
}

/**
 * The values of one cell. fold-best / paper on a cell of several folds (runs that differ in a
 * replicate axis and have no test set): AST's protocol, every fold at the epoch with the best
 * fold-averaged curve. Otherwise each run's own metrics for the split.
 */
export function cellValues(
  runs: RunRecord[],
  metric: string,
  split: ReportSplit,
  better: 'higher' | 'lower',
  replicates: string[],
): { values: number[]; missing: number; epoch?: number } {
  if ((split === 'fold-best' || split === 'paper') && runs.length > 1 && runs.every((r) => !r.results?.test)) {
    const folds = replicates.some(
      (a) => runs.every((r) => r.axes[a] !== undefined) && new Set(runs.map((r) => r.axes[a])).size === runs.length,
    );
    if (folds) {
      const fb = foldBest(runs, metric, better);
      if (fb)
        return {
          values: fb.values.filter(Number.isFinite),
          missing: runs.length - fb.values.filter(Number.isFinite).length,
          epoch: fb.epoch,
        };
    }
  }
  const values: number[] = [];
  let missing = 0;
  for (const r of runs) {
    const v = runMetrics(r, split)?.[metric];
    if (typeof v === 'number' && Number.isFinite(v)) values.push(v);
    else missing++;
  }
  return { values, missing };
}
