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
writeFileSync(join(root, 'tiny.yaml'), JSON.stringify(tinyRecipe(data, { train: { epochs: EPOCHS, batch_size: 2, checkpoint_every: 1 }, data: { workers: 0, test: null } })));
writeFileSync(
  join(root, 'g.yaml'),
  `name: g
base: tiny.yaml
axes:
  method:
    a: {peft.adapters: [{position: attn, kernel: [1, 3], bottleneck: 4}]}
    b: {peft.adapters: [{position: attn, kernel: [3, 1], bottleneck: 4}]}
`,
);

function grid(out: string, env: NodeJS.ProcessEnv = {}): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'loaa.js'), 'grid', 'g.yaml', '--out', out, '--json'], {
    cwd: root,
    env: { ...process.env, LOAA_NUM_THREADS: '1', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => child.on('exit', (code) => res({ code, stdout, stderr })));
  return { child, done };
}

function checkTrainedOnce(out: string): void {
  for (const m of ['a', 'b']) {
    const dir = join(root, out, `method=${m}`);
    assert.ok(existsSync(join(dir, 'results.json')), `${dir}: no results.json`);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { epoch: number }).epoch);
    assert.deepEqual(lines, Array.from({ length: EPOCHS }, (_, i) => i + 1), `${dir}: metrics.jsonl epochs`);
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
  const first = grid('killed');
  const runA = join(root, 'killed', 'method=a');
  // the child has started training once its first checkpoint exists
  await waitFor(() => existsSync(join(runA, 'checkpoint', 'state.json')), 120_000);
  const lock = JSON.parse(readFileSync(join(runA, '.train-lock'), 'utf8')) as { pid: number };
  first.child.kill('SIGKILL');
  await first.done;
  // the orphaned train notices its grid is gone and stops by itself
  await waitFor(() => !processAlive(lock.pid), 10_000);
  const second = await grid('killed').done;
  assert.equal(second.code, 0, second.stderr);
  checkTrainedOnce('killed');
});

test('two grids racing over the same runs, with a delay in the lock window: each run trained once', async () => {
  const env = { [LOCK_DELAY_ENV]: '200' };
  const [x, y] = await Promise.all([grid('race', env).done, grid('race', env).done]);
  for (const r of [x, y]) assert.ok(r.code === 0 || r.code === 1, r.stderr);
  checkTrainedOnce('race');
  const sx = JSON.parse(x.stdout) as { done: number; busy: string[] };
  const sy = JSON.parse(y.stdout) as { done: number; busy: string[] };
  assert.equal(sx.done + sy.done, 2, `${x.stdout} ${y.stdout}`);
});
