/**
 * Grid locks that hold (#4), on real tiny training runs: kill -9 of a grid while its child trains,
 * then a rerun; and two grids racing with a delay injected in the lock's window. In both, every run
 * ends trained exactly once: results.json, and metrics.jsonl with one line per epoch.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../../src/util/fs.js';
import { LOCK_DELAY_ENV } from '../../src/util/lock.js';
import { repoRoot } from '../helpers.js';
import { tinyRecipe, tinySet } from '../train/tiny.js';

const root = mkdtempSync(join(tmpdir(), 'loaa-hostile-grid-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const data = tinySet(join(root, 'data'), { train: 3, validation: 1, test: 1 });
const EPOCHS = 3;
// the kill test's runs last long enough (~0.2 s an epoch here) that the orphan is still training
// when it notices its grid is gone, even on a fast machine: it must stop, not finish
const LONG_EPOCHS = 20;
for (const [name, epochs] of [
  ['g', EPOCHS],
  ['g_long', LONG_EPOCHS],
] as const) {
  writeFileSync(
    join(root, `${name}.base.yaml`),
    JSON.stringify(tinyRecipe(data, { train: { epochs, batch_size: 2, checkpoint_every: 1 }, data: { workers: 0, test: null } })),
  );
  writeFileSync(
    join(root, `${name}.yaml`),
    `name: ${name}
base: ${name}.base.yaml
axes:
  method:
    a: {peft.adapters: [{position: attn, kernel: [1, 3], bottleneck: 4}]}
    b: {peft.adapters: [{position: attn, kernel: [3, 1], bottleneck: 4}]}
`,
  );
}

function grid(
  out: string,
  env: NodeJS.ProcessEnv = {},
  file = 'g.yaml',
): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'loaa.js'), 'grid', file, '--out', out, '--json'], {
    cwd: root,
    env: { ...process.env, LOAA_NUM_THREADS: '1', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) =>
    child.on('exit', (code) => res({ code, stdout, stderr })),
  );
  return { child, done };
}

function checkTrainedOnce(out: string, epochs = EPOCHS): void {
  for (const m of ['a', 'b']) {
    const dir = join(root, out, `method=${m}`);
    assert.ok(existsSync(join(dir, 'results.json')), `${dir}: no results.json`);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { epoch: number }).epoch);
    assert.deepEqual(
      lines,
      Array.from({ length: epochs }, (_, i) => i + 1),
      `${dir}: metrics.jsonl epochs`,
    );
    assert.ok(!readdirSync(dir).some((n) => n.startsWith('.checkpoint-tmp') || n.includes('.tmp-')), `${dir}: leftover temp files`);
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('kill -9 of a grid while its child trains: the child stops, the rerun trains every run exactly once', async () => {
  const first = grid('killed', {}, 'g_long.yaml');
  const runA = join(root, 'killed', 'method=a');
  // the child has started training once its first checkpoint exists
  await waitFor(() => existsSync(join(runA, 'checkpoint', 'state.json')), 120_000);
  const lock = JSON.parse(readFileSync(join(runA, '.train-lock'), 'utf8')) as { pid: number };
  first.child.kill('SIGKILL');
  await first.done;
  // the orphaned train notices its grid is gone and stops by itself (not by finishing its epochs,
  // which a tiny run can do within the wait: its log says why it stopped)
  await waitFor(() => !processAlive(lock.pid), 10_000);
  assert.match(readFileSync(join(runA, 'train.log'), 'utf8'), new RegExp(`the parent process ${first.child.pid} is gone: stopping`));
  const second = await grid('killed', {}, 'g_long.yaml').done;
  assert.equal(second.code, 0, second.stderr);
  checkTrainedOnce('killed', LONG_EPOCHS);
});

test('two grids racing over the same runs, with a delay in the lock window: each run trained once', async () => {
  // 4 s: wider than the two grids' start-up jitter, so a lock taken by look-then-create (the old
  // code, which slept there) lets both through; the O_EXCL create has no such window to sleep in
  const env = { [LOCK_DELAY_ENV]: '4000' };
  const [x, y] = await Promise.all([grid('race', env).done, grid('race', env).done]);
  for (const r of [x, y]) assert.ok(r.code === 0 || r.code === 1, r.stderr);
  checkTrainedOnce('race');
  const sx = JSON.parse(x.stdout) as { done: number; busy: string[]; failed: string[] };
  const sy = JSON.parse(y.stdout) as { done: number; busy: string[]; failed: string[] };
  assert.equal(sx.done + sy.done, 2, `${x.stdout} ${y.stdout}`);
  // a run the other grid holds is busy, never started a second time (train's own guards would then
  // refuse it and the grid report it failed: the grid lock must not rely on them)
  assert.deepEqual([...sx.failed, ...sy.failed], [], `${x.stdout} ${y.stdout}`);
  for (const m of ['a', 'b']) {
    const starts = readFileSync(join(root, 'race', `method=${m}`, 'train.log'), 'utf8').match(/loaa grid: (starting|resuming)/g) ?? [];
    assert.equal(starts.length, 1, `method=${m} started ${starts.length} times`);
  }
});
