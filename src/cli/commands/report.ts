/** `loaa report`: tables like the paper's and training curves from runs, as Markdown and HTML. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';

const DESCRIPTION = `Collects the runs under the given directories (every directory with results.json or metrics.jsonl,
as loaa train writes them) and writes into --out:
  report.md     tables, curves (as images) and a list of the runs
  report.html   the same, self-contained (inline CSS and SVG), for a browser
  plots/*.svg   training loss and the validation metric per epoch, one line per configuration
  report.json   the table values (mean, std, n, best / second marks)

Tables come from the "report" section of the grid file (the grid.yaml that loaa grid copies into
its output directory, or --grid): axes on the rows and columns, each cell the mean +/- std over the
folds and seeds, the best of each column in bold and the second underlined, with the trainable
parameters of each row. Without a report section: one table, every non-replicate axis on the rows.
Runs that have not finished are listed but left out of the tables.`;

const FLAGS = {
  out: { type: 'string', value: 'DIR', help: 'the report directory (required)' },
  grid: { type: 'string', value: 'FILE', help: 'the grid file whose report section and axis order to use' },
  metric: { type: 'string', value: 'NAME', help: 'top1 (default), top5, mAP, meanClassAccuracy, macroAUC, dPrime, loss' },
  split: {
    type: 'string',
    value: 'S',
    choices: ['auto', 'test', 'best', 'final', 'fold-best', 'paper'],
    help: "auto (test set if the run has one, else the last epoch), test, best, final,\nfold-best (AST's ESC-50: the epoch with the best fold-averaged accuracy),\npaper (fold-best for folds, else test, else the best validation epoch)",
  },
  rows: { type: 'string', value: 'A,B', help: "one table with these axes on the rows (replaces the grid's tables)" },
  cols: { type: 'string', value: 'C', help: '... and these on the columns' },
  title: { type: 'string', value: 'TEXT', help: "the report's title" },
} as const;

function axesList(s: string | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

export const command = defineCommand({
  name: 'report',
  usage: [
    '<grid output dir | runs dir | run dir> ... --out <report dir>',
    '[--grid grid.yaml] [--metric top1] [--split auto|test|best|final|fold-best|paper] [--rows a,b] [--cols c] [--title TEXT] [--json]',
  ],
  description: DESCRIPTION,
  flags: FLAGS,
  async run({ flags, positionals, json }) {
    if (!positionals.length) throw new UsageError('<runs>: give a grid output directory, a folder of runs or run directories');
    const out = flags.out;
    if (!out) throw new UsageError('--out: the report directory is required');
    for (const p of positionals) if (!existsSync(p)) throw new UsageError(`${p}: no such directory`);
    const split = flags.split;
    const { readGrid } = await import('../../train/grid.js');
    const { loadReportInput, buildReport, writeReport } = await import('../../viz/report.js');
    let gridFile = flags.grid;
    if (gridFile !== undefined && !existsSync(gridFile)) throw new UsageError(`--grid: ${gridFile} does not exist`);
    gridFile ??= positionals.map((p) => join(p, 'grid.yaml')).find((f) => existsSync(f));
    let grid = null;
    if (gridFile) {
      try {
        grid = readGrid(gridFile, { checkBase: false });
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    let input: ReturnType<typeof loadReportInput>;
    try {
      input = loadReportInput(positionals, grid);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (!input.runs.length)
      throw new UsageError(`${positionals.join(', ')}: no runs found (a run directory holds results.json or metrics.jsonl)`);
    const metric = flags.metric;
    if (metric) {
      input.spec.metric = metric;
      input.spec.tables = input.spec.tables.map((t) => ({ ...t, metric }));
      input.spec.curves.metric = metric;
    }
    if (split) {
      input.spec.split = split as typeof input.spec.split;
      input.spec.tables = input.spec.tables.map((t) => ({ ...t, split: split as typeof input.spec.split }));
    }
    const rows = axesList(flags.rows);
    const cols = axesList(flags.cols);
    if (rows || cols) input.spec.tables = [{ ...(rows ? { rows } : {}), cols: cols ?? [] }];
    const title = flags.title;
    if (title) input.spec.title = title;
    if (!input.spec.title) input.spec.title = grid ? `${grid.name}` : 'loaa report';
    let report: ReturnType<typeof buildReport>;
    try {
      report = buildReport(input);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const files = writeReport(out, report);
    const s = report.summary;
    if (json) {
      process.stdout.write(`${JSON.stringify({ out, files, summary: s })}\n`);
    } else {
      process.stdout.write(
        `${out}: ${report.tables.length} table(s), ${report.plots.length} plot(s) from ${s.finished} finished run(s)${s.unfinished ? ` (${s.unfinished} unfinished)` : ''}\n`,
      );
      for (const f of files) process.stdout.write(`  ${f}\n`);
      if (s.problems.length) process.stdout.write(`${s.problems.length} problem(s) reading the runs (listed in the report)\n`);
    }
    return 0;
  },
});
