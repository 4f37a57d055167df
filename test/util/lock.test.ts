import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FileLock, lockOwner, LOCK_DELAY_ENV } from '../../src/util/lock.js';
import { repoRoot } from '../helpers.js';

const lockModule = pathToFileURL(join(repoRoot, 'dist', 'src', 'util', 'lock.js')).href;

/**
 * A child that tries the lock at `startAt` (ms since the epoch: contenders started one after another
 * still try together), prints won/held, and holds a won lock for `holdMs`.
 */
function contender(path: string, holdMs: number, delayMs: number, startAt = 0): Promise<{ out: string; code: number | null }> {
  const src = `
    import { FileLock } from ${JSON.stringify(lockModule)};
    const wait = ${startAt} - Date.now();
    if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
    const r = FileLock.tryAcquire(${JSON.stringify(path)}, 'test contender');
    if (r instanceof FileLock) {
      process.stdout.write('won ' + process.pid + '\\n');
      setTimeout(() => { r.release(); process.exit(0); }, ${holdMs});
    } else {
      process.stdout.write('held ' + r.pid + '\\n');
    }`;
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', src], { env: { ...process.env, [LOCK_DELAY_ENV]: String(delayMs) } });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => resolve({ out, code }));
  });
}

function deadOwner(path: string): void {
  const pid = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString());
  writeFileSync(path, JSON.stringify({ pid, start: null, host: hostname(), token: 'dead', started: 'then', what: 'a killed grid' }));
}

test('one process takes a lock; others see its owner; release frees it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-lock-'));
  try {
    const p = join(dir, '.lock');
    const a = FileLock.acquire(p, 'first');
    const owner = lockOwner(p);
    assert.equal(owner?.pid, process.pid);
    assert.throws(
      () => FileLock.acquire(p, 'second'),
      (e: Error) => e.message.startsWith(`${p}: locked by first (pid ${process.pid}`),
    );
    a.release();
    assert.equal(lockOwner(p), null);
    FileLock.acquire(p, 'third').release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('racing over a stale lock with a delay in the break window: exactly one winner', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-lock-'));
  try {
    const p = join(dir, '.grid-lock');
    deadOwner(p);
    // 6 contenders, each sleeping 150 ms between seeing the stale owner and breaking it (where the
    // old check-delete-create code let two of them through); the winner holds long enough that
    // every loser has finished trying
    const startAt = Date.now() + 3000;
    const rs = await Promise.all(Array.from({ length: 6 }, () => contender(p, 4000, 150, startAt)));
    const won = rs.filter((r) => r.out.startsWith('won'));
    assert.equal(won.length, 1, `winners: ${rs.map((r) => r.out.trim()).join(' | ')}`);
    const winner = won[0]!.out.split(' ')[1]!.trim();
    for (const r of rs.filter((x) => x.out.startsWith('held'))) assert.equal(r.out.trim(), `held ${winner}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 of the holder: the lock is taken over; a pid reused by another process does not hold it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-lock-'));
  try {
    const p = join(dir, '.lock');
    const src = `import { FileLock } from ${JSON.stringify(lockModule)}; FileLock.acquire(${JSON.stringify(p)}, 'victim'); process.stdout.write('ready'); setInterval(() => {}, 1000);`;
    const c = spawn(process.execPath, ['--input-type=module', '-e', src]);
    await new Promise<void>((res) => c.stdout.once('data', () => res()));
    assert.equal(lockOwner(p)?.pid, c.pid);
    const exited = new Promise((res) => c.on('exit', res));
    c.kill('SIGKILL');
    await exited;
    assert.equal(lockOwner(p), null);
    const l = FileLock.acquire(p, 'successor');
    l.release();
    // our own pid with a different start time: the pid was reused, the owner is gone
    const owner = JSON.parse(JSON.stringify({ pid: process.pid, start: 1, host: hostname(), token: 't', started: '', what: 'old' }));
    writeFileSync(p, JSON.stringify(owner));
    assert.equal(lockOwner(p), null);
    FileLock.acquire(p, 'after reuse').release();
    assert.throws(() => readFileSync(p), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
