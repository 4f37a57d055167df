/**
 * The report's two renderings of one ReportDoc (built by report.ts's `buildReport`): report.md
 * (Markdown tables, the notes under them, the runs table, links to the plots) and report.html (the
 * same, self-contained: inline CSS and the plots' SVG inline).
 */
import { escapeXml } from './svg.js';
import { formatCount, formatParams, formatValue, type Table } from './table.js';
import { groupBy, runMetrics, type ReportSplit, type RunRecord } from './runs.js';
import { NOT_FRACTIONS, type ReportSpec } from './report_spec.js';
import type { ReportInput, ReportOutput } from './report.js';

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
export interface ReportDoc {
  title: string;
  spec: ReportSpec;
  input: ReportInput;
  tables: Table[];
  plots: ReportOutput['plots'];
  replicates: string[];
  info: { finished: number; problems: string[] };
}

export function renderMarkdown(d: ReportDoc): string {
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

export function renderHtml(d: ReportDoc): string {
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
