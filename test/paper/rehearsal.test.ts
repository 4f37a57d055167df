/**
 * The rehearsal of the paper's Table 3 (tools/rehearsal/rehearse.mjs) at its minimum size, end to
 * end: FSDD clips made into the EPIC-SOUNDS layout (annotation CSVs + the audio HDF5), every run of
 * grids/paper_table3.yaml trained by `loaa grid`, and `loaa report` over the real run directories.
 * The report must have the paper's layout and read each cell from its run's own results.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsddDir, repoRoot } from '../helpers.js';

const skip = existsSync(fsddDir) ? false : `FSDD recordings not found at ${fsddDir}`;
if (skip) console.log(`# SKIP paper rehearsal test: ${skip}`);

const root = mkdtempSync(join(tmpdir(), 'loaa-rehearsal-'));
after(() => rmSync(root, { recursive: true, force: true }));

const ROWS = ['Attn(L) + FFN(L)', 'Attn(T) + FFN(T)', 'Attn(F) + FFN(F)', 'Attn(T) + FFN(F)', 'Attn(F) + FFN(T)'];
const KEYS = ['L+L', 'T+T', 'F+F', 'T+F', 'F+T'];
/** the paper's Table 3, 5% and 10%, in ROWS' order */
const PAPER = [
  ['53.40', '53.85'],
  ['53.55', '54.01'],
  ['54.05', '54.35'],
  ['54.14', '54.11'],
  ['53.90', '54.04'],
];

interface Results {
  params: { trainable: number };
  epochs: number;
  best: { epoch: number; metrics: { top1: number; mAP: number } };
  test: { split: string; metrics: { top1: number; mAP: number; n: number } };
}
interface ReportJson {
  summary: { runs: number; finished: number };
  tables: {
    title: string;
    rows: string[];
    cols: string[];
    row_keys: string[][];
    col_keys: string[][];
    row_labels: string[][];
    col_labels: string[][];
    cells: { mean: number | null; n: number; text: string }[][];
    row_kinds?: string[];
  }[];
}

test('rehearsal of Table 3 on FSDD in the EPIC-SOUNDS layout: 10 real runs, the report in the paper layout', {
  skip,
  timeout: 300_000,
}, () => {
  const out = join(root, 'runs');
  const r = spawnSync(
    process.execPath,
    [
      join(repoRoot, 'tools', 'rehearsal', 'rehearse.mjs'),
      'paper_table3',
      '--size',
      'min',
      '--data',
      join(root, 'data'),
      '--out',
      out,
      '--report',
      join(root, 'report'),
      '--set',
      'optim.lr=0.01',
    ],
    { encoding: 'utf8', env: { ...process.env, LOAA_NUM_THREADS: '1' } },
  );
  assert.equal(r.status, 0, `rehearse.mjs failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /rehearsal of paper_table3: 10 runs trained in [\d.]+ min \(grid\), report [\d.]+ s/);

  // the stand-in data is in the real layout
  const epic = join(root, 'data', 'epic-sounds');
  for (const f of ['EPIC_Sounds_train.csv', 'EPIC_Sounds_validation.csv', 'EPIC-KITCHENS-100_audio.hdf5', 'REHEARSAL'])
    assert.ok(existsSync(join(epic, f)), f);

  // every planned run trained for real: two epochs, a best checkpoint, the stand-in's 44 classes
  const runs = readdirSync(out).filter((d) => d.startsWith('adapters='));
  assert.equal(runs.length, 10);
  const results = new Map<string, Results>();
  for (const d of runs) {
    const res = JSON.parse(readFileSync(join(out, d, 'results.json'), 'utf8')) as Results;
    assert.equal(res.epochs, 2, d);
    assert.equal(
      readFileSync(join(out, d, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n').length,
      2,
      d,
    );
    const cfg = JSON.parse(readFileSync(join(out, d, 'best', 'adapter_config.json'), 'utf8')) as {
      num_classes: number;
      adapters: { kernel: number[] }[];
    };
    assert.equal(cfg.num_classes, 44, d);
    results.set(d, res);
  }
  // the budget columns: every combination of a column has the same trainable count, 10% more than 5%
  const trainable = (k: string, b: string): number => results.get(`adapters=${k}__budget=${b}`)!.params.trainable;
  for (const k of KEYS) {
    assert.equal(trainable(k, '5%'), trainable('T+T', '5%'), k);
    assert.equal(trainable(k, '10%'), trainable('T+T', '10%'), k);
  }
  assert.ok(trainable('T+T', '10%') > trainable('T+T', '5%'));

  // runs that differ (a high lr moves the zero-initialised adapters apart), so that the cell-by-cell
  // comparison below tells the runs apart
  assert.ok(new Set([...results.values()].map((x) => x.best.metrics.mAP)).size >= 3, 'the runs differ');

  // the EPIC recipe tests the best checkpoint on the validation split (5 views): one score per clip
  for (const res of results.values()) {
    assert.equal(res.test.split, 'validation');
    assert.equal(res.test.metrics.n, 8);
  }
  // the report: the paper's rows and columns, each cell the run's value on the paper's protocol
  // (the best checkpoint's 5-view test), the paper's own values in a row under each of ours
  const rep = JSON.parse(readFileSync(join(root, 'report', 'report.json'), 'utf8')) as ReportJson;
  assert.deepEqual(rep.summary, { ...rep.summary, runs: 10, finished: 10 });
  assert.deepEqual(
    rep.tables.map((t) => t.title),
    ['Table 3 (top-1 %)', 'Table 3, mAP (not in the paper)'],
  );
  for (const [ti, metric] of [
    [0, 'top1'],
    [1, 'mAP'],
  ] as const) {
    const t = rep.tables[ti]!;
    const paperRows = ti === 0;
    assert.deepEqual(
      t.row_labels.map((l) => l[0]),
      paperRows ? ROWS.flatMap((r) => [r, `${r} (paper)`]) : ROWS,
    );
    assert.deepEqual(t.col_labels, [['5%'], ['10%']]);
    t.row_keys.forEach(([k], i) => {
      if (paperRows && t.row_kinds![i] === 'paper') {
        assert.deepEqual(
          t.cells[i]!.map((c) => c.text),
          PAPER[KEYS.indexOf(k!)],
          k,
        );
        return;
      }
      t.col_keys.forEach(([b], j) => {
        const res = results.get(`adapters=${k}__budget=${b}`)!;
        assert.equal(t.cells[i]![j]!.n, 1);
        assert.ok(Math.abs(t.cells[i]![j]!.mean! - res.test.metrics[metric]) < 1e-12, `${metric} ${k} ${b}`);
      });
    });
  }
  const md = readFileSync(join(root, 'report', 'report.md'), 'utf8');
  assert.match(md, /^# Table 3: combining look-aside adapters \(EPIC-SOUNDS\)$/m);
  assert.match(md, /^\| adapters \| 5% \| 10% \|$/m);
  for (const row of ROWS) assert.match(md, new RegExp(`^\\| ${row.replace(/[()+]/g, '\\$&')} \\| `, 'm'));
  assert.match(md, /top1 \(%\) on the paper's protocol/);
  // the list of runs follows the grid's order (axes nested as in the file), not the directory names'
  const listed = [...md.matchAll(/^\| adapters=(\S+) budget=(\S+) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(
    listed,
    KEYS.flatMap((k) => [`${k} 5%`, `${k} 10%`]),
  );
});
