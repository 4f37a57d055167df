/**
 * What the rehearsal's real run directories showed about `loaa report` (fixed in src/viz/report.ts):
 * the list of runs follows the grid's order, not the directory names' (10% sorted before 5%), and
 * the validation curve of cross-validated runs is over every held-out fold, not named after the
 * first run's (train.ts writes `split: fold<k>` into each epoch of metrics.jsonl), and its legend
 * uses the grid's labels (the paper's names) as the tables do.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildReport, loadReportInput } from '../../src/viz/report.js';

const root = mkdtempSync(join(tmpdir(), 'loaa-report-runs-'));
after(() => rmSync(root, { recursive: true, force: true }));

const grid = {
  file: 'g.yaml',
  axes: [
    { name: 'method', values: [{ name: 'loaa' }, { name: 'adapter' }] },
    { name: 'budget', values: [{ name: '5%' }, { name: '10%' }] },
    { name: 'fold', values: [{ name: '1' }, { name: '2' }] },
  ],
  report: {
    metric: 'top1',
    split: 'fold-best',
    labels: { method: { loaa: 'LoAA Attn(T)' } },
    tables: [{ rows: ['method'], cols: ['budget'] }],
  },
};

function writeRun(axes: Record<string, string>, top1: number[]): void {
  const dir = join(
    root,
    Object.entries(axes)
      .map(([a, v]) => `${a}=${v}`)
      .join('__'),
  );
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'grid_run.json'), JSON.stringify({ axes }));
  writeFileSync(
    join(dir, 'metrics.jsonl'),
    `${top1.map((v, i) => JSON.stringify({ epoch: i + 1, split: `fold${axes.fold}`, train_loss: 1, val: { top1: v } })).join('\n')}\n`,
  );
  const last = top1.length - 1;
  writeFileSync(
    join(dir, 'results.json'),
    JSON.stringify({
      params: { total: 100, trainable: 10 },
      epochs: top1.length,
      final: { epoch: top1.length, metrics: { top1: top1[last] } },
      best: { epoch: 1, metrics: { top1: top1[0] } },
      test: null,
    }),
  );
}

test('report of cross-validated runs: the runs in grid order, the curve over the held-out folds', () => {
  // written in an order that is neither the grid's nor the names'
  for (const fold of ['2', '1'])
    for (const budget of ['10%', '5%'])
      for (const method of ['adapter', 'loaa']) writeRun({ method, budget, fold }, [0.1 * Number(fold), 0.2]);
  const rep = buildReport(loadReportInput([root], grid));
  const listed = [...rep.markdown.matchAll(/^\| method=(\S+) budget=(\S+) fold=(\d) \|/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
  assert.deepEqual(listed, [
    'loaa 5% 1',
    'loaa 5% 2',
    'loaa 10% 1',
    'loaa 10% 2',
    'adapter 5% 1',
    'adapter 5% 2',
    'adapter 10% 1',
    'adapter 10% 2',
  ]);
  const curve = rep.plots.find((p) => p.name.startsWith('top1'));
  assert.ok(curve, 'a validation curve');
  assert.match(curve.svg, /Validation top1 \(held-out folds\)/);
  assert.doesNotMatch(curve.svg, /\(fold[12]\)/);
  // the legend names the lines as the tables do
  assert.match(curve.svg, />LoAA Attn\(T\) \/ 5%</);
  assert.doesNotMatch(curve.svg, />loaa /);
  assert.deepEqual(rep.tables[0]!.colLabels, [['5%'], ['10%']]);
});
