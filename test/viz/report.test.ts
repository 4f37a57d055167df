import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTable, formatCount, formatParams, formatValue, type TableSpec } from '../../src/viz/table.js';
import { buildReport, parseReportSpec } from '../../src/viz/report.js';
import { linePlot, niceTicks } from '../../src/viz/svg.js';
import { collectRuns, type RunRecord } from '../../src/viz/runs.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function run(axes: Record<string, string>, top1: number | null, trainable = 1000, epochs: number[] = []): RunRecord {
  return {
    dir: `/runs/${Object.values(axes).join('_')}`,
    axes,
    results:
      top1 === null
        ? null
        : { params: { total: 100000, trainable }, final: { epoch: epochs.length, split: 'validation', metrics: { top1 } } },
    epochs: epochs.map((v, i) => ({ epoch: i + 1, train_loss: 1 / (i + 1), val: { top1: v } })),
    problems: [],
  };
}

const SPEC: TableSpec = {
  title: 't',
  rows: ['method'],
  cols: ['dataset'],
  filter: {},
  metric: 'top1',
  split: 'auto',
  params: true,
  best: 'column',
  better: 'higher',
  percent: true,
  digits: 1,
  extra: [],
  labels: {},
};

test('table: mean +/- std over seeds, best bold and second underlined per column, ties share, unfinished left out', () => {
  const runs = [
    run({ method: 'a', dataset: 'x', seed: '0' }, 0.9),
    run({ method: 'a', dataset: 'x', seed: '1' }, 0.8),
    run({ method: 'b', dataset: 'x', seed: '0' }, 0.95),
    run({ method: 'b', dataset: 'x', seed: '1' }, null), // unfinished
    run({ method: 'c', dataset: 'x', seed: '0' }, 0.7),
    run({ method: 'a', dataset: 'y', seed: '0' }, 0.5, 2000),
    run({ method: 'b', dataset: 'y', seed: '0' }, 0.5),
    run({ method: 'c', dataset: 'y', seed: '0' }, 0.4),
  ];
  const t = buildTable(runs, SPEC, { method: ['c', 'b', 'a'] }, ['seed']);
  assert.deepEqual(t.rowKeys, [['c'], ['b'], ['a']]); // the grid's order
  assert.deepEqual(t.colKeys, [['x'], ['y']]);
  const cell = (m: string, d: string) => t.cells[t.rowKeys.findIndex((k) => k[0] === m)]![t.colKeys.findIndex((k) => k[0] === d)]!;
  assert.equal(cell('a', 'x').text, '85.0 ± 5.0');
  assert.equal(cell('b', 'x').text, '95.0');
  assert.equal(cell('b', 'x').missing, 1);
  assert.equal(cell('b', 'x').mark, 'best');
  assert.equal(cell('a', 'x').mark, 'second');
  assert.equal(cell('c', 'x').mark, null);
  assert.equal(cell('a', 'y').mark, 'best'); // a tie: both best, the next one second
  assert.equal(cell('b', 'y').mark, 'best');
  assert.equal(cell('c', 'y').mark, 'second');
  assert.equal(t.maxN, 2);
  assert.deepEqual(t.pooled, []);
  assert.equal(formatParams(t.params[2]!), '1.0K–2.0K (1.00–2.00%)');
  assert.equal(formatParams(t.params[0]!), '1.0K (1.00%)');
  // lower is better: the marks flip
  const tl = buildTable(runs, { ...SPEC, better: 'lower' }, {}, ['seed']);
  assert.equal(tl.cells[tl.rowKeys.findIndex((k) => k[0] === 'c')]![0]!.mark, 'best');
  // an axis that is neither on the table nor a replicate is reported as pooled
  const tp = buildTable(runs, { ...SPEC, cols: [] }, {}, ['seed']);
  assert.deepEqual(tp.pooled, ['dataset']);
});

test('formatting: values, counts, ticks', () => {
  assert.equal(formatValue(0.91234, 0.0123, 5, { percent: true, digits: 2 }), '91.23 ± 1.23');
  assert.equal(formatValue(0.5, 0, 1, { percent: false, digits: 3 }), '0.500');
  assert.equal(formatValue(NaN, 0, 0, { percent: true, digits: 2 }), '-');
  assert.equal(formatCount(950), '950');
  assert.equal(formatCount(52_300), '52.3K');
  assert.equal(formatCount(5_600_000), '5.60M');
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(1, 10, 8), [2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(1, 4, 3), [1, 2, 3, 4]);
  assert.deepEqual(niceTicks(-0.35, 0.1, 4), [-0.2, 0]);
  const svg = linePlot({
    title: 'T <1>',
    xlabel: 'epoch',
    ylabel: 'acc',
    percent: true,
    series: [{ label: 'a&b', x: [1, 2, 3], y: [0.2, NaN, 0.5] }],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /T &lt;1&gt;/);
  assert.match(svg, /a&amp;b/);
  assert.equal((svg.match(/<path d="M/g) ?? []).length, 1);
  assert.match(svg, /<path d="M[\d.,]+M[\d.,]+"/); // the NaN is a gap: two moves, no line across it
});

test('report spec: checked with the key named; curves and tables built', () => {
  assert.throws(
    () => parseReportSpec({ tables: [{ rows: 'method', colz: [] }] }, 'g.yaml: report'),
    /g\.yaml: report\.tables\.0\.colz: unknown key/,
  );
  assert.throws(() => parseReportSpec({ split: 'dev' }), /report\.split: expected one of test, best, final, auto/);
  assert.throws(() => parseReportSpec({ tables: [{ best: 'max' }] }), /report\.tables\.0\.best: expected one of column, row, table, none/);
  const runs = [
    run({ method: 'a', seed: '0' }, 0.9, 1000, [0.5, 0.9]),
    run({ method: 'a', seed: '1' }, 0.8, 1000, [0.4, 0.8]),
    run({ method: 'b', seed: '0' }, 0.7, 1000, [0.6, 0.7]),
  ];
  const spec = parseReportSpec({ title: 'My grid', tables: [{ title: 'Main', rows: ['method'] }] });
  const r = buildReport({ runs, spec, order: {}, roots: ['/runs'] });
  assert.match(r.markdown, /^# My grid/);
  assert.match(r.markdown, /\| a \| 1\.0K \(1\.00%\) \| \*\*85\.00 ± 5\.00\*\* \|/);
  assert.match(r.markdown, /\| b \| 1\.0K \(1\.00%\) \| <u>70\.00<\/u> \|/);
  assert.deepEqual(
    r.plots.map((p) => p.name),
    ['loss.svg', 'top1.svg'],
  );
  assert.match(r.html, /<b>85\.00 ± 5\.00<\/b>/);
  assert.match(r.html, /<u>70\.00<\/u>/);
  assert.ok(r.html.includes('<svg') && !/<link|<script|src="http/.test(r.html), 'self-contained');
  assert.throws(
    () => buildReport({ runs, spec: parseReportSpec({ tables: [{ rows: ['kernel'] }] }), order: {}, roots: [] }),
    /no axis "kernel"/,
  );
});

test('runs: found under folders, loaa cv fold directories are folds of one run, a torn last metrics line dropped', () => {
  const root = mkdtempSync(join(tmpdir(), 'loaa-runs-'));
  try {
    const res = (top1: number) =>
      JSON.stringify({ params: { total: 10, trainable: 1 }, final: { epoch: 1, split: 'v', metrics: { top1 } } });
    for (const k of [1, 2]) {
      mkdirSync(join(root, 'cv', `fold${k}`, 'best'), { recursive: true });
      writeFileSync(join(root, 'cv', `fold${k}`, 'results.json'), res(0.5 + k / 10));
      writeFileSync(join(root, 'cv', `fold${k}`, 'best', 'adapter_config.json'), '{}');
    }
    mkdirSync(join(root, 'single'));
    writeFileSync(join(root, 'single', 'metrics.jsonl'), '{"epoch":1,"train_loss":2}\n{"epoch":2,"tr');
    const runs = collectRuns([root]);
    assert.deepEqual(
      runs.map((r) => r.axes),
      [{ run: 'cv', fold: '1' }, { run: 'cv', fold: '2' }, { run: 'single' }],
    );
    // the trainer's reader (src/train/run_dir.ts): a torn last line is a crash mid-append, dropped
    assert.equal(runs[2]!.epochs.length, 1);
    assert.equal(runs[2]!.epochs[0]!.train_loss, 2);
    const r = buildReport({ runs, spec: parseReportSpec(null), order: {}, roots: [root] });
    assert.match(r.markdown, /\| cv \| 1 \(10\.0%\) \| \*\*65\.00 ± 5\.00\*\* \|/); // the two folds averaged
    assert.match(r.markdown, /1 unfinished, not counted in the tables/);
    assert.throws(() => collectRuns([join(root, 'nope')]), /nope: no such directory/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('runs: a damaged metrics.jsonl (not only its last line) is a problem of that run, not a failed report', () => {
  const root = mkdtempSync(join(tmpdir(), 'loaa-runs-'));
  try {
    for (const [name, text] of [
      ['damaged', '{"epoch":1}\n{"ep\n{"epoch":3}\n'],
      ['unnumbered', '{"epoch":1,"train_loss":1}\n{"train_loss":2}\n'],
      ['good', '{"epoch":1}\n{"epoch":2}\n'],
    ] as const) {
      mkdirSync(join(root, name));
      writeFileSync(join(root, name, 'metrics.jsonl'), text);
    }
    const runs = collectRuns([root]);
    const by = Object.fromEntries(runs.map((r) => [r.axes.run, r]));
    assert.deepEqual(by.damaged!.epochs, []);
    assert.match(by.damaged!.problems.join('\n'), /damaged[\\/]metrics\.jsonl: line 2: not valid JSON/);
    assert.deepEqual(
      by.unnumbered!.epochs.map((e) => e.train_loss),
      [1],
    );
    assert.match(by.unnumbered!.problems.join('\n'), /unnumbered[\\/]metrics\.jsonl: 1 line\(s\) with no epoch number/);
    assert.deepEqual(
      by.good!.epochs.map((e) => e.epoch),
      [1, 2],
    );
    assert.deepEqual(by.good!.problems, []);
    const r = buildReport({ runs, spec: parseReportSpec(null), order: {}, roots: [root] });
    assert.match(r.markdown, /3 unfinished, not counted in the tables/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
