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
import { collectRuns, runMetrics, type ReportSplit, type RunRecord } from './runs.js';
import { LOWER_IS_BETTER, NOT_FRACTIONS, parseReportSpec, type ReportSpec } from './report_spec.js';
import { escapeXml, linePlot, type Series } from './svg.js';
import { withPaperRows } from './paper.js';
import { buildTable, formatCount, formatParams, formatValue, meanStd, type Table, type TableSpec } from './table.js';

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

function splitLabel(s: ReportSplit, runs: RunRecord[] = []): string {
  if (s === 'auto') {
    const done = runs.filter((r) => r.results);
    const withTest = done.filter((r) => r.results!.test).length;
    if (done.length && withTest === done.length) return 'test set';
    if (withTest === 0) return 'last epoch (validation split)';
    return 'test set (last epoch for the runs without one)';
  }
  if (s === 'fold-best') return "epoch with the best fold-averaged accuracy (AST's ESC-50 protocol)";
  if (s === 'paper')
    return "paper's protocol: folds at the epoch with the best fold-averaged accuracy (AST's ESC-50 protocol), else the test set with the best validation checkpoint, else the best validation epoch";
  return s === 'test' ? 'test set' : s === 'best' ? 'best validation epoch' : 'last epoch';
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

function groupBy(runs: RunRecord[], axes: string[], order: Record<string, string[]>): { key: string[]; runs: RunRecord[] }[] {
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

// ---------------------------------------------------------------- rendering

function intro(input: ReportInput, replicates: string[], finished: number): string[] {
  const n = input.runs.length;
  const lines = [
    `${n} run${n === 1 ? '' : 's'} (${finished} finished${n - finished ? `, ${n - finished} unfinished, not counted in the tables` : ''}) from ${input.roots.join(', ')}.`,
  ];
  if (replicates.length) lines.push(`Each cell is the mean ± standard deviation over ${replicates.join(' and ')}.`);
  return lines;
}

function tableNote(t: Table, replicates: string[], runs: RunRecord[]): string {
  const s = t.spec;
  const parts = [`${s.metric}${s.percent ? ' (%)' : ''} on the ${splitLabel(s.split, runs)}`];
  if (t.maxN > 1) parts.push(`mean ± std over ${replicates.length ? replicates.join('/') : 'runs'} (n ≤ ${t.maxN})`);
  if (s.best !== 'none') parts.push(`best per ${s.best} in bold, second underlined (${s.better} is better)`);
  if (Object.keys(s.filter).length)
    parts.push(
      `only ${Object.entries(s.filter)
        .map(([a, v]) => `${a} = ${v.join(' or ')}`)
        .join(', ')}`,
    );
  if (t.pooled.length) parts.push(`pooled over ${t.pooled.join(', ')} (not on the rows or columns)`);
  for (const x of s.extra)
    parts.push(
      `column "${x.label}": ${x.metric ?? s.metric}${(x.percent ?? s.percent) !== s.percent ? ((x.percent ?? s.percent) ? ' (%)' : ' (a fraction)') : ''} on the ${splitLabel(x.split ?? s.split, runs)}`,
    );
  if (s.paper && t.rowKinds?.includes('paper'))
    parts.push(`rows "(paper)": ${s.paper.source}, as printed there, under the row of ours they correspond to`);
  if (s.paper && t.rowKinds?.includes('reported'))
    parts.push(`the first rows: numbers the paper quotes from other papers (not runs of ours)`);
  const epochs = t.cells
    .flatMap((row, i) =>
      row.map((c, j) =>
        c.epoch ? `${t.rowLabels[i]!.join(' / ') || 'all'} @ ${t.colLabels[j]!.join(' / ') || s.metric}: epoch ${c.epoch}` : '',
      ),
    )
    .filter(Boolean);
  if (epochs.length) parts.push(`fold-averaged best epochs: ${epochs.join(', ')}`);
  return `${parts.join('; ')}.`;
}

function colHeader(t: Table, j: number): string {
  if (j >= t.colKeys.length) return t.colLabels[j]!.join(' / ');
  if (!t.spec.cols.length) return `${t.spec.metric}${t.spec.percent ? ' (%)' : ''}`;
  return t.colLabels[j]!.join(' / ');
}

function cellMd(c: { text: string; mark: string | null; missing: number }): string {
  const t = mdText(c.text) + (c.missing && c.text !== '-' ? '*' : '');
  return c.mark === 'best' ? `**${t}**` : c.mark === 'second' ? `<u>${t}</u>` : t;
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/**
 * Text from run names, axis values, titles and descriptions, as inert Markdown: Markdown passes raw
 * HTML through, so `<script>` in a grid title would run in any viewer that renders report.md.
 */
function mdText(s: string): string {
  return mdEscape(s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
}

/** What both renderings of a report are made from. */
interface ReportDoc {
  title: string;
  spec: ReportSpec;
  input: ReportInput;
  tables: Table[];
  plots: ReportOutput['plots'];
  replicates: string[];
  info: { finished: number; problems: string[] };
}

function renderMarkdown(d: ReportDoc): string {
  const { title, spec, input, tables, plots, replicates, info } = d;
  const L: string[] = [`# ${mdText(title)}`, ''];
  if (spec.description) L.push(mdText(spec.description), '');
  L.push(...intro(input, replicates, info.finished).map(mdText), '');
  for (const t of tables) {
    L.push(`## ${mdText(t.spec.title)}`, '', mdText(tableNote(t, replicates, input.runs)), '');
    for (const n of t.notes ?? []) L.push(`${mdText(n)}  `);
    if (t.notes?.length) L.push('');
    const head = [
      ...(t.spec.rows.length ? t.spec.rows : ['']),
      ...(t.spec.params ? ['trainable params'] : []),
      ...t.colLabels.map((_, j) => colHeader(t, j)),
    ];
    L.push(`| ${head.map(mdText).join(' | ')} |`);
    L.push(`| ${head.map((_, i) => (i < Math.max(1, t.spec.rows.length) ? '---' : '---:')).join(' | ')} |`);
    t.rowLabels.forEach((rk, i) => {
      const cells = [
        ...(rk.length ? rk : ['all']).map(mdText),
        ...(t.spec.params ? [formatParams(t.params[i]!)] : []),
        ...t.cells[i]!.map(cellMd),
      ];
      L.push(`| ${cells.map(mdEscape).join(' | ')} |`);
    });
    if (t.cells.flat().some((c) => c.missing && c.text !== '-')) L.push('', '\\* some runs of this cell have no value yet (unfinished).');
    L.push('');
  }
  if (plots.length) {
    L.push('## Training curves', '');
    for (const p of plots) L.push(`![${mdText(p.title).replace(/[[\]]/g, '\\$&')}](plots/${encodeURI(p.name)})`, '');
  }
  L.push('## Runs', '');
  L.push(...runsTable(input.runs, spec, input.order).map((r) => `| ${r.map(mdText).join(' | ')} |`));
  L.push('');
  if (info.problems.length) L.push('## Problems', '', ...info.problems.map((p) => `- ${mdText(p)}`), '');
  return L.join('\n');
}

/** The runs in the grid's order (axes nested as the grid file lists them), not their directory names' order. */
function inGridOrder(runs: RunRecord[], order: Record<string, string[]>): RunRecord[] {
  const axes = Object.keys(order);
  if (!axes.length) return runs;
  return groupBy(runs, axes, order).flatMap((g) => g.runs);
}

function runsTable(runs: RunRecord[], spec: ReportSpec, order: Record<string, string[]>): string[][] {
  const metric = spec.metric;
  const rows: string[][] = [
    ['run', 'epochs', 's/epoch', 'trainable', `${metric} (${spec.split})`],
    ['---', '---:', '---:', '---:', '---:'],
  ];
  for (const r of inGridOrder(runs, order)) {
    const res = r.results;
    const name = Object.entries(r.axes)
      .map(([a, v]) => (a === 'run' ? v : `${a}=${v}`))
      .join(' ');
    const m = runMetrics(r, spec.split);
    const v = m?.[metric];
    const pct = !NOT_FRACTIONS.has(metric) && spec.percent !== false;
    rows.push([
      name,
      res ? String(res.epochs ?? r.epochs.length) : `${r.epochs.length} (unfinished)`,
      typeof res?.seconds_per_epoch === 'number' ? res.seconds_per_epoch.toFixed(1) : '-',
      res?.params ? formatCount(res.params.trainable) : '-',
      typeof v === 'number' ? formatValue(v, 0, 1, { percent: pct, digits: spec.digits }) : '-',
    ]);
  }
  return rows;
}

const CSS = `
body { font-family: Helvetica, Arial, sans-serif; margin: 24px 32px; color: #111; background: #fff; max-width: 1200px; }
h1 { font-size: 26px; margin: 0 0 8px; }
h2 { font-size: 19px; margin: 28px 0 6px; border-bottom: 1px solid #ddd; padding-bottom: 3px; }
p.note { color: #444; font-size: 13px; margin: 4px 0 10px; }
table.results { border-collapse: collapse; font-size: 14px; margin: 6px 0 8px; }
table.results th, table.results td { padding: 5px 12px; border-bottom: 1px solid #ccc; }
table.results thead th { border-bottom: 2px solid #111; background: #f3f3f3; color: #000; }
table.results thead tr.group th { border-bottom: 1px solid #999; }
table.results td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.results td.key { text-align: left; font-weight: 600; color: #000; }
table.results td.params { text-align: right; color: #333; white-space: nowrap; }
table.results b { font-weight: 800; }
table.results u { text-decoration-thickness: 2px; text-underline-offset: 3px; }
table.runs { font-size: 12px; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
.plots figure { margin: 0; }
.plots figcaption { font-size: 12px; color: #555; }
ul.problems { color: #a00; font-size: 12px; }
table.results tr.paper td, table.results tr.reported td { color: #555; font-style: italic; }
`;

function htmlTable(t: Table): string {
  const s = t.spec;
  const H: string[] = ['<table class="results">', '<thead>'];
  // column axes as stacked header rows with spans, as in the paper's tables; extra columns span them all
  const levels = s.cols.length;
  const nCols = t.colKeys.length;
  const lead = (span: number): string =>
    [
      ...(s.rows.length ? s.rows : ['']).map((r) => `<th rowspan="${span}">${escapeXml(r)}</th>`),
      ...(s.params ? [`<th rowspan="${span}">trainable params</th>`] : []),
    ].join('');
  const extras = (span: number): string => s.extra.map((x) => `<th rowspan="${span}">${escapeXml(x.label)}</th>`).join('');
  if (levels === 0) {
    H.push(`<tr>${lead(1)}<th>${escapeXml(colHeader(t, 0))}</th>${extras(1)}</tr>`);
  } else {
    for (let lv = 0; lv < levels; lv++) {
      const cells: string[] = [];
      let j = 0;
      while (j < nCols) {
        let k = j + 1;
        const prefix = (x: string[]): string => JSON.stringify(x.slice(0, lv + 1));
        while (k < nCols && prefix(t.colKeys[k]!) === prefix(t.colKeys[j]!)) k++;
        const name = s.labels[s.cols[lv]!] ? '' : `<span style="font-weight:normal;color:#555">${escapeXml(s.cols[lv]!)}=</span>`;
        cells.push(`<th colspan="${k - j}">${lv === 0 ? name : ''}${escapeXml(t.colLabels[j]![lv]!)}</th>`);
        j = k;
      }
      H.push(
        `<tr${lv < levels - 1 ? ' class="group"' : ''}>${lv === 0 ? lead(levels) : ''}${cells.join('')}${lv === 0 ? extras(levels) : ''}</tr>`,
      );
    }
  }
  H.push('</thead>', '<tbody>');
  t.rowLabels.forEach((rk, i) => {
    const keys = (rk.length ? rk : ['all']).map((k) => `<td class="key">${escapeXml(k)}</td>`).join('');
    const params = s.params ? `<td class="params">${escapeXml(formatParams(t.params[i]!))}</td>` : '';
    const cells = t.cells[i]!.map((c) => {
      const txt = escapeXml(c.text) + (c.missing && c.text !== '-' ? '*' : '');
      const inner = c.mark === 'best' ? `<b>${txt}</b>` : c.mark === 'second' ? `<u>${txt}</u>` : txt;
      return `<td class="num${c.mark ? ` ${c.mark}` : ''}" title="${c.values.length} run(s)${c.epoch ? `, epoch ${c.epoch}` : ''}">${inner}</td>`;
    });
    const kind = t.rowKinds?.[i];
    H.push(`<tr${kind && kind !== 'ours' ? ` class="${kind}"` : ''}>${keys}${params}${cells.join('')}</tr>`);
  });
  H.push('</tbody>', '</table>');
  return H.join('\n');
}

function renderHtml(d: ReportDoc): string {
  const { title, spec, input, tables, plots, replicates, info } = d;
  const B: string[] = [];
  B.push(
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeXml(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
  );
  B.push(`<h1>${escapeXml(title)}</h1>`);
  if (spec.description) B.push(`<p>${escapeXml(spec.description)}</p>`);
  B.push(`<p class="note">${intro(input, replicates, info.finished).map(escapeXml).join(' ')}</p>`);
  for (const t of tables) {
    B.push(
      `<h2>${escapeXml(t.spec.title)}</h2>`,
      `<p class="note">${escapeXml(tableNote(t, replicates, input.runs))}</p>`,
      ...(t.notes ?? []).map((n) => `<p>${escapeXml(n)}</p>`),
      htmlTable(t),
    );
    if (t.cells.flat().some((c) => c.missing && c.text !== '-'))
      B.push('<p class="note">* some runs of this cell have no value yet (unfinished).</p>');
  }
  if (plots.length) {
    B.push('<h2>Training curves</h2>', '<div class="plots">');
    for (const p of plots) B.push(`<figure>${p.svg}<figcaption>plots/${escapeXml(p.name)}</figcaption></figure>`);
    B.push('</div>');
  }
  B.push('<h2>Runs</h2>', '<table class="results runs">');
  const rows = runsTable(input.runs, spec, input.order);
  B.push(`<thead><tr>${rows[0]!.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>`);
  for (const r of rows.slice(2))
    B.push(`<tr>${r.map((c, i) => `<td class="${i === 0 ? 'key' : 'num'}">${escapeXml(c)}</td>`).join('')}</tr>`);
  B.push('</tbody></table>');
  if (info.problems.length)
    B.push('<h2>Problems</h2>', '<ul class="problems">', ...info.problems.map((p) => `<li>${escapeXml(p)}</li>`), '</ul>');
  B.push(`<p class="note">Made by loaa report on ${new Date().toISOString().slice(0, 10)}.</p>`, '</body>', '</html>');
  return B.join('\n');
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
