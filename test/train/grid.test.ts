import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { readPng } from '../../src/viz/png.js';
import { loaa, repoRoot } from '../helpers.js';
import { tinyRecipe, tinySet } from './tiny.js';
import { planGrid, readGrid, setArg, GridError } from '../../src/train/grid.js';
import { childSpec, runGrid, runState, trainArgs, type RunContext, type GridEvent } from '../../src/train/grid_run.js';

const root = mkdtempSync(join(tmpdir(), 'loaa-grid-'));
after(() => rmSync(root, { recursive: true, force: true }));

const BASE = `
name: tiny
data: {type: fsdd, root: ../data/fsdd}
frontend: {target_length: 128}
model: {arch: deit_tiny_patch16_224, backbone: random, depth: 2}
peft: {method: loaa, adapters: [{position: attn, kernel: [1, 3], bottleneck: 8}]}
optim: {lr: 0.001}
train: {epochs: 2, batch_size: 4}
`;
mkdirSync(join(root, 'recipes'));
writeFileSync(join(root, 'recipes', 'tiny.yaml'), BASE);
mkdirSync(join(root, 'grids'));

function gridFile(name: string, text: string): string {
  const f = join(root, 'grids', name);
  writeFileSync(f, text);
  return f;
}

const GRID = gridFile(
  'small.yaml',
  `
name: small
base: ../recipes/tiny.yaml
out: ../runs/small
set:
  train: {epochs: 3}
  data.root: ../data/elsewhere
axes:
  method:
    loaa_t: {peft.adapters: [{position: attn, kernel: [1, 3], bottleneck: 8}]}
    loaa_f: {peft.adapters: [{position: attn, kernel: [3, 1], bottleneck: 8}]}
    linear: {peft: {method: linear, adapters: []}}
  seed: {key: seed, values: [0, 1]}
exclude:
  - {method: linear, seed: 1}
report:
  tables: [{rows: [method]}]
`,
);

test('grid file: axes, named and key/values forms, exclude, overrides as --set, paths relative to the file', async () => {
  const g = readGrid(GRID);
  assert.equal(g.name, 'small');
  assert.equal(g.base, join(root, 'recipes', 'tiny.yaml'));
  assert.equal(g.out, join(root, 'runs', 'small'));
  assert.deepEqual(
    g.axes.map((a) => [a.name, a.values.map((v) => v.name)]),
    [
      ['method', ['loaa_t', 'loaa_f', 'linear']],
      ['seed', ['0', '1']],
    ],
  );
  assert.deepEqual(g.set, { 'train.epochs': 3, 'data.root': join(root, 'data', 'elsewhere') });
  const runs = await planGrid(g, g.out!, ['train.batch_size=2']);
  assert.deepEqual(
    runs.map((r) => r.id),
    ['method=loaa_t__seed=0', 'method=loaa_t__seed=1', 'method=loaa_f__seed=0', 'method=loaa_f__seed=1', 'method=linear__seed=0'],
  );
  const lin = runs[4]!;
  assert.deepEqual(lin.axes, { method: 'linear', seed: '0' });
  assert.deepEqual(lin.sets, [
    'train.epochs=3',
    `data.root=${join(root, 'data', 'elsewhere')}`,
    'peft.method=linear',
    'peft.adapters=[]',
    'seed=0',
    'train.batch_size=2',
  ]);
  assert.equal(lin.dir, join(root, 'runs', 'small', 'method=linear__seed=0'));
  const args = trainArgs({ run: lin, resume: false });
  assert.deepEqual(args.slice(0, 5), ['train', '--config', g.base, '--set', 'train.epochs=3']);
  assert.deepEqual(args.slice(-2), ['--out', lin.dir]);
  assert.ok(trainArgs({ run: lin, resume: true }).includes('--resume'));
  // the runner starts the run through the JSON child entry, not through flags
  assert.deepEqual(childSpec({ run: lin, resume: true }), { config: g.base, set: lin.sets, out: lin.dir, resume: true });
  assert.equal(setArg('peft.adapters', [{ position: 'attn', kernel: [1, 3] }]), 'peft.adapters=[{"position":"attn","kernel":[1,3]}]');
  assert.equal(setArg('model.depth', null), 'model.depth=null');
});

test('grid file: clear errors naming the file and the key', async () => {
  const bad = (name: string, text: string, re: RegExp) =>
    assert.throws(
      () => readGrid(gridFile(name, text)),
      (e: Error) => e instanceof GridError && re.test(e.message),
      name,
    );
  bad('b1.yaml', 'base: ../recipes/tiny.yaml\n', /b1\.yaml: axes: expected a mapping/);
  bad(
    'b3.yaml',
    'base: ../recipes/nope.yaml\naxes: {seed: {key: seed, values: [1]}}\n',
    /b3\.yaml: base: recipe .*nope\.yaml does not exist/,
  );
  bad('b4.yaml', 'base: ../recipes/tiny.yaml\naxis: {}\n', /b4\.yaml: axis: unknown key \(known: name, description, base/);
  bad('b5.yaml', 'base: ../recipes/tiny.yaml\naxes: {seed: [1, 2]}\n', /b5\.yaml: axes\.seed: expected named values/);
  bad('b6.yaml', 'base: ../recipes/tiny.yaml\naxes: {m: {a: 3}}\n', /b6\.yaml: axes\.m\.a: expected a mapping of recipe overrides/);
  bad(
    'b7.yaml',
    'base: ../recipes/tiny.yaml\naxes: {seed: {key: seed, values: [1]}}\nexclude: [{sed: 1}]\n',
    /b7\.yaml: exclude\.0\.sed: no such axis/,
  );
  bad(
    'b8.yaml',
    'base: ../recipes/tiny.yaml\naxes: {seed: {key: seed, values: [1]}}\nexclude: [{seed: 2}]\n',
    /b8\.yaml: exclude\.0\.seed: no value "2"/,
  );
  bad('b9.yaml', 'base: [\n', /b9\.yaml: not valid YAML/);
  bad('b10.yaml', 'base: ../recipes/tiny.yaml\naxes: {m: {"a b": {}, "a/b": {}}}\n', /share a directory name/);
  // overrides are checked against the recipe schema when planning, per run
  const g = readGrid(gridFile('b11.yaml', 'base: ../recipes/tiny.yaml\naxes: {lr: {key: optim.lrr, values: [0.1]}}\n'));
  await assert.rejects(planGrid(g, join(root, 'x')), /b11\.yaml: run lr=0\.1: .*optim\.lrr.*unknown key/);
  const g2 = readGrid(gridFile('b12.yaml', 'base: ../recipes/tiny.yaml\naxes: {e: {key: train.epochs, values: [fast]}}\n'));
  await assert.rejects(planGrid(g2, join(root, 'x')), /b12\.yaml: run e=fast: .*train\.epochs.*expected an integer/);
});

test('grid budgets: equal parameters per kernel, or a share of the total', async () => {
  const g = readGrid(
    gridFile(
      'budget.yaml',
      `base: ../recipes/tiny.yaml
axes:
  kernel:
    T: {peft.adapters: [{position: attn, kernel: [1, 3], bottleneck: 1}]}
    P: {peft.adapters: [{position: attn, kernel: [1, 1], bottleneck: 1}]}
  budget:
    r36: {budget: {reference: [1, 3], bottleneck: 36}}
    small: {budget: {ratio: 0.05}, classes: 10}
`,
    ),
  );
  const runs = await planGrid(g, join(root, 'b'));
  const r = (id: string) =>
    runs
      .find((x) => x.id === id)!
      .sets.filter((s) => s.includes('bottleneck='))
      .at(-1);
  assert.equal(r('kernel=T__budget=r36'), 'peft.adapters.0.bottleneck=36');
  assert.equal(r('kernel=P__budget=r36'), 'peft.adapters.0.bottleneck=108'); // the paper's 1x1 r 108 = 1x3 r 36
  const rt = Number(r('kernel=T__budget=small')!.split('=')[1]);
  const rp = Number(r('kernel=P__budget=small')!.split('=')[1]);
  assert.ok(rt >= 1 && rp >= 2.9 * rt && rp <= 3.1 * rt + 3, `ratio budget: T r ${rt}, P r ${rp}`);
});

test('grid: per-value base recipes, a kernel for every adapter, rules, lists set before keys inside them', async () => {
  writeFileSync(join(root, 'recipes', 'other.yaml'), BASE.replace('name: tiny', 'name: other').replace('batch_size: 4', 'batch_size: 8'));
  const g = readGrid(
    gridFile(
      'combo.yaml',
      `axes:
  dataset:
    a: {base: ../recipes/tiny.yaml}
    b: {base: ../recipes/other.yaml}
  kernel:
    F: {kernel: [3, 1]}
  position:
    both: {peft.adapters: [{position: attn, bottleneck: 4}, {position: ffn, bottleneck: 4}]}
rules:
  - when: {dataset: b}
    set: {train: {epochs: 7}}
`,
    ),
  );
  assert.equal(g.base, null);
  const runs = await planGrid(g, join(root, 'c'));
  assert.deepEqual(
    runs.map((r) => r.base),
    [join(root, 'recipes', 'tiny.yaml'), join(root, 'recipes', 'other.yaml')],
  );
  assert.deepEqual(runs[0]!.sets, [
    'peft.adapters=[{"position":"attn","bottleneck":4},{"position":"ffn","bottleneck":4}]',
    'peft.adapters.0.kernel=[3,1]',
    'peft.adapters.1.kernel=[3,1]',
  ]);
  assert.deepEqual(runs[1]!.sets.slice(1), ['train.epochs=7', 'peft.adapters.0.kernel=[3,1]', 'peft.adapters.1.kernel=[3,1]']);
  const { loadRecipe } = await import('../../src/train/recipe.js');
  const r = loadRecipe(runs[1]!.base, { set: runs[1]!.sets });
  assert.deepEqual(
    r.peft.adapters.map((a) => [a.position, a.kernel]),
    [
      ['attn', [3, 1]],
      ['ffn', [3, 1]],
    ],
  );
  assert.equal(r.train.batch_size, 8);
  assert.equal(r.train.epochs, 7);
  // a base named by the axis values
  const tg = readGrid(gridFile('templ.yaml', 'base: ../recipes/{name}.yaml\naxes: {name: {tiny: {}, other: {}, nope: {}}}\n'));
  await assert.rejects(planGrid(tg, join(root, 't')), /templ\.yaml: run name=nope: base: recipe .*nope\.yaml does not exist/);
  tg.axes[0]!.values.pop();
  assert.deepEqual(
    (await planGrid(tg, join(root, 't'))).map((r) => r.base),
    [join(root, 'recipes', 'tiny.yaml'), join(root, 'recipes', 'other.yaml')],
  );
  const tb = readGrid(gridFile('templ2.yaml', 'base: ../recipes/{dataset}.yaml\naxes: {name: {tiny: {}}}\n'));
  await assert.rejects(planGrid(tb, join(root, 't')), /templ2\.yaml: run name=tiny: base: \{dataset\} is not an axis \(axes: name\)/);
  // no base anywhere
  const nb = readGrid(gridFile('nobase.yaml', 'axes: {seed: {key: seed, values: [1]}}\n'));
  await assert.rejects(planGrid(nb, join(root, 'x')), /nobase\.yaml: run seed=1: no base recipe/);
  assert.throws(
    () =>
      readGrid(
        gridFile(
          'badrule.yaml',
          'base: ../recipes/tiny.yaml\naxes: {seed: {key: seed, values: [1]}}\nrules: [{when: {seed: 1}, sett: {}}]\n',
        ),
      ),
    /badrule\.yaml: rules\.0\.sett: unknown key/,
  );
});

test('the grid files in grids/ read and plan (every run a valid recipe)', async () => {
  const counts: Record<string, number> = {
    'fsdd_small.yaml': 4,
    'paper_table1.yaml': 24,
    'paper_table2.yaml': 49,
    'paper_table3.yaml': 10,
    'beyond_paper_methods.yaml': 35,
  };
  for (const f of readdirSync(join(repoRoot, 'grids')).filter((x) => x.endsWith('.yaml'))) {
    const g = readGrid(join(repoRoot, 'grids', f));
    const runs = await planGrid(g, join(root, 'plan', f));
    if (counts[f] !== undefined) assert.equal(runs.length, counts[f], f);
    const { parseReportSpec } = await import('../../src/viz/report.js');
    const spec = parseReportSpec(g.report, `${f}: report`);
    const axes = g.axes.map((a) => a.name);
    const used = [
      ...spec.tables.flatMap((t) => [...(t.rows ?? []), ...(t.cols ?? []), ...Object.keys(t.filter ?? {})]),
      ...(spec.curves.group ?? []),
      ...(spec.curves.split ?? []),
      ...(spec.replicates ?? []),
    ];
    for (const a of used) assert.ok(axes.includes(a), `${f}: report names axis ${a}`);
    for (const t of spec.tables)
      for (const [a, vs] of Object.entries(t.filter ?? {}))
        for (const v of vs)
          assert.ok(
            g.axes.find((x) => x.name === a)!.values.some((x) => x.name === v),
            `${f}: filter ${a}=${v}`,
          );
  }
});

/** A fake trainer: writes what loaa train writes; `fail` ids crash half-way (recipe.json, no results). */
function fakeRunner(calls: RunContext[], fail = new Set<string>()): (ctx: RunContext) => Promise<number> {
  return async (ctx) => {
    calls.push(ctx);
    const d = ctx.run.dir;
    writeFileSync(join(d, 'recipe.json'), JSON.stringify({ sets: ctx.run.sets }));
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(join(d, 'metrics.jsonl'), `${JSON.stringify({ epoch: 1, train_loss: 1, val: { top1: 0.5 } })}\n`);
    if (fail.has(ctx.run.id)) return 3;
    writeFileSync(
      join(d, 'results.json'),
      JSON.stringify({ params: { total: 100, trainable: 5 }, final: { epoch: 1, split: 'validation', metrics: { top1: 0.5 } } }),
    );
    return 0;
  };
}

test('runGrid: a queue that resumes: finished runs are skipped, a crashed one resumes, several at once', async () => {
  const g = readGrid(GRID);
  const out = join(root, 'runs', 'queue');
  const runs = await planGrid(g, out);
  const calls: RunContext[] = [];
  const events: GridEvent[] = [];
  const crash = runs[1]!.id;
  let s = await runGrid(g, runs, { out, jobs: 2, cores: 2, runner: fakeRunner(calls, new Set([crash])), onEvent: (e) => events.push(e) });
  assert.equal(calls.length, 5);
  assert.deepEqual(s.failed, [crash]);
  assert.equal(s.done, 4);
  assert.ok(calls.every((c) => c.threads === 1 && c.cpus.length === 1 && !c.resume));
  assert.deepEqual(new Set(calls.map((c) => c.cpus[0])), new Set([0, 1]), 'two jobs on two different cores');
  assert.ok(existsSync(join(out, 'grid.yaml')) && existsSync(join(out, 'grid_status.json')));
  const status = JSON.parse(readFileSync(join(out, 'grid_status.json'), 'utf8')) as {
    runs: { id: string; state: string; exit_code?: number }[];
  };
  assert.deepEqual(
    status.runs.find((r) => r.id === crash),
    { ...status.runs.find((r) => r.id === crash), state: 'failed', exit_code: 3 },
  );
  const gr = JSON.parse(readFileSync(join(runs[0]!.dir, 'grid_run.json'), 'utf8')) as { axes: Record<string, string>; command: string[] };
  assert.deepEqual(gr.axes, { method: 'loaa_t', seed: '0' });
  assert.equal(gr.command[0], 'loaa');
  assert.match(readFileSync(join(runs[0]!.dir, 'train.log'), 'utf8'), /loaa grid: starting method=loaa_t__seed=0/);
  assert.ok(!existsSync(join(runs[0]!.dir, '.grid-lock')), 'locks are released');
  assert.equal(events.filter((e) => e.kind === 'fail').length, 1);
  assert.equal(runState(runs[1]!), 'interrupted');

  // second invocation: only the crashed run, with --resume
  calls.length = 0;
  events.length = 0;
  s = await runGrid(g, runs, { out, jobs: 2, runner: fakeRunner(calls) });
  assert.deepEqual(
    calls.map((c) => [c.run.id, c.resume]),
    [[crash, true]],
  );
  assert.equal(s.skipped, 4);
  assert.equal(s.done, 1);
  assert.deepEqual(s.failed, []);
  assert.match(readFileSync(join(runs[1]!.dir, 'train.log'), 'utf8'), /resuming/);

  // third: nothing left
  calls.length = 0;
  s = await runGrid(g, runs, { out, runner: fakeRunner(calls) });
  assert.equal(calls.length, 0);
  assert.equal(s.skipped, 5);
});

test('runGrid: a run another live process holds is left alone; a stale lock is taken over; stop on abort', async () => {
  const g = readGrid(GRID);
  const out = join(root, 'runs', 'locks');
  const runs = await planGrid(g, out);
  mkdirSync(runs[0]!.dir, { recursive: true });
  mkdirSync(runs[1]!.dir, { recursive: true });
  const { hostname } = await import('node:os');
  // the parent of this test process is alive; pid 2^22+1 is not
  writeFileSync(join(runs[0]!.dir, '.grid-lock'), JSON.stringify({ pid: process.ppid, host: hostname(), started: '' }));
  writeFileSync(join(runs[1]!.dir, '.grid-lock'), JSON.stringify({ pid: 4194305, host: hostname(), started: '' }));
  assert.equal(runState(runs[0]!), 'running');
  assert.equal(runState(runs[1]!), 'pending');
  const calls: RunContext[] = [];
  const ac = new AbortController();
  const runner = fakeRunner(calls);
  const s = await runGrid(g, runs, {
    out,
    signal: ac.signal,
    runner: async (ctx) => {
      const code = await runner(ctx);
      if (calls.length === 2) ac.abort(); // stop after the second run
      return code;
    },
  });
  assert.deepEqual(s.busy, [runs[0]!.id]);
  assert.deepEqual(
    calls.map((c) => c.run.id),
    [runs[1]!.id, runs[2]!.id],
  );
  assert.equal(s.left, 2);
  assert.ok(existsSync(join(runs[0]!.dir, '.grid-lock')), 'the other process keeps its lock');
});

// ---------------------------------------------------------------- end to end, with real (tiny) training runs

const e2e = join(root, 'e2e');
mkdirSync(e2e);

const loaaIn = (args: string[]) => loaa(args, { cwd: e2e, env: { LOAA_NUM_THREADS: '1' } });

test('loaa grid -> loaa report -> loaa attention on real (tiny) training runs', () => {
  const data = tinySet(join(e2e, 'data'));
  // JSON is YAML
  writeFileSync(join(e2e, 'tiny.yaml'), JSON.stringify(tinyRecipe(data, { train: { epochs: 2, batch_size: 6, log_every: 100 } })));
  writeFileSync(
    join(e2e, 'g.yaml'),
    `name: e2e
base: tiny.yaml
axes:
  method:
    loaa_t: {peft.adapters: [{position: attn, kernel: [1, 3], bottleneck: 4}]}
    linear: {peft.method: linear, peft.adapters: []}
report:
  tables: [{title: "Tiny", rows: [method]}]
`,
  );
  let r = loaaIn(['grid', 'g.yaml', '--jobs', '2', '--out', 'runs', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { done: number; skipped: number; failed: string[] };
  assert.deepEqual([s.done, s.skipped, s.failed], [2, 0, []]);
  const runDir = join(e2e, 'runs', 'method=loaa_t');
  for (const f of ['recipe.json', 'metrics.jsonl', 'results.json', 'grid_run.json', 'train.log', 'best/adapter_config.json'])
    assert.ok(existsSync(join(runDir, f)), f);
  assert.ok(!readdirSync(runDir).includes('.grid-lock'));
  const recipe = JSON.parse(readFileSync(join(runDir, 'recipe.json'), 'utf8')) as {
    peft: { adapters: { kernel: number[]; bottleneck: number }[] };
  };
  assert.deepEqual(
    recipe.peft.adapters.map((a) => [a.kernel, a.bottleneck]),
    [[[1, 3], 4]],
  );

  // again: nothing to do
  r = loaaIn(['grid', 'g.yaml', '--out', 'runs']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /e2e: 2 already done, 0 finished now, 0 failed \(of 2\)/);

  r = loaaIn(['report', 'runs', '--out', 'rep']);
  assert.equal(r.status, 0, r.stderr);
  const md = readFileSync(join(e2e, 'rep', 'report.md'), 'utf8');
  assert.match(md, /## Tiny/);
  assert.match(md, /\| loaa_t \| [\d.]+K? \([\d.]+%\) \| /);
  assert.match(md, /\| linear \| [\d.]+K? \([\d.]+%\) \| /);
  assert.ok(existsSync(join(e2e, 'rep', 'plots', 'loss.svg')));

  const wav = join(data, 'test', readdirSync(join(data, 'test'))[0]!);
  const wavFile = join(wav, readdirSync(wav)[0]!);
  r = loaaIn([
    'attention',
    wavFile,
    '--backbone',
    'random:deit_tiny_distilled_patch16_224',
    '--seed',
    '3',
    '--adapter',
    join(runDir, 'best'),
    '--out',
    'map.png',
    '--json',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const a = JSON.parse(r.stdout) as { size: [number, number]; rows: { label: string }[]; grid: [number, number] };
  assert.deepEqual(
    a.rows.map((x) => x.label),
    ['BACKBONE (RANDOM)', 'method=loaa_t/best'],
  );
  assert.deepEqual(a.grid, [2, 4]); // 32 mel bins x 64 frames
  const img = readPng(join(e2e, 'map.png'));
  assert.deepEqual([img.width, img.height], a.size);
});
