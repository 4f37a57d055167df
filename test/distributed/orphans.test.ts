/**
 * Ranks do not outlive their launcher (issue #25): after kill -9 of the `--nproc 2` launcher both
 * ranks used to train on with parent pid 1, and the next run was refused by the lock until they
 * finished. The launcher names itself in LOAA_PARENT_PID and every rank watches it, as grid
 * children watch their grid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, tempDir } from '../helpers.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

test('kill -9 of the launcher: both ranks stop within seconds instead of running on as orphans', { timeout: 60_000 }, async () => {
  const d = tempDir('orphans');
  const dist = (m: string) => pathToFileURL(join(repoRoot, 'dist', 'src', m)).href;
  // a rank as the trainer starts one: watch the parent named in the environment, then work forever
  writeFileSync(
    join(d, 'rank.mjs'),
    `
import { writeFileSync } from 'node:fs';
import { exitWithParent } from ${JSON.stringify(dist('util/lock.js'))};
exitWithParent(process.env, 200);
writeFileSync(${JSON.stringify(d)} + '/rank' + process.env.RANK + '.pid', String(process.pid));
setInterval(() => {}, 1000);
`,
  );
  writeFileSync(
    join(d, 'launcher.mjs'),
    `
import { launchLocal } from ${JSON.stringify(dist('distributed/launch.js'))};
await launchLocal({ plan: { nproc: 2, nnodes: 1, nodeRank: 0, masterAddr: '127.0.0.1', masterPort: 29999, timeoutMs: 1000, backend: 'gloo' },
  script: ${JSON.stringify(join(d, 'rank.mjs'))}, args: [], cores: 2 });
`,
  );
  const launcher = spawn(process.execPath, [join(d, 'launcher.mjs')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOAA_PARENT_PID: '' },
  });
  let stderr = '';
  launcher.stderr.on('data', (b) => (stderr += b));
  const pidFiles = [0, 1].map((r) => join(d, `rank${r}.pid`));
  try {
    assert.ok(await until(() => pidFiles.every(existsSync), 20_000), `the ranks did not start: ${stderr}`);
    const ranks = pidFiles.map((f) => Number(readFileSync(f, 'utf8')));
    assert.ok(ranks.every(alive));
    launcher.kill('SIGKILL');
    const gone = await until(() => !ranks.some(alive), 10_000);
    for (const p of ranks) if (alive(p)) process.kill(p, 'SIGKILL');
    assert.ok(gone, 'a rank was still running 10 s after its launcher was killed');
  } finally {
    if (launcher.exitCode === null) launcher.kill('SIGKILL');
  }
});
