/**
 * `loaa report`: results of many runs (a grid's output, or any folder of runs) as report.md and a
 * self-contained report.html (inline CSS, inline SVG) with the tables of the grid file's `report`
 * section and the training curves (also written as plots/*.svg).
 *
 * The `report` section of a grid file:
 *
 *   report:
 *     title: "LoAA on FSDD"
 *     metric: top1             # a key of the trainer's metrics (top1, top5, mAP, meanClassAccuracy, loss, ...)
 *     split: auto              # test | best | final | auto (test when the run has a test set, else the last epoch)
 *                              # | fold-best (AST's ESC-50 protocol) | paper (fold-best for folds, else test, else best)
 *     labels:                  # the names shown for axis values (the paper's row and column names)
 *       method: {attnT_2: "LoAA Attn(T) 2%"}
 *     percent: true            # show x100 (default: true except for loss and dPrime)
 *     digits: 2
 *     replicates: [fold, seed] # axes averaged into mean +/- std (default: axes called fold(s)/seed(s))
 *     tables:
 *       - title: "Table 1: kernel x position"
 *         rows: [kernel]       # axes on the rows (default: every other non-replicate axis)
 *         cols: [position]     # axes on the columns (default: none: one value column)
 *         filter: {dataset: esc50}
 *         params: true         # a column of trainable parameters (and their share of the total)
 *         best: column         # where bold / underline are chosen: column | row | table | none
 *         metric: ..., split: ..., better: higher | lower
 *     curves:
 *       group: [method]        # one line per value of these axes (mean over the rest, band = +/- std)
 *       split: [dataset]       # one pair of plots per value of these axes
 *       metric: top1           # the validation metric plotted per epoch
 */
import { mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import { collectRuns, groupBy, type RunRecord } from './runs.js';
import { LOWER_IS_BETTER, NOT_FRACTIONS, parseReportSpec, type ReportSpec } from './report_spec.js';
import { linePlot, type Series } from './svg.js';
import { withPaperRows } from './paper.js';
import { buildTable, meanStd, type Table, type TableSpec } from './table.js';
import { renderHtml, renderMarkdown, type ReportDoc } from './report_render.js';

export { parseReportSpec, type CurvesSpec, type ReportSpec } from './report_spec.js';

export interface ReportInput {
  runs: RunRecord[];
  spec: ReportSpec;
  /** axis -> value names in the grid file's order */
  order: Record<string, string[]>;
  /** the directories the runs came from (for the text) */
  roots: string[];
}

export interface ReportOutput {
  markdown: string;
  html: string;
  plots: { name: string; svg: string; title: string }[];
  tables: Table[];
  summary: { runs: number; finished: number; unfinished: number; problems: string[] };
}

function axesOf(runs: RunRecord[], order: Record<string, string[]>): string[] {
  const names = new Set<string>(Object.keys(order));
  for (const r of runs) for (const a of Object.keys(r.axes)) names.add(a);
  return [...names];
}

function defaultReplicates(axes: string[]): string[] {
  return axes.filter((a) => /^(folds?|seeds?|reps?|repeats?|trials?)$/i.test(a));
}

/** A table spec with every default filled in. */
export function fullTableSpec(t: Partial<TableSpec>, spec: ReportSpec, axes: string[], replicates: string[], i: number): TableSpec {
  const metric = t.metric ?? spec.metric;
  const cols = t.cols ?? [];
  for (const a of [...(t.rows ?? []), ...cols, ...Object.keys(t.filter ?? {}), ...(t.extra ?? []).flatMap((x) => Object.keys(x.filter))]) {
    if (!axes.includes(a)) throw new Error(`report.tables.${i}: no axis "${a}" in these runs (axes: ${axes.join(', ') || 'none'})`);
  }
  const rows = t.rows ?? axes.filter((a) => !cols.includes(a) && !replicates.includes(a) && !Object.hasOwn(t.filter ?? {}, a));
  return {
    title: t.title ?? (i === 0 ? 'Results' : `Table ${i + 1}`),
    rows,
    cols,
    filter: t.filter ?? {},
    metric,
    split: t.split ?? spec.split,
    params: t.params ?? true,
    best: t.best ?? 'column',
    better: t.better ?? (LOWER_IS_BETTER.has(metric) ? 'lower' : 'higher'),
    percent: t.percent ?? spec.percent ?? !NOT_FRACTIONS.has(metric),
    digits: t.digits ?? spec.digits,
    extra: t.extra ?? [],
    labels: spec.labels,
    ...(t.paper ? { paper: t.paper } : {}),
  };
}

interface CurveGroup {
  label: string;
  runs: RunRecord[];
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

function curveSeries(groups: CurveGroup[], value: (r: RunRecord, epochIndex: number) => number | undefined): Series[] {
  return groups.map((g) => {
    const E = Math.max(0, ...g.runs.map((r) => r.epochs.length));
    const x: number[] = [];
    const y: number[] = [];
    const lo: number[] = [];
    const hi: number[] = [];
    for (let e = 0; e < E; e++) {
      const vs = g.runs.map((r) => value(r, e)).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      const { mean: m, std } = meanStd(vs);
      x.push(g.runs.find((r) => r.epochs[e])?.epochs[e]?.epoch ?? e + 1);
      y.push(m);
      lo.push(vs.length > 1 ? m - std : NaN);
      hi.push(vs.length > 1 ? m + std : NaN);
    }
    const band = lo.some((v) => Number.isFinite(v));
    return { label: g.label, x, y, ...(band ? { lo, hi } : {}) };
  });
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'plot';
}

/** Builds the report (nothing written). */
export function buildReport(input: ReportInput): ReportOutput {
  const { runs, spec, order } = input;
  const axes = axesOf(runs, order);
  const replicates = (spec.replicates ?? defaultReplicates(axes)).filter((a) => axes.includes(a));
  const tableSpecs = spec.tables.length ? spec.tables : [{}];
  const tables = tableSpecs.map((t, i) => {
    const table = buildTable(runs, fullTableSpec(t, spec, axes, replicates, i), order, replicates);
    return table.spec.paper ? withPaperRows(table, table.spec.paper) : table;
  });
  const finished = runs.filter((r) => r.results !== null).length;
  const problems = runs.flatMap((r) => r.problems);

  // curves
  const metric = spec.curves.metric || spec.metric;
  const groupAxes = spec.curves.group ?? axes.filter((a) => !replicates.includes(a));
  const splitAxes = spec.curves.split ?? groupAxes.filter((a) => /^datasets?$/i.test(a) && new Set(runs.map((r) => r.axes[a])).size > 1);
  for (const a of [...groupAxes, ...splitAxes])
    if (!axes.includes(a)) throw new Error(`report.curves: no axis "${a}" in these runs (axes: ${axes.join(', ')})`);
  const lineAxes = groupAxes.filter((a) => !splitAxes.includes(a));
  const plots: ReportOutput['plots'] = [];
  const withEpochs = runs.filter((r) => r.epochs.length > 0);
  for (const part of splitAxes.length ? groupBy(withEpochs, splitAxes, order) : [{ key: [] as string[], runs: withEpochs }]) {
    // the names the tables use (the paper's), not the grid's value names
    const shown = (axes: string[], key: string[]): string[] => key.map((v, i) => spec.labels[axes[i]!]?.[v] ?? v);
    const groups = groupBy(part.runs, lineAxes, order).map((g) => ({
      label: shown(lineAxes, g.key).join(' / ') || 'all runs',
      runs: g.runs,
    }));
    const suffix = part.key.length ? ` (${shown(splitAxes, part.key).join(' / ')})` : '';
    const file = part.key.length ? `_${slug(part.key.join('_'))}` : '';
    const percent = !NOT_FRACTIONS.has(metric);
    const loss = curveSeries(groups, (r, e) => r.epochs[e]?.train_loss ?? undefined);
    if (loss.some((s) => s.y.some(Number.isFinite))) {
      plots.push({
        name: `loss${file}.svg`,
        title: `training loss${suffix}`,
        svg: linePlot({ title: `Training loss${suffix}`, xlabel: 'epoch', ylabel: 'loss', series: loss, width: 540 }),
      });
    }
    const val = curveSeries(groups, (r, e) => r.epochs[e]?.val?.[metric]);
    if (val.some((s) => s.y.some(Number.isFinite))) {
      // cross-validated runs each hold out their own fold: the curve is over all of them, not fold1's
      const names = [...new Set(part.runs.map((r) => r.epochs[0]?.split).filter((x): x is string => typeof x === 'string'))];
      const splitName =
        names.length === 1 ? names[0] : names.length > 1 && names.every((n) => /^fold\d+$/.test(n)) ? 'held-out folds' : undefined;
      const t = `Validation ${metric}${splitName && splitName !== 'validation' ? ` (${splitName})` : ''}${suffix}`;
      plots.push({
        name: `${slug(metric)}${file}.svg`,
        title: t.toLowerCase(),
        svg: linePlot({ title: t, xlabel: 'epoch', ylabel: metric, series: val, percent, width: 540 }),
      });
    }
  }

  const title = spec.title || 'loaa report';
  const doc: ReportDoc = { title, spec, input, tables, plots, replicates, info: { finished, problems } };
  const markdown = renderMarkdown(doc);
  const html = renderHtml(doc);
  return { markdown, html, plots, tables, summary: { runs: runs.length, finished, unfinished: runs.length - finished, problems } };
}

/** Writes report.md, report.html, plots/*.svg and report.json into `outDir`. */
export function writeReport(outDir: string, r: ReportOutput): string[] {
  const out = resolve(outDir);
  mkdirSync(join(out, 'plots'), { recursive: true });
  const files: string[] = [];
  const put = (name: string, data: string): void => {
    writeFileAtomic(join(out, name), data);
    files.push(join(out, name));
  };
  for (const p of r.plots) put(join('plots', p.name), `${p.svg}\n`);
  put('report.md', r.markdown);
  put('report.html', r.html);
  put(
    'report.json',
    `${JSON.stringify(
      {
        summary: r.summary,
        tables: r.tables.map((t) => ({
          title: t.spec.title,
          metric: t.spec.metric,
          split: t.spec.split,
          rows: t.spec.rows,
          cols: t.spec.cols,
          row_keys: t.rowKeys,
          col_keys: t.colKeys,
          row_labels: t.rowLabels,
          col_labels: t.colLabels,
          ...(t.rowKinds ? { row_kinds: t.rowKinds } : {}),
          ...(t.notes?.length ? { notes: t.notes } : {}),
          cells: t.cells.map((row) =>
            row.map((c) => ({
              mean: Number.isFinite(c.mean) ? c.mean : null,
              std: Number.isFinite(c.std) ? c.std : null,
              n: c.values.length,
              mark: c.mark,
              text: c.text,
              ...(c.epoch ? { epoch: c.epoch } : {}),
            })),
          ),
          params: t.params.map((p) => ({
            trainable: p.trainable.length ? mean(p.trainable) : null,
            total: p.total.length ? mean(p.total) : null,
            ...(p.text !== undefined ? { text: p.text } : {}),
          })),
        })),
        plots: r.plots.map((p) => `plots/${p.name}`),
      },
      null,
      1,
    )}\n`,
  );
  return files.map((f) => relative(process.cwd(), f) || f);
}

/** Runs from `roots`, the grid's report section and axis order when a root is a grid's output. */
export function loadReportInput(
  roots: string[],
  gridSpec: { report: unknown; axes: { name: string; values: { name: string }[] }[]; file: string } | null,
): ReportInput {
  const runs = collectRuns(roots);
  const order: Record<string, string[]> = {};
  for (const a of gridSpec?.axes ?? []) order[a.name] = a.values.map((v) => v.name);
  const spec = parseReportSpec(gridSpec?.report ?? null, gridSpec ? `${gridSpec.file}: report` : 'report');
  return { runs, spec, order, roots };
}
