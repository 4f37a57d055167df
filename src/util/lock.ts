/**
 * Exclusive locks on a file name that hold across processes without flock (Node has none): the
 * lock is created with O_EXCL, so exactly one creator wins, and it names its owner (pid, the
 * process's start time, host, a random token). A competitor never deletes a lock it merely failed
 * to take: only a lock whose owner is provably gone (same host, pid absent or reused by a process
 * that started later) is broken, and breaking happens under a second O_EXCL lock with the stale
 * owner read again inside it, so two competitors cannot both break and both take it (the race the
 * check-delete-create sequence had). Release removes the file only while it still holds our token.
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { processAlive, readRegularText } from './fs.js';

export interface LockOwner {
  pid: number;
  /** the owner's start time in clock ticks since boot (/proc/<pid>/stat), when known: tells pid reuse apart */
  start: number | null;
  host: string;
  token: string;
  started: string;
  /** what holds it ("loaa train <dir>"), for messages */
  what: string;
}

/** A lock without content older than this was left by a creator killed between create and write. */
const EMPTY_STALE_MS = 5_000;

/** Test hook: sleep this long inside the lock's critical windows, to make races reproducible. */
export const LOCK_DELAY_ENV = 'LOAA_LOCK_TEST_DELAY_MS';

function sleepMs(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function injectedDelay(): void {
  const v = Number(process.env[LOCK_DELAY_ENV] ?? 0);
  if (Number.isFinite(v) && v > 0) sleepMs(Math.min(v, 60_000));
}

/** Start time of a process (field 22 of /proc/<pid>/stat), or null where /proc is not there. */
export function processStartTime(pid: number): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // the command name (field 2) may hold spaces and parentheses: count fields after the last ')'
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const v = Number(rest[19]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

const selfStart = processStartTime(process.pid);

/** Is the owner still running? Owners on other hosts always count as alive (we cannot tell). */
export function ownerAlive(o: LockOwner): boolean {
  if (o.host !== hostname()) return true;
  if (!processAlive(o.pid)) return false;
  if (o.start !== null) {
    const now = processStartTime(o.pid);
    if (now !== null && now !== o.start) return false; // the pid now belongs to another process
  }
  return true;
}

type Read =
  | { kind: 'missing' }
  | { kind: 'empty'; ageMs: number }
  | { kind: 'owner'; owner: LockOwner }
  | { kind: 'garbage'; ageMs: number };

function readLock(path: string): Read {
  let text: string;
  let ageMs: number;
  try {
    ageMs = Date.now() - statSync(path).mtimeMs;
    // a regular file, opened without blocking: a FIFO planted as the lock is refused, not waited on
    text = readRegularText(path, 'lock', 64 * 1024);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    const m = (e as Error).message;
    throw new Error(m.startsWith(path) ? `${m} (remove it: it is not a lock this program wrote)` : `${path}: cannot read lock: ${m}`);
  }
  if (text === '') return { kind: 'empty', ageMs };
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    // locks written before owners carried a token and start time read as such owners
    if (typeof o.pid === 'number' && typeof o.host === 'string') {
      return { kind: 'owner', owner: { start: null, token: '', started: '', what: 'another process', ...o } as LockOwner };
    }
  } catch {
    /* fall through */
  }
  return { kind: 'garbage', ageMs };
}

/** Create `path` exclusively holding `owner`; false when it exists. */
function create(path: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`${path}: cannot create lock: ${(e as Error).message}`);
  }
  try {
    writeSync(fd, JSON.stringify(owner));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

function isStale(r: Read): boolean {
  if (r.kind === 'owner') return !ownerAlive(r.owner);
  if (r.kind === 'empty' || r.kind === 'garbage') return r.ageMs > EMPTY_STALE_MS;
  return false;
}

function sameState(a: Read, b: Read): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'owner' && b.kind === 'owner') return a.owner.token === b.owner.token;
  return true;
}

export class FileLock {
  private held = true;

  private constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {}

  /**
   * Take the lock at `path`, or return the live owner holding it. `what` says who takes it, for the
   * message a competitor prints.
   */
  static tryAcquire(path: string, what: string): FileLock | LockOwner {
    const owner: LockOwner = {
      pid: process.pid,
      start: selfStart,
      host: hostname(),
      token: randomBytes(8).toString('hex'),
      started: new Date().toISOString(),
      what,
    };
    for (let attempt = 0; attempt < 5; attempt++) {
      if (create(path, owner)) return new FileLock(path, owner);
      const seen = readLock(path);
      if (seen.kind === 'missing') continue; // released between our create and our read
      if (!isStale(seen)) {
        if (seen.kind === 'owner') return seen.owner;
        // being written by its creator right now: held
        return { pid: 0, start: null, host: '?', token: '', started: '', what: 'another process (lock being written)' };
      }
      injectedDelay();
      // break the stale lock under the break lock, re-reading it there: a competitor that broke it
      // first and took it in the meantime has a live token, which we then leave alone
      const breakPath = `${path}.break`;
      const breaker: LockOwner = { ...owner, what: `breaking ${path}` };
      if (!create(breakPath, breaker)) {
        const b = readLock(breakPath);
        if (isStale(b)) rmSync(breakPath, { force: true });
        else sleepMs(20);
        continue;
      }
      try {
        const again = readLock(path);
        if (sameState(seen, again) && isStale(again)) {
          injectedDelay();
          rmSync(path, { force: true });
        }
        if (create(path, owner)) return new FileLock(path, owner);
      } finally {
        rmSync(breakPath, { force: true });
      }
    }
    const last = readLock(path);
    if (last.kind === 'owner') return last.owner;
    throw new Error(`${path}: cannot take the lock: it keeps changing hands`);
  }

  /** Take the lock or throw an Error naming the file and its holder. */
  static acquire(path: string, what: string): FileLock {
    const r = FileLock.tryAcquire(path, what);
    if (r instanceof FileLock) return r;
    throw new Error(`${path}: locked by ${describeOwner(r)}`);
  }

  /**
   * Take the lock, waiting up to `waitMs` for a live holder to let go (an orphan of a killed grid
   * stops within a second of its parent's death), then throw naming the holder.
   */
  static async acquireWaiting(path: string, what: string, waitMs: number): Promise<FileLock> {
    const until = Date.now() + waitMs;
    for (;;) {
      const r = FileLock.tryAcquire(path, what);
      if (r instanceof FileLock) return r;
      if (Date.now() >= until) throw new Error(`${path}: locked by ${describeOwner(r)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** Remove the lock if it is still ours (a lock broken and retaken by another is left alone). */
  release(): void {
    if (!this.held) return;
    this.held = false;
    const r = readLock(this.path);
    if (r.kind === 'owner' && r.owner.token === this.owner.token) rmSync(this.path, { force: true });
  }
}

export function describeOwner(o: LockOwner): string {
  return o.pid ? `${o.what} (pid ${o.pid} on ${o.host}, since ${o.started})` : o.what;
}

/** The live owner of the lock at `path`, or null when it is free or stale. */
export function lockOwner(path: string): LockOwner | null {
  const r = readLock(path);
  if (r.kind === 'owner') return ownerAlive(r.owner) ? r.owner : null;
  if (r.kind === 'empty' || r.kind === 'garbage')
    return r.ageMs > EMPTY_STALE_MS
      ? null
      : { pid: 0, start: null, host: '?', token: '', started: '', what: 'another process (lock being written)' };
  return null;
}

/** Set by a parent (loaa grid) for its children: the pid whose death they must not outlive. */
export const PARENT_PID_ENV = 'LOAA_PARENT_PID';

/**
 * The watch runs on its own thread: a training loop fed in-process (data.workers: 0) keeps the main
 * thread's event loop from ever reaching a timer, so an interval there fired only after the run had
 * finished beside the rerun. From the thread, the process is killed outright: a checkpoint survives
 * kill -9 at any point (the rename is the commit), and the rerun resumes from it.
 */
const WATCH_PARENT = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { parent, self, everyMs } = workerData;
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
setInterval(() => {
  if (process.ppid === parent && alive(parent)) return;
  try { writeSync(2, 'loaa: the parent process ' + parent + ' is gone: stopping (resume with --resume)\\n'); } catch {}
  process.kill(self, 'SIGKILL');
}, everyMs);
`;

/**
 * Stop when the process named by LOAA_PARENT_PID is gone (Linux has PR_SET_PDEATHSIG, Node does not
 * expose it): a `train` started by a grid that was killed with -9 stops within a second instead of
 * training on beside the rerun. Its checkpoint is intact, so the rerun resumes it.
 */
export function exitWithParent(env: NodeJS.ProcessEnv = process.env, everyMs = 1000): void {
  const pid = Number(env[PARENT_PID_ENV]);
  if (!Number.isSafeInteger(pid) || pid <= 1) return;
  try {
    const w = new Worker(WATCH_PARENT, { eval: true, workerData: { parent: pid, self: process.pid, everyMs } });
    w.unref();
    return;
  } catch {
    // no worker threads here: the main thread's timer still catches a grid killed between steps
  }
  const timer = setInterval(() => {
    if (process.ppid !== pid || !processAlive(pid)) {
      process.stderr.write(`loaa: the parent process ${pid} is gone: stopping (resume with --resume)\n`);
      process.exit(129);
    }
  }, everyMs);
  timer.unref();
}
