import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { readPng } from '../../src/viz/png.js';
import { loaa } from '../helpers.js';
import { findChromium } from '../chromium.js';

const dir = mkdtempSync(join(tmpdir(), 'loaa-report-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// mean top1 per (method, dataset); the two seeds are mean -/+ 0.01
const MEANS: Record<string, Record<string, number>> = {
  loaa_t: { fsdd: 0.94, sc: 0.8 },
  loaa_f: { fsdd: 0.91, sc: 0.85 },
  adapter: { fsdd: 0.93, sc: 0.7 },
  linear: { fsdd: 0.61, sc: 0.5 },
};
const TRAINABLE: Record<string, number> = { loaa_t: 120_000, loaa_f: 120_000, adapter: 130_000, linear: 2_000 };
const TOTAL = 5_700_000;
const grid = join(dir, 'grid');

/** What loaa train and loaa grid leave in a run directory. */
function fakeRun(method: string, dataset: string, seed: number, finished = true): void {
  const d = join(grid, `method=${method}__dataset=${dataset}__seed=${seed}`);
  mkdirSync(d, { recursive: true });
  const final = MEANS[method]![dataset]! + (seed === 0 ? -0.01 : 0.01);
  const lines: string[] = [];
  const E = 6;
  for (let e = 1; e <= E; e++) {
    const top1 = final * (1 - 0.5 * Math.exp(-e + 1)) + (e === E ? 0 : 0);
    lines.push(
      JSON.stringify({
        epoch: e,
        step: e * 10,
        lr: 1e-3,
        train_loss: 2 * Math.exp(-e / 2) + (method === 'linear' ? 0.5 : 0),
        split: 'validation',
        val: { n: 100, loss: 1 / e, top1: e === E ? final : top1 },
      }),
    );
  }
  writeFileSync(join(d, 'metrics.jsonl'), `${lines.slice(0, finished ? E : 2).join('\n')}\n`);
  writeFileSync(join(d, 'grid_run.json'), JSON.stringify({ grid: 'demo', id: d, axes: { method, dataset, seed: String(seed) } }));
  if (!finished) return;
  writeFileSync(
    join(d, 'results.json'),
    JSON.stringify({
      name: 'x',
      dataset,
      method,
      arch: 'deit_tiny_patch16_224',
      params: { total: TOTAL, trainable: TRAINABLE[method], frozen: TOTAL - TRAINABLE[method]!, ratio: TRAINABLE[method]! / TOTAL },
      epochs: E,
      seconds_per_epoch: 12.5,
      final: { epoch: E, split: 'validation', metrics: { top1: final, loss: 0.3 } },
      best: { epoch: E, metric: 'top1', value: final, split: 'validation', metrics: { top1: final } },
      test: null,
    }),
  );
}
for (const m of Object.keys(MEANS)) for (const ds of ['fsdd', 'sc']) for (const s of [0, 1]) fakeRun(m, ds, s);
fakeRun('linear', 'sc', 2, false); // a run still going: listed, not in the tables
writeFileSync(
  join(grid, 'grid.yaml'),
  `name: demo
base: ../recipes/somewhere.yaml
axes:
  method: {loaa_t: {}, loaa_f: {}, adapter: {}, linear: {}}
  dataset: {fsdd: {}, sc: {}}
  seed: {key: seed, values: [0, 1, 2]}
report:
  title: "Demo: methods x datasets"
  tables:
    - title: "Table 2: methods x datasets"
      rows: [method]
      cols: [dataset]
      params: true
  curves: {group: [method], split: [dataset]}
`,
);

const out = join(dir, 'report');

test("loaa report: tables like the paper's from run directories, best bold and second underlined", () => {
  const r = loaa(['report', grid, '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { summary: { runs: number; finished: number; unfinished: number } };
  assert.deepEqual([s.summary.runs, s.summary.finished, s.summary.unfinished], [17, 16, 1]);
  const md = readFileSync(join(out, 'report.md'), 'utf8');
  assert.match(md, /^# Demo: methods x datasets/);
  assert.match(md, /## Table 2: methods x datasets/);
  assert.match(md, /\| method \| trainable params \| fsdd \| sc \|/);
  // fsdd: loaa_t best, adapter second; sc: loaa_f best, loaa_t second
  assert.match(md, /\| loaa_t \| 120\.0K \(2\.11%\) \| \*\*94\.00 ± 1\.00\*\* \| <u>80\.00 ± 1\.00<\/u> \|/);
  assert.match(md, /\| loaa_f \| 120\.0K \(2\.11%\) \| 91\.00 ± 1\.00 \| \*\*85\.00 ± 1\.00\*\* \|/);
  assert.match(md, /\| adapter \| 130\.0K \(2\.28%\) \| <u>93\.00 ± 1\.00<\/u> \| 70\.00 ± 1\.00 \|/);
  assert.match(md, /\| linear \| 2\.0K \(0\.04%\) \| 61\.00 ± 1\.00 \| 50\.00 ± 1\.00\* \|/); // * = an unfinished run in the cell
  assert.match(md, /mean ± std over seed/);
  // rows in the grid's order
  assert.ok(md.indexOf('| loaa_t |') < md.indexOf('| loaa_f |') && md.indexOf('| adapter |') < md.indexOf('| linear |'));
  for (const f of ['loss_fsdd.svg', 'loss_sc.svg', 'top1_fsdd.svg', 'top1_sc.svg']) {
    const svg = readFileSync(join(out, 'plots', f), 'utf8');
    assert.match(svg, /^<svg xmlns/);
    assert.equal((svg.match(/<path /g) ?? []).length, 4, `${f}: one line per method`);
    assert.ok(md.includes(`(plots/${f})`));
  }
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /<td class="num best" title="2 run\(s\)"><b>94\.00 ± 1\.00<\/b><\/td>/);
  assert.match(html, /<td class="num second" title="2 run\(s\)"><u>93\.00 ± 1\.00<\/u><\/td>/);
  assert.equal((html.match(/<svg /g) ?? []).length, 4);
  assert.ok(!/<script|<link|src="http/.test(html), 'self-contained');
  const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
    tables: { cells: { mean: number; mark: string | null }[][] }[];
  };
  assert.equal(json.tables[0]!.cells[0]![0]!.mark, 'best');
});

test('loaa report: --rows/--cols/--metric from the command line, plain run folders, errors', () => {
  const out2 = join(dir, 'report2');
  let r = loaa(['report', grid, '--out', out2, '--rows', 'dataset', '--cols', 'method', '--metric', 'loss', '--split', 'final']);
  assert.equal(r.status, 0, r.stderr);
  const md = readFileSync(join(out2, 'report.md'), 'utf8');
  assert.match(md, /\| dataset \| trainable params \| loaa_t \| loaa_f \| adapter \| linear \|/);
  assert.match(md, /loss on the last epoch/);
  // a folder of runs without grid files: one row per run
  const plain = join(dir, 'plain');
  mkdirSync(join(plain, 'a'), { recursive: true });
  writeFileSync(
    join(plain, 'a', 'results.json'),
    JSON.stringify({
      params: { total: 10, trainable: 1 },
      final: { epoch: 1, split: 'v', metrics: { top1: 0.5 } },
      test: { split: 't', checkpoint: 'best', metrics: { top1: 0.75 } },
    }),
  );
  r = loaa(['report', plain, '--out', join(dir, 'report3')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(join(dir, 'report3', 'report.md'), 'utf8'), /\| a \| 1 \(10\.0%\) \| \*\*75\.00\*\* \|/);

  r = loaa(['report', grid]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--out: the report directory is required/);
  r = loaa(['report', join(dir, 'nope'), '--out', out2]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /nope: no such directory/);
  r = loaa(['report', grid, '--out', out2, '--rows', 'kernel']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no axis "kernel" in these runs/);
});

// ---------------------------------------------------------------- the page in a real browser

test('report.html in headless Chromium: not blank, a table and plots on the page', (t) => {
  const html = join(out, 'report.html');
  if (!existsSync(html)) loaa(['report', grid, '--out', out]);
  const c = findChromium();
  if ('why' in c) {
    t.skip(`SKIPPED: ${c.why}`);
    return;
  }
  const png = join(dir, 'shot.png');
  const profile = mkdtempSync(join(tmpdir(), 'loaa-chromium-'));
  try {
    const r = spawnSync(
      c.bin,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        `--screenshot=${png}`,
        '--window-size=1200,1600',
        `file://${html}`,
      ],
      { encoding: 'utf8', timeout: 90_000 },
    );
    assert.ok(existsSync(png), `chromium wrote no screenshot (status ${r.status}): ${r.stderr.slice(-500)}`);
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
  const img = readPng(png);
  assert.deepEqual([img.width, img.height], [1200, 1600]);
  const px = (x: number, y: number): [number, number, number] => {
    const o = (y * img.width + x) * 4;
    return [img.data[o]!, img.data[o + 1]!, img.data[o + 2]!];
  };
  let nonWhite = 0;
  const darkRows = new Set<number>();
  let blue = 0;
  let orange = 0;
  let grey = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const [r, g, b] = px(x, y);
      if (r < 245 || g < 245 || b < 245) nonWhite++;
      if (r < 90 && g < 90 && b < 90) darkRows.add(y);
      // the plots' first two colours (#1f77b4, #ff7f0e) and the table header's background (#f3f3f3)
      if (Math.abs(r - 0x1f) < 30 && Math.abs(g - 0x77) < 30 && Math.abs(b - 0xb4) < 30) blue++;
      if (Math.abs(r - 0xff) < 20 && Math.abs(g - 0x7f) < 30 && Math.abs(b - 0x0e) < 40) orange++;
      if (r === 0xf3 && g === 0xf3 && b === 0xf3) grey++;
    }
  }
  const total = img.width * img.height;
  assert.ok(nonWhite > 0.02 * total, `the page looks blank: ${nonWhite} non-white pixels`);
  // text: dark pixels on many separate lines in the top third (title, notes, table rows)
  const topLines = [...darkRows].filter((y) => y < 550).length;
  assert.ok(topLines > 60, `only ${topLines} pixel rows with dark text in the table area`);
  assert.ok(grey > 2000, `no table header background (${grey} pixels)`);
  assert.ok(blue > 200 && orange > 200, `no plot lines (blue ${blue}, orange ${orange} pixels)`);
});
