/**
 * The `report` section of a grid file, checked (see the comment at the top of report.ts for its
 * keys); every error names the key path under `where`.
 */
import { REPORT_SPLITS, type ReportSplit } from './runs.js';
import type { BestScope, ExtraColumn, TableSpec } from './table.js';
import { parsePaper } from './paper.js';

export interface CurvesSpec {
  group: string[] | null;
  split: string[] | null;
  metric: string;
}

export interface ReportSpec {
  title: string;
  description: string;
  metric: string;
  split: ReportSplit;
  percent: boolean | null;
  digits: number;
  replicates: string[] | null;
  labels: Record<string, Record<string, string>>;
  tables: Partial<TableSpec>[];
  curves: CurvesSpec;
}

const SPLITS: readonly string[] = REPORT_SPLITS;
const BESTS = ['column', 'row', 'table', 'none'];
export const LOWER_IS_BETTER = new Set(['loss']);
export const NOT_FRACTIONS = new Set(['loss', 'dPrime', 'n']);

function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function strList(v: unknown, where: string): string[] {
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new Error(`${where}: expected an axis name or a list of axis names`);
  return v as string[];
}

function checkKeys(o: Record<string, unknown>, known: string[], where: string): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new Error(`${where}.${k}: unknown key (known: ${known.join(', ')})`);
}

/** Checks a grid file's `report` section (`where` names it in errors). */
export function parseReportSpec(raw: unknown, where = 'report'): ReportSpec {
  const spec: ReportSpec = {
    title: '',
    description: '',
    metric: 'top1',
    split: 'auto',
    percent: null,
    digits: 2,
    replicates: null,
    labels: {},
    tables: [],
    curves: { group: null, split: null, metric: '' },
  };
  if (raw === null || raw === undefined) return spec;
  if (!isPlain(raw)) throw new Error(`${where}: expected a mapping`);
  checkKeys(raw, ['title', 'description', 'metric', 'split', 'percent', 'digits', 'replicates', 'labels', 'tables', 'curves'], where);
  if (raw.title !== undefined) spec.title = String(raw.title);
  if (raw.description !== undefined) spec.description = String(raw.description);
  if (raw.metric !== undefined) {
    if (typeof raw.metric !== 'string') throw new Error(`${where}.metric: expected a metric name such as top1`);
    spec.metric = raw.metric;
  }
  if (raw.split !== undefined) {
    if (!SPLITS.includes(raw.split as string))
      throw new Error(`${where}.split: expected one of ${SPLITS.join(', ')}, got ${JSON.stringify(raw.split)}`);
    spec.split = raw.split as ReportSplit;
  }
  if (raw.labels !== undefined) {
    if (!isPlain(raw.labels)) throw new Error(`${where}.labels: expected {axis: {value: label}}`);
    for (const [axis, m] of Object.entries(raw.labels)) {
      if (!isPlain(m)) throw new Error(`${where}.labels.${axis}: expected {value: label}`);
      spec.labels[axis] = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
    }
  }
  readNumberFormat(raw, spec, where);
  if (raw.replicates !== undefined) spec.replicates = strList(raw.replicates, `${where}.replicates`);
  if (raw.tables !== undefined) {
    if (!Array.isArray(raw.tables)) throw new Error(`${where}.tables: expected a list of tables`);
    spec.tables = raw.tables.map((t, i) => parseTable(t, `${where}.tables.${i}`));
  }
  if (raw.curves !== undefined) {
    const c = raw.curves;
    if (!isPlain(c)) throw new Error(`${where}.curves: expected a mapping {group, split, metric}`);
    checkKeys(c, ['group', 'split', 'metric'], `${where}.curves`);
    if (c.group !== undefined) spec.curves.group = strList(c.group, `${where}.curves.group`);
    if (c.split !== undefined) spec.curves.split = strList(c.split, `${where}.curves.split`);
    if (c.metric !== undefined) spec.curves.metric = String(c.metric);
  }
  return spec;
}

function parseTable(t: unknown, where: string): Partial<TableSpec> {
  if (!isPlain(t)) throw new Error(`${where}: expected a mapping {title, rows, cols, ...}`);
  checkKeys(
    t,
    ['title', 'rows', 'cols', 'filter', 'metric', 'split', 'params', 'best', 'better', 'percent', 'digits', 'extra', 'paper'],
    where,
  );
  const out: Partial<TableSpec> = {};
  if (t.paper !== undefined) out.paper = parsePaper(t.paper, `${where}.paper`);
  if (t.title !== undefined) out.title = String(t.title);
  if (t.rows !== undefined) out.rows = t.rows === null ? [] : strList(t.rows, `${where}.rows`);
  if (t.cols !== undefined) out.cols = t.cols === null ? [] : strList(t.cols, `${where}.cols`);
  if (t.filter !== undefined) {
    if (!isPlain(t.filter)) throw new Error(`${where}.filter: expected {axis: value or [values]}`);
    out.filter = Object.fromEntries(Object.entries(t.filter).map(([a, v]) => [a, (Array.isArray(v) ? v : [v]).map(String)]));
  }
  if (t.metric !== undefined) out.metric = String(t.metric);
  if (t.split !== undefined) {
    if (!SPLITS.includes(t.split as string)) throw new Error(`${where}.split: expected one of ${SPLITS.join(', ')}`);
    out.split = t.split as ReportSplit;
  }
  if (t.extra !== undefined) {
    if (!Array.isArray(t.extra)) throw new Error(`${where}.extra: expected a list of {label, filter, metric, split}`);
    out.extra = t.extra.map((x, i) => parseExtra(x, `${where}.extra.${i}`));
  }
  if (t.params !== undefined) {
    if (typeof t.params !== 'boolean') throw new Error(`${where}.params: expected true or false`);
    out.params = t.params;
  }
  if (t.best !== undefined) {
    if (!BESTS.includes(t.best as string)) throw new Error(`${where}.best: expected one of ${BESTS.join(', ')}`);
    out.best = t.best as BestScope;
  }
  if (t.better !== undefined) {
    if (t.better !== 'higher' && t.better !== 'lower') throw new Error(`${where}.better: expected higher or lower`);
    out.better = t.better;
  }
  if (t.percent !== undefined) out.percent = Boolean(t.percent);
  if (t.digits !== undefined) {
    if (!Number.isInteger(t.digits) || (t.digits as number) < 0 || (t.digits as number) > 8)
      throw new Error(`${where}.digits: expected an integer in [0, 8]`);
    out.digits = t.digits as number;
  }
  return out;
}

function parseExtra(x: unknown, where: string): ExtraColumn {
  if (!isPlain(x)) throw new Error(`${where}: expected {label, filter, metric, split}`);
  checkKeys(x, ['label', 'filter', 'metric', 'split', 'percent', 'digits'], where);
  if (typeof x.label !== 'string' || x.label === '') throw new Error(`${where}.label: expected the column's name`);
  if (x.filter !== undefined && !isPlain(x.filter)) throw new Error(`${where}.filter: expected {axis: value or [values]}`);
  const out: ExtraColumn = {
    label: x.label,
    filter: Object.fromEntries(
      Object.entries((x.filter as Record<string, unknown>) ?? {}).map(([a, v]) => [a, (Array.isArray(v) ? v : [v]).map(String)]),
    ),
  };
  if (x.metric !== undefined) out.metric = String(x.metric);
  readNumberFormat(x, out, where);
  if (x.split !== undefined) {
    if (!SPLITS.includes(x.split as string)) throw new Error(`${where}.split: expected one of ${SPLITS.join(', ')}`);
    out.split = x.split as ReportSplit;
  }
  return out;
}

/** `percent` and `digits`, shared by a table and its extra columns. */
function readNumberFormat(raw: Record<string, unknown>, into: { percent?: boolean | null; digits?: number | null }, where: string): void {
  if (raw.percent !== undefined) {
    if (typeof raw.percent !== 'boolean') throw new Error(`${where}.percent: expected true or false`);
    into.percent = raw.percent;
  }
  if (raw.digits !== undefined) {
    if (!Number.isInteger(raw.digits) || (raw.digits as number) < 0 || (raw.digits as number) > 8)
      throw new Error(`${where}.digits: expected an integer in [0, 8]`);
    into.digits = raw.digits as number;
  }
}
