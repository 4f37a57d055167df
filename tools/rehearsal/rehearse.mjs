#!/usr/bin/env node
/**
 * A rehearsal of one paper grid on FSDD-sized stand-in data (make_data.mjs): the grid file as it is,
 * through `loaa grid` and `loaa report`, with overrides that make every run tiny (a random
 * DeiT-tiny, two epochs, short inputs). It proves that the grid plans, trains, resumes and reports
 * on real run directories in the paper's table layout; its numbers are not the paper's.
 *
 *   node tools/rehearsal/rehearse.mjs <grid> [--out DIR] [--report DIR] [--data DIR] [--size small|min] [--set k=v ...]
 *
 *   <grid>     a grid file, or a name under grids/ (paper_table1, paper_table2, paper_table3)
 *   --out      the runs (default <repo>/runs/rehearsal/<grid name>); a rerun resumes (done runs stay)
 *   --report   the report directory (default <out>/report)
 *   --data     where the stand-in datasets are (default <repo>/data, where the grids' data.root
 *              points); made when missing. Elsewhere only for grids that read one dataset (their
 *              data.root is overridden); a grid with a dataset axis reads <repo>/data.
 *   --size     small (default): every run trains on 64 clips drawn from its stand-in's training
 *              split and evaluates 32, at 64 frames, 2 blocks; min: 16 and 8 clips at 32 frames (the
 *              test's size). Both: a random DeiT-tiny, 2 epochs, batch 16 (8), no lr warm-up, the
 *              recipe otherwise.
 *   --set      more overrides for every run (after the size's)
 *
 * Prints the wall time of the grid and of the report, and appends them to <out>/rehearsal.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const loaa = join(repo, 'bin', 'loaa.js');

/** Overrides for every run: what makes a ViT-Base, 30-epoch grid run on two shared CPU cores. */
const SIZES = {
  small: [
    'model.arch=deit_tiny_distilled_patch16_224',
    'model.backbone=random',
    // two blocks, not one: in the last block only the cls / dist tokens reach the head, and they see
    // only the kernel's centre tap, so with one block every kernel would train as a 1x1
    'model.depth=2',
    'frontend.target_length=64',
    'train.epochs=2',
    'train.batch_size=16',
    'data.workers=0',
    'data.train_limit=64',
    'data.eval_limit=32',
    // (the EPIC recipe no longer warms up; kept for grids whose recipes do: in a 2-epoch run nothing would train)
    'schedule.warmup_epochs=0',
    // the EPIC recipe's 32 x 4 = 128: here every batch is a step, so that two epochs train at all
    'train.accumulate=1',
  ],
  min: [
    'model.arch=deit_tiny_distilled_patch16_224',
    'model.backbone=random',
    'model.depth=2',
    'frontend.target_length=32',
    'train.epochs=2',
    'train.batch_size=8',
    'data.workers=0',
    'data.train_limit=16',
    'data.eval_limit=8',
    // (the EPIC recipe no longer warms up; kept for grids whose recipes do: in a 2-epoch run nothing would train)
    'schedule.warmup_epochs=0',
    // the EPIC recipe's 32 x 4 = 128: here every batch is a step, so that two epochs train at all
    'train.accumulate=1',
  ],
};
/** data.root folder name -> make_data.mjs's dataset name */
const DATASETS = {
  'ESC-50-master': 'esc50',
  speech_commands_v0_02: 'speechcommands',
  'speech_commands_v0.02': 'speechcommands',
  'epic-sounds': 'epic_sounds',
};

function fail(msg) {
  process.stderr.write(`rehearse: ${msg}\n`);
  process.exit(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string' },
    report: { type: 'string' },
    data: { type: 'string' },
    size: { type: 'string', default: 'small' },
    set: { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('*/')[0]
      .split('\n')
      .slice(2)
      .map((l) => l.replace(/^ \* ?/, ''))
      .join('\n'),
  );
  process.exit(0);
}
if (positionals.length !== 1) fail('<grid>: expected one grid file or name (paper_table1, paper_table2, paper_table3)');
const gridFile = existsSync(positionals[0])
  ? resolve(positionals[0])
  : join(repo, 'grids', `${positionals[0].replace(/\.ya?ml$/, '')}.yaml`);
if (!existsSync(gridFile)) fail(`${positionals[0]}: no such grid file (nor ${gridFile})`);
const size = SIZES[values.size];
if (!size) fail(`--size ${values.size}: expected ${Object.keys(SIZES).join(' or ')}`);

// the data roots the grid names (top-level set, axes, rules): which stand-ins it reads
const grid = parseYaml(readFileSync(gridFile, 'utf8'));
const roots = new Set();
(function walk(v, key) {
  if (Array.isArray(v)) for (const x of v) walk(x, '');
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k === 'root' && key === 'data' ? 'data.root' : k);
  else if (key === 'data.root' && typeof v === 'string') roots.add(resolve(dirname(gridFile), v));
})(grid, '');
if (roots.size === 0) fail(`${gridFile}: names no data.root: not a grid this rehearsal can make data for`);
const needed = [...roots].map((r) => {
  const d = DATASETS[basename(r)];
  if (!d) fail(`${gridFile}: data.root ${r} is none of the stand-ins (${Object.keys(DATASETS).join(', ')})`);
  return { root: r, dataset: d };
});

const name = grid.name ?? basename(gridFile).replace(/\.ya?ml$/, '');
const out = resolve(values.out ?? join(repo, 'runs', 'rehearsal', name));
const report = resolve(values.report ?? join(out, 'report'));
const sets = [...size];
let dataDir = join(repo, 'data');
if (values.data !== undefined) {
  dataDir = resolve(values.data);
  if (dataDir !== join(repo, 'data')) {
    if (needed.length !== 1)
      fail(
        `--data ${values.data}: ${gridFile} reads ${needed.length} datasets, each from its own data.root under ${join(repo, 'data')}: make them there (node tools/rehearsal/make_data.mjs)`,
      );
    needed[0].root = join(dataDir, basename(needed[0].root));
    sets.push(`data.root=${needed[0].root}`);
  }
}
sets.push(...values.set);

const run = (args, what) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) fail(`${what} failed (exit ${r.status ?? r.signal}) after ${seconds.toFixed(1)} s`);
  return seconds;
};

const missing = needed.filter((n) => !existsSync(n.root));
if (missing.length) run([join(here, 'make_data.mjs'), '--out', dataDir, '--only', missing.map((m) => m.dataset).join(',')], 'make_data');

/** run directories with results.json: a rerun trains only the others, so its time is theirs */
const finished = () => (existsSync(out) ? readdirSync(out).filter((d) => existsSync(join(out, d, 'results.json'))).length : 0);
const before = finished();
const gridSeconds = run([loaa, 'grid', gridFile, '--out', out, '--jobs', '1', ...sets.flatMap((s) => ['--set', s])], 'loaa grid');
const trained = finished() - before;
const reportSeconds = run([loaa, 'report', out, '--out', report], 'loaa report');
// one entry per invocation: the first one's grid time is the rehearsal's, a resumed one's is its rest
const logFile = join(out, 'rehearsal.json');
const log = existsSync(logFile) ? JSON.parse(readFileSync(logFile, 'utf8')) : { grid: gridFile, invocations: [] };
log.invocations.push({
  size: values.size,
  sets,
  report,
  runs_trained: trained,
  grid_seconds: Math.round(gridSeconds),
  report_seconds: Math.round(reportSeconds * 10) / 10,
  finished: new Date().toISOString(),
});
writeFileSync(logFile, `${JSON.stringify(log, null, 1)}\n`);
process.stdout.write(
  `rehearsal of ${name}: ${trained} runs trained in ${(gridSeconds / 60).toFixed(1)} min (grid), report ${reportSeconds.toFixed(1)} s; report: ${join(report, 'report.md')}\n`,
);
