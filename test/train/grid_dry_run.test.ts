/**
 * The three paper grids list exactly the paper's rows, each with the parameter count its kernel,
 * position and bottleneck give (counted here from the formula, not from loaa's counter), and the
 * shares round to the paper's 1.2% / 2.3% / 4.6%.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { planGrid, readGrid } from '../../src/train/grid.js';
import { countGrid, formatGridCounts, type RunCount } from '../../src/train/grid_plan.js';

const D = 768; // DeiT-B
const BLOCKS = 12;
const head = (classes: number): number => 2 * D + classes * D + classes;
/** trainable parameters of adapters [kF, kT, r] in every block, plus the head */
const expected = (adapters: [number, number, number][], classes: number): number =>
  BLOCKS * adapters.reduce((s, [kF, kT, r]) => s + 2 * D * kF * kT * r, 0) + head(classes);

async function counted(name: string): Promise<RunCount[]> {
  const g = readGrid(join(repoRoot, 'grids', name));
  return countGrid(await planGrid(g, join(repoRoot, 'runs', 'dry-run-test')));
}

function adaptersOf(c: RunCount): string {
  return c.recipe.peft.adapters.map((a) => `${a.position}:${a.kernel.join('x')}:r${a.bottleneck}`).join('+');
}

test('Table 1: 4 kernels x 2 positions x 3 budgets on EPIC-SOUNDS, r 18/36/72 (3x3: 6/12/24, 1x1: 54/108/216)', async () => {
  const runs = await counted('paper_table1.yaml');
  const R: Record<string, number[]> = { '1x3': [18, 36, 72], '3x1': [18, 36, 72], '3x3': [6, 12, 24], '1x1': [54, 108, 216] };
  const paper = ['1.2%', '2.3%', '4.6%'];
  const want: string[] = [];
  for (const k of Object.keys(R))
    for (const pos of ['attn', 'ffn'])
      R[k]!.forEach((r) => {
        want.push(`${pos}:${k}:r${r}`);
      });
  assert.deepEqual(runs.map(adaptersOf).sort(), want.sort());
  for (const c of runs) {
    assert.equal(c.recipe.data.type, 'epic', c.run.id);
    const a = c.recipe.peft.adapters[0]!;
    assert.equal(c.counts.trainable, expected([[a.kernel[0], a.kernel[1], a.bottleneck]], 44), c.run.id);
    // every kernel of a column has the parameters of a 1x3 adapter of that column's r
    const col = paper.indexOf(c.run.axes.budget!);
    assert.ok(col >= 0, c.run.id);
    assert.equal(c.counts.trainable, expected([[1, 3, R['1x3']![col]!]], 44), c.run.id);
    assert.equal(`${(100 * c.paperShare).toFixed(1)}%`, paper[col], `${c.run.id}: paper share ${c.paperShare}`);
  }
});

test('Table 2: the paper rows on ESC-50 (5 folds), Speech Commands and EPIC-SOUNDS; no BitFit / LoRA / prompts', async () => {
  const runs = await counted('paper_table2.yaml');
  assert.equal(runs.length, 7 * (5 + 1 + 1));
  const classes: Record<string, number> = { esc50: 50, speechcommands: 35, epic_sounds: 44 };
  const rows: Record<string, { method: string; adapters: [number, number, number][]; share?: string } | { method: string; full: true }> = {
    full: { method: 'full', full: true },
    linear: { method: 'linear', adapters: [] },
    adapter: {
      method: 'adapter',
      adapters: [
        [1, 1, 108],
        [1, 1, 108],
      ],
      share: '5',
    },
    attnT_2: { method: 'loaa', adapters: [[1, 3, 36]], share: '2' },
    ffnF_2: { method: 'loaa', adapters: [[3, 1, 36]], share: '2' },
    'attnT+ffnF_5': {
      method: 'loaa',
      adapters: [
        [1, 3, 36],
        [3, 1, 36],
      ],
      share: '5',
    },
    'attnT+ffnF_10': {
      method: 'loaa',
      adapters: [
        [1, 3, 72],
        [3, 1, 72],
      ],
      share: '9',
    },
  };
  assert.deepEqual([...new Set(runs.map((c) => c.run.axes.method))], Object.keys(rows));
  for (const c of runs) {
    const ds = c.run.axes.dataset!;
    const row = rows[c.run.axes.method!]!;
    assert.equal(c.recipe.peft.method, row.method, c.run.id);
    assert.equal(c.recipe.peft.lora, null, c.run.id);
    assert.equal(c.recipe.peft.prompt, null, c.run.id);
    assert.equal(c.recipe.data.fold, ds === 'esc50' ? Number(c.run.axes.fold) : null, c.run.id);
    if ('full' in row) {
      assert.equal(c.counts.trainable, c.counts.total, c.run.id);
      continue;
    }
    assert.equal(c.counts.trainable, expected(row.adapters, classes[ds]!), c.run.id);
    const kinds = c.recipe.peft.adapters.map((a) => [a.kernel[0], a.kernel[1], a.bottleneck]);
    assert.deepEqual(kinds, row.adapters, c.run.id);
    // Attn(T) 2%, Attn(T)FFN(F) 5% and 10% are rounded labels of 2.3%, 4.6% and 9.3%
    if (row.share) assert.equal((100 * c.paperShare).toFixed(0), row.share, `${c.run.id}: ${c.paperShare}`);
    // the linear probe's 0.04% (EPIC-SOUNDS' 44-class head: 35,372 / 87,630,032)
    if (row.method === 'linear' && ds === 'epic_sounds')
      assert.equal((100 * c.paperShare).toFixed(2), '0.04', `${c.run.id}: ${c.paperShare}`);
  }
});

test('Table 3: every Attn x FFN combination of T and F, and L+L, at 5% and 10% on EPIC-SOUNDS', async () => {
  const runs = await counted('paper_table3.yaml');
  const K: Record<string, [number, number]> = { T: [1, 3], F: [3, 1], L: [1, 1] };
  const want: string[] = [];
  for (const combo of ['T+T', 'T+F', 'F+T', 'F+F', 'L+L']) {
    for (const r of [36, 72]) {
      const [a, f] = combo.split('+').map((x) => K[x]!);
      const rr = combo === 'L+L' ? 3 * r : r;
      want.push(`attn:${a!.join('x')}:r${rr}+ffn:${f!.join('x')}:r${rr}`);
    }
  }
  assert.deepEqual(runs.map(adaptersOf).sort(), want.sort());
  for (const c of runs) {
    assert.equal(c.recipe.data.type, 'epic', c.run.id);
    const r = c.run.axes.budget === '5%' ? 36 : 72;
    assert.equal(
      c.counts.trainable,
      expected(
        [
          [1, 3, r],
          [1, 3, r],
        ],
        44,
      ),
      c.run.id,
    );
  }
});

test('the dry-run listing shows one line per paper row with the labels and counts', async () => {
  const g = readGrid(join(repoRoot, 'grids', 'paper_table2.yaml'));
  const runs = countGrid(await planGrid(g, join(repoRoot, 'runs', 'dry-run-test')));
  const text = formatGridCounts(g, runs);
  const lines = text.split('\n');
  assert.equal(lines.length, 1 + 7 * 3, text);
  assert.match(lines[0]!, /dataset\s+method\s+trains\s+trainable\s+share\s+paper share\s+runs/);
  const esc = lines.find((l) => l.includes('ESC-50') && l.includes('LoAA Attn(T) FFN(F) 5%'))!;
  assert.ok(esc, text);
  assert.match(
    esc,
    new RegExp(
      `${expected(
        [
          [1, 3, 36],
          [3, 1, 36],
        ],
        50,
      ).toLocaleString('en-US')}\\s+4\\.49%\\s+4\\.59%\\s+5$`,
    ),
  );
});

test('loaa grid --dry-run prints the rows with their counts (text and --json), without data or weights', () => {
  const bin = join(repoRoot, 'bin', 'loaa.js');
  const text = spawnSync(
    process.execPath,
    [bin, 'grid', join(repoRoot, 'grids', 'paper_table3.yaml'), '--dry-run', '--out', join(repoRoot, 'runs', 'dry-run-test')],
    { encoding: 'utf8' },
  );
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^adapters\s+budget\s+trains\s+trainable\s+share\s+paper share$/m);
  assert.match(
    text.stdout,
    new RegExp(
      `^Attn\\(L\\) \\+ FFN\\(L\\)\\s+10%\\s+loaa: attn 1x1 r216 \\+ ffn 1x1 r216\\s+${expected(
        [
          [1, 1, 216],
          [1, 1, 216],
        ],
        44,
      ).toLocaleString('en-US')}\\s+8\\.56%\\s+9\\.13%$`,
      'm',
    ),
  );
  const js = spawnSync(
    process.execPath,
    [bin, 'grid', join(repoRoot, 'grids', 'paper_table1.yaml'), '--dry-run', '--json', '--out', join(repoRoot, 'runs', 'dry-run-test')],
    { encoding: 'utf8' },
  );
  assert.equal(js.status, 0, js.stderr);
  const out = JSON.parse(js.stdout) as { runs: { axes: Record<string, string>; trainable: number; paper_share: number; state: string }[] };
  assert.equal(out.runs.length, 24);
  for (const r of out.runs) {
    const r13 = { '1.2%': 18, '2.3%': 36, '4.6%': 72 }[r.axes.budget!]!;
    assert.equal(r.trainable, expected([[1, 3, r13]], 44), JSON.stringify(r.axes));
    assert.equal(`${(100 * r.paper_share).toFixed(1)}%`, r.axes.budget);
    assert.equal(r.state, 'pending');
  }
});

test("the ESC-50 PEFT lr sweep: the paper's PEFT rows x {5e-5, 1e-4, 5e-4} x 5 folds, the recipe otherwise", async () => {
  const runs = await counted('esc50_lr_sweep.yaml');
  assert.equal(runs.length, 6 * 3 * 5);
  const lrs = new Set<number>();
  for (const c of runs) {
    lrs.add(c.recipe.optim.lr);
    assert.equal(c.recipe.optim.lr, Number(c.run.axes.lr), c.run.id);
    assert.equal(c.recipe.data.fold, Number(c.run.axes.fold), c.run.id);
    assert.equal(c.recipe.train.epochs, 25, c.run.id);
    assert.notEqual(c.recipe.peft.method, 'full', c.run.id);
  }
  assert.deepEqual([...lrs].sort(), [5e-5, 1e-4, 5e-4].sort());
});
