/**
 * The reports of the paper grids have the paper's table layout: synthetic run directories, one per
 * planned run of each grid (what `loaa grid` + `loaa train` write: grid_run.json, metrics.jsonl,
 * results.json), read back by `loaa report`'s code with the grid's report section; the paper's own
 * values sit under each of our rows, as the paper prints them.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { planGrid, readGrid, type PlannedRun } from '../../src/train/grid.js';
import { buildReport, loadReportInput } from '../../src/viz/report.js';

const root = mkdtempSync(join(tmpdir(), 'loaa-report-paper-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** a small deterministic generator (no Math.random: the test must be repeatable) */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const EPOCHS = 4;

interface Fake {
  curve: { top1: number; mAP: number }[];
  test: number | null;
  best: number;
}

/** Writes one run directory; the validation curve is random, `test` only for Speech Commands. */
function writeRun(run: PlannedRun, rnd: () => number): Fake {
  mkdirSync(run.dir, { recursive: true });
  const curve = Array.from({ length: EPOCHS }, () => ({ top1: 0.3 + 0.6 * rnd(), mAP: 0.2 + 0.5 * rnd() }));
  let best = 0;
  curve.forEach((c, i) => {
    if (c.top1 > curve[best]!.top1) best = i;
  });
  // Speech Commands' test split; EPIC-SOUNDS' "test" is the validation split with 5 views (data.window.test_views)
  const test = run.axes.dataset === 'speechcommands' || run.base.includes('epic_sounds') ? 0.5 + 0.4 * rnd() : null;
  writeFileSync(join(run.dir, 'grid_run.json'), JSON.stringify({ id: run.id, axes: run.axes }));
  writeFileSync(
    join(run.dir, 'metrics.jsonl'),
    `${curve.map((c, i) => JSON.stringify({ epoch: i + 1, train_loss: 1 / (i + 1), val: c })).join('\n')}\n`,
  );
  writeFileSync(
    join(run.dir, 'results.json'),
    JSON.stringify({
      params: { total: 1000, trainable: 10 },
      epochs: EPOCHS,
      final: { epoch: EPOCHS, split: 'validation', metrics: curve[EPOCHS - 1] },
      best: { epoch: best + 1, metric: 'top1', value: curve[best]!.top1, split: 'validation', metrics: curve[best] },
      test: test === null ? null : { split: 'test', checkpoint: 'best', metrics: { top1: test, mAP: test / 2 } },
    }),
  );
  return { curve, test, best };
}

async function fakeGrid(name: string): Promise<{ runs: PlannedRun[]; fakes: Map<string, Fake>; out: string }> {
  const g = readGrid(join(repoRoot, 'grids', name));
  const out = join(root, g.name);
  const runs = await planGrid(g, out);
  const rnd = lcg(name.length * 7919);
  const fakes = new Map(runs.map((r) => [r.id, writeRun(r, rnd)]));
  return { runs, fakes, out };
}

function report(name: string, out: string) {
  const g = readGrid(join(repoRoot, 'grids', name));
  return buildReport(loadReportInput([out], g));
}

const pct = (x: number): string => (100 * x).toFixed(2);

const ours = (t: { rowKinds?: string[] }, i: number): boolean => (t.rowKinds ?? [])[i] === 'ours';

test("Table 1 report: the paper's layout (budget rows under ATTN and FFN, kernels (1,1), F, T, (3,3)), the paper's value under each row", async () => {
  const { runs, fakes, out } = await fakeGrid('paper_table1.yaml');
  const rep = report('paper_table1.yaml', out);
  const t = rep.tables[0]!;
  assert.deepEqual(t.colLabels, [['(1,1)'], ['F (3,1)'], ['T (1,3)'], ['(3,3)']]);
  const budgets = ['1.031M (1.2%)', '2.026M (2.3%)', '4.017M (4.6%)'];
  assert.deepEqual(
    t.rowLabels,
    ['ATTN Block', 'FFN Block'].flatMap((p) =>
      budgets.flatMap((b) => [
        [p, b],
        [p, `${b} (paper)`],
      ]),
    ),
  );
  assert.deepEqual(
    t.rowKinds,
    Array.from({ length: 12 }, (_, i) => (i % 2 ? 'paper' : 'ours')),
  );
  for (const r of runs) {
    const i = t.rowKeys.findIndex((k, n) => ours(t, n) && k[0] === r.axes.position && k[1] === r.axes.budget);
    const j = t.colKeys.findIndex((k) => k[0] === r.axes.kernel);
    // the paper's protocol: the best checkpoint tested (5 views) when the run has that, as EPIC runs do
    assert.equal(t.cells[i]![j]!.text, pct(fakes.get(r.id)!.test!), r.id);
  }
  const paperRow = (pos: string, budget: string): string[] =>
    t.cells[t.rowKeys.findIndex((k, n) => !ours(t, n) && k[0] === pos && k[1] === budget)]!.map((c) => c.text);
  assert.deepEqual(paperRow('attn', '1.2%'), ['53.38', '53.79', '53.43', '53.20']);
  assert.deepEqual(paperRow('attn', '2.3%'), ['53.33', '54.44', '54.52', '53.64']);
  assert.deepEqual(paperRow('ffn', '4.6%'), ['53.30', '53.73', '54.01', '53.24']);
  // the best cell is chosen among our rows only
  assert.ok(t.cells.every((row, i) => ours(t, i) || row.every((c) => c.mark === null)));
  assert.match(rep.markdown, /\| position \| budget \| \(1,1\) \| F \(3,1\) \| T \(1,3\) \| \(3,3\) \|/);
  assert.match(rep.markdown, /\| ATTN Block \| 2\.026M \(2\.3%\) \(paper\) \| 53\.33 \| 54\.44 \| 54\.52 \| 53\.64 \|/);
  assert.match(rep.markdown, /Audio Pretrained Model \(SSAST\): 53\.75/);
  assert.match(rep.markdown, /rows "\(paper\)": the paper's Table 1/);
  assert.match(rep.html, /<tr class="paper">/);
  assert.match(rep.html, /<p>Audio Pretrained Model \(SSAST\): 53\.75<\/p>/);
  // the mAP table is not in the paper: no paper rows
  assert.equal(rep.tables[1]!.spec.metric, 'mAP');
  assert.equal(rep.tables[1]!.rowKinds, undefined);
});

test("Table 2 report: MAE-AST and SSAST as the paper quotes them, the paper's row under each method, EPIC mAP a fraction", async () => {
  const { runs, fakes, out } = await fakeGrid('paper_table2.yaml');
  const rep = report('paper_table2.yaml', out);
  const t = rep.tables[0]!;
  assert.deepEqual(t.colLabels, [['EPIC-SOUNDS'], ['ESC-50'], ['SPC-V2'], ['EPIC-SOUNDS mAP'], ['ESC-50 last epoch']]);
  const methods = [
    'Full fine-tuning',
    'Linear probing',
    'Adapter (1x1) 5%',
    'LoAA Attn(T) 2%',
    'LoAA FFN(F) 2%',
    'LoAA Attn(T) FFN(F) 5%',
    'LoAA Attn(T) FFN(F) 10%',
  ];
  assert.deepEqual(
    t.rowLabels.map((r) => r[0]),
    [
      'MAE-AST [21] Full FT, AS+LS (reported by its paper)',
      'SSAST [10] Full FT, AS+LS (reported by its paper)',
      ...methods.flatMap((m) => [m, `${m} (paper)`]),
    ],
  );
  assert.deepEqual(
    t.cells[0]!.map((c) => c.text),
    ['-', '90.0', '97.9', '-', '-'],
  );
  assert.deepEqual(
    t.cells[1]!.map((c) => c.text),
    ['53.75', '88.8', '98.0', '0.237', '-'],
  );
  assert.deepEqual(t.params[1], { trainable: [], total: [], text: '100%' });
  for (const [i, [method]] of t.rowKeys.entries()) {
    if (!ours(t, i)) continue;
    const of = (ds: string): Fake[] => runs.filter((r) => r.axes.method === method && r.axes.dataset === ds).map((r) => fakes.get(r.id)!);
    // ESC-50: average the five folds' curves, take the best epoch, read every fold there
    const esc = of('esc50');
    assert.equal(esc.length, 5);
    const avg = Array.from({ length: EPOCHS }, (_, e) => esc.reduce((a, f) => a + f.curve[e]!.top1, 0) / 5);
    const e = avg.indexOf(Math.max(...avg));
    const at = esc.map((f) => f.curve[e]!.top1);
    const m = at.reduce((a, b) => a + b, 0) / 5;
    const sd = Math.sqrt(at.reduce((a, b) => a + (b - m) ** 2, 0) / 5);
    assert.equal(t.cells[i]![1]!.text, `${pct(m)} ± ${pct(sd)}`, `${method} ESC-50`);
    assert.equal(t.cells[i]![1]!.epoch, e + 1);
    assert.equal(t.cells[i]![2]!.text, pct(of('speechcommands')[0]!.test!), `${method} SPC`);
    const epic = of('epic_sounds')[0]!;
    assert.equal(t.cells[i]![0]!.text, pct(epic.test!), `${method} EPIC`);
    assert.equal(t.cells[i]![3]!.text, (epic.test! / 2).toFixed(3), `${method} EPIC mAP, a fraction`);
    const last = esc.map((f) => f.curve[EPOCHS - 1]!.top1);
    const lm = last.reduce((a, b) => a + b, 0) / 5;
    assert.equal(t.cells[i]![4]!.text.split(' ')[0], pct(lm), `${method} ESC-50 last`);
  }
  const paper = (label: string): string[] => t.cells[t.rowLabels.findIndex((r) => r[0] === `${label} (paper)`)]!.map((c) => c.text);
  assert.deepEqual(paper('Full fine-tuning'), ['52.22', '87.9', '97.8', '0.222', '']);
  assert.deepEqual(paper('Linear probing'), ['38.95', '65.6', '42.1', '0.136', '']);
  assert.deepEqual(paper('LoAA Attn(T) FFN(F) 10%'), ['54.11', '88.3', '97.0', '0.240', '']);
  assert.equal(t.params[t.rowLabels.findIndex((r) => r[0] === 'Linear probing (paper)')]!.text, '0.04%');
  assert.match(rep.markdown, /\| method \| trainable params \| EPIC-SOUNDS \| ESC-50 \| SPC-V2 \| EPIC-SOUNDS mAP \| ESC-50 last epoch \|/);
  assert.match(
    rep.markdown,
    /\| SSAST \[10\] Full FT, AS\+LS \(reported by its paper\) \| 100% \| 53\.75 \| 88\.8 \| 98\.0 \| 0\.237 \| - \|/,
  );
  assert.match(rep.markdown, /column "EPIC-SOUNDS mAP": mAP \(a fraction\)/);
  assert.match(rep.markdown, /fold-averaged best epochs: Full fine-tuning @ ESC-50: epoch \d/);
  assert.match(rep.html, /<th rowspan="1">EPIC-SOUNDS mAP<\/th>/);
  assert.match(rep.html, /<tr class="reported">/);
});

test("Table 3 report: the paper's five combinations in its order, 5% and 10%, its values beside ours", async () => {
  const { out } = await fakeGrid('paper_table3.yaml');
  const rep = report('paper_table3.yaml', out);
  const t = rep.tables[0]!;
  assert.deepEqual(t.colLabels, [['5%'], ['10%']]);
  const combos = ['Attn(L) + FFN(L)', 'Attn(T) + FFN(T)', 'Attn(F) + FFN(F)', 'Attn(T) + FFN(F)', 'Attn(F) + FFN(T)'];
  assert.deepEqual(
    t.rowLabels.map((r) => r[0]),
    combos.flatMap((c) => [c, `${c} (paper)`]),
  );
  assert.ok(t.cells.every((row, i) => !ours(t, i) || row.every((c) => c.values.length === 1 && c.text !== '-')));
  assert.deepEqual(
    t.cells.filter((_, i) => !ours(t, i)).map((row) => row.map((c) => c.text)),
    [
      ['53.40', '53.85'],
      ['53.55', '54.01'],
      ['54.05', '54.35'],
      ['54.14', '54.11'],
      ['53.90', '54.04'],
    ],
  );
});
