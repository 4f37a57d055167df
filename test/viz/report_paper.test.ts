/**
 * The reports of the paper grids have the paper's table layout: synthetic run directories, one per
 * planned run of each grid (what `loaa grid` + `loaa train` write: grid_run.json, metrics.jsonl,
 * results.json), read back by `loaa report`'s code with the grid's report section.
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
  const test = run.axes.dataset === 'speechcommands' ? 0.5 + 0.4 * rnd() : null;
  writeFileSync(join(run.dir, 'grid_run.json'), JSON.stringify({ id: run.id, axes: run.axes }));
  writeFileSync(join(run.dir, 'metrics.jsonl'), curve.map((c, i) => JSON.stringify({ epoch: i + 1, train_loss: 1 / (i + 1), val: c })).join('\n') + '\n');
  writeFileSync(
    join(run.dir, 'results.json'),
    JSON.stringify({
      params: { total: 1000, trainable: 10 },
      epochs: EPOCHS,
      final: { epoch: EPOCHS, split: 'validation', metrics: curve[EPOCHS - 1] },
      best: { epoch: best + 1, metric: 'top1', value: curve[best]!.top1, split: 'validation', metrics: curve[best] },
      test: test === null ? null : { split: 'test', checkpoint: 'best', metrics: { top1: test } },
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

test('Table 1 report: Attn / FFN x kernel rows, the three budgets as columns, best-epoch top-1', async () => {
  const { runs, fakes, out } = await fakeGrid('paper_table1.yaml');
  const rep = report('paper_table1.yaml', out);
  const t = rep.tables[0]!;
  assert.deepEqual(t.colLabels, [['1.2%'], ['2.3%'], ['4.6%']]);
  assert.deepEqual(t.rowLabels, ['Attn', 'FFN'].flatMap((p) => ['1x3 (T)', '3x1 (F)', '3x3 (TF)', '1x1'].map((k) => [p, k])));
  for (const r of runs) {
    const i = t.rowKeys.findIndex((k) => k[0] === r.axes.position && k[1] === r.axes.kernel);
    const j = t.colKeys.findIndex((k) => k[0] === r.axes.budget);
    const f = fakes.get(r.id)!;
    assert.equal(t.cells[i]![j]!.text, pct(f.curve[f.best]!.top1), r.id);
  }
  assert.match(rep.markdown, /\| position \| kernel \| 1\.2% \| 2\.3% \| 4\.6% \|/);
  assert.match(rep.markdown, /top1 \(%\) on the best validation epoch/);
  assert.equal(rep.tables[1]!.spec.metric, 'mAP');
});

test("Table 2 report: methods x datasets with AST's fold-best ESC-50, SPC test, EPIC best epoch, EPIC mAP and ESC-50 last epoch", async () => {
  const { runs, fakes, out } = await fakeGrid('paper_table2.yaml');
  const rep = report('paper_table2.yaml', out);
  const t = rep.tables[0]!;
  assert.deepEqual(t.colLabels, [['ESC-50'], ['SPC-V2'], ['EPIC-SOUNDS'], ['EPIC-SOUNDS mAP'], ['ESC-50 last epoch']]);
  assert.deepEqual(
    t.rowLabels.map((r) => r[0]),
    ['Full fine-tuning', 'Linear probing', 'Adapter (1x1) 5%', 'LoAA Attn(T) 2%', 'LoAA FFN(F) 2%', 'LoAA Attn(T) FFN(F) 5%', 'LoAA Attn(T) FFN(F) 10%'],
  );
  for (const [i, [method]] of t.rowKeys.entries()) {
    const of = (ds: string): Fake[] => runs.filter((r) => r.axes.method === method && r.axes.dataset === ds).map((r) => fakes.get(r.id)!);
    // ESC-50: average the five folds' curves, take the best epoch, read every fold there
    const esc = of('esc50');
    assert.equal(esc.length, 5);
    const avg = Array.from({ length: EPOCHS }, (_, e) => esc.reduce((a, f) => a + f.curve[e]!.top1, 0) / 5);
    const e = avg.indexOf(Math.max(...avg));
    const at = esc.map((f) => f.curve[e]!.top1);
    const m = at.reduce((a, b) => a + b, 0) / 5;
    const sd = Math.sqrt(at.reduce((a, b) => a + (b - m) ** 2, 0) / 5);
    assert.equal(t.cells[i]![0]!.text, `${pct(m)} ± ${pct(sd)}`, `${method} ESC-50`);
    assert.equal(t.cells[i]![0]!.epoch, e + 1);
    assert.equal(t.cells[i]![1]!.text, pct(of('speechcommands')[0]!.test!), `${method} SPC`);
    const epic = of('epic_sounds')[0]!;
    assert.equal(t.cells[i]![2]!.text, pct(epic.curve[epic.best]!.top1), `${method} EPIC`);
    assert.equal(t.cells[i]![3]!.text, pct(epic.curve[epic.best]!.mAP), `${method} EPIC mAP`);
    const last = esc.map((f) => f.curve[EPOCHS - 1]!.top1);
    const lm = last.reduce((a, b) => a + b, 0) / 5;
    assert.equal(t.cells[i]![4]!.text.split(' ')[0], pct(lm), `${method} ESC-50 last`);
  }
  assert.match(rep.markdown, /\| method \| trainable params \| ESC-50 \| SPC-V2 \| EPIC-SOUNDS \| EPIC-SOUNDS mAP \| ESC-50 last epoch \|/);
  assert.match(rep.markdown, /fold-averaged best epochs: Full fine-tuning @ ESC-50: epoch \d/);
  assert.match(rep.html, /<th rowspan="1">EPIC-SOUNDS mAP<\/th>/);
});

test('Table 3 report: the five combinations as rows, 5% and 10% as columns', async () => {
  const { out } = await fakeGrid('paper_table3.yaml');
  const rep = report('paper_table3.yaml', out);
  const t = rep.tables[0]!;
  assert.deepEqual(t.colLabels, [['5%'], ['10%']]);
  assert.deepEqual(t.rowLabels.map((r) => r[0]), ['Attn(T) + FFN(T)', 'Attn(T) + FFN(F)', 'Attn(F) + FFN(T)', 'Attn(F) + FFN(F)', 'Attn(L) + FFN(L)']);
  assert.ok(t.cells.flat().every((c) => c.values.length === 1 && c.text !== '-'));
});
