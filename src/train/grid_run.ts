/**
 * Running a planned grid (grid.ts plans it): each run in its own directory, `jobs` at a time, each
 * under a lock so two grids never run the same run; a run is started through the JSON child entry
 * grid_child.ts (the recipe, its overrides and the run directory as one JSON argument).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync } from 'node:fs';
import { availableParallelism, constants as osConstants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/fs.js';
import { appendGuarded, openAppend, readInput, readInputText } from '../util/guarded_fs.js';
import { FileLock, lockOwner, PARENT_PID_ENV, type LockOwner } from '../util/lock.js';
import type { Grid, PlannedRun } from './grid.js';
import { runDone, runStarted } from './run_dir.js';
import type { GridChildSpec } from './grid_child.js';

export type RunState = 'done' | 'pending' | 'interrupted' | 'running';

const LOCK = '.grid-lock';

/** A lock held by a live process on this machine (locks of other machines count as held). */
function lockHolder(dir: string): LockOwner | null {
  return lockOwner(join(dir, LOCK));
}

/** done: results.json; running: another live grid holds it; interrupted: started, not finished. */
export function runState(run: PlannedRun): RunState {
  if (runDone(run.dir)) return 'done';
  if (lockHolder(run.dir)) return 'running';
  if (runStarted(run.dir)) return 'interrupted';
  return 'pending';
}

/**
 * The run's lock (src/util/lock.ts: exclusive create; a stale lock is broken only under a second
 * lock and after reading it again, never deleted by a competitor that merely lost).
 */
const held = new Map<string, FileLock>();
function takeLock(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  const l = FileLock.tryAcquire(join(dir, LOCK), `loaa grid ${dir}`);
  if (!(l instanceof FileLock)) return false;
  held.set(dir, l);
  return true;
}

function dropLock(dir: string): void {
  held.get(dir)?.release();
  held.delete(dir);
}

// ---------------------------------------------------------------- running

export interface RunContext {
  run: PlannedRun;
  /** continue a run that started before (`loaa train --resume`) */
  resume: boolean;
  /** the log file of this attempt (appended) */
  log: string;
  /** CPU threads this run may use, and which (for pinning) */
  threads: number;
  cpus: number[];
  signal: AbortSignal;
}

/** Runs one training run to its end; resolves to the exit status (0: results.json should exist). */
export type Runner = (ctx: RunContext) => Promise<number>;

export const GRID_CHILD = join(dirname(fileURLToPath(import.meta.url)), 'grid_child.js');

/** The `loaa train` arguments of a run: the equivalent command line, recorded for people in grid_run.json. */
export function trainArgs(ctx: Pick<RunContext, 'run' | 'resume'> & { base?: string }): string[] {
  return [
    'train',
    '--config',
    ctx.base ?? ctx.run.base,
    ...ctx.run.sets.flatMap((s) => ['--set', s]),
    '--out',
    ctx.run.dir,
    ...(ctx.resume ? ['--resume'] : []),
  ];
}

/** What the child entry gets for a run. */
export function childSpec(ctx: Pick<RunContext, 'run' | 'resume'>): GridChildSpec {
  return { config: ctx.run.base, set: ctx.run.sets, out: ctx.run.dir, resume: ctx.resume };
}

/** The default runner: grid_child.js in a child process (a crash there is one failed run), output into the run's log. */
export const spawnTrain: Runner = (ctx) =>
  new Promise((res, rej) => {
    const fd = openAppend(ctx.log, 'the run log');
    // the child exits when this grid dies (kill -9 included): an orphan would train on beside a rerun
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOAA_NUM_THREADS: process.env.LOAA_NUM_THREADS ?? String(ctx.threads),
      [PARENT_PID_ENV]: String(process.pid),
    };
    // several runs at once: each on its own cores, so OpenMP's binding does not stack them on one
    if (ctx.cpus.length && process.env.OMP_PLACES === undefined) env.OMP_PLACES = ctx.cpus.map((c) => `{${c}}`).join(',');
    const child = spawn(process.execPath, [GRID_CHILD, JSON.stringify(childSpec(ctx))], { stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    const kill = (): void => {
      child.kill('SIGTERM');
    };
    ctx.signal.addEventListener('abort', kill, { once: true });
    child.on('error', (e) => {
      ctx.signal.removeEventListener('abort', kill);
      rej(e);
    });
    child.on('exit', (code, sig) => {
      ctx.signal.removeEventListener('abort', kill);
      // the signal it was, not always SIGTERM's 143
      res(code ?? (sig ? 128 + (osConstants.signals[sig] ?? 15) : 1));
    });
  });

export interface GridEvent {
  kind: 'skip' | 'start' | 'done' | 'fail' | 'busy';
  run: PlannedRun;
  /** 1-based position among the runs this invocation starts */
  index: number;
  total: number;
  resume?: boolean;
  seconds?: number;
  code?: number;
  /** the last lines of the log of a failed run */
  tail?: string;
}

export interface GridRunOptions {
  out: string;
  jobs?: number;
  runner?: Runner;
  signal?: AbortSignal;
  onEvent?: (e: GridEvent) => void;
  /** cores to share among the jobs (default: all) */
  cores?: number;
}

export interface GridSummary {
  total: number;
  done: number;
  skipped: number;
  failed: string[];
  busy: string[];
  /** not started because the grid was stopped */
  left: number;
}

function tailOf(file: string, lines = 8): string {
  try {
    const text = readInputText(file, { what: 'the run log', noFollow: true }).replace(/\r/g, '\n');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-lines)
      .join('\n');
  } catch {
    return '';
  }
}

interface StatusRow {
  id: string;
  axes: Record<string, string>;
  state: RunState | 'failed';
  exit_code?: number;
  seconds?: number;
}

/**
 * Runs every run of the grid that is not done, `jobs` at a time. Never throws for a failed run: it is
 * reported (event `fail`), recorded in grid_status.json, and retried by the next invocation.
 */
export async function runGrid(g: Grid, runs: PlannedRun[], o: GridRunOptions): Promise<GridSummary> {
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  // the grid file beside the runs: `loaa report <out>` finds the tables there
  writeFileAtomic(join(out, 'grid.yaml'), readInput(g.file, { what: 'grid file' }));
  const jobs = Math.max(1, Math.min(o.jobs ?? g.jobs ?? 1, runs.length));
  const cores = o.cores ?? availableParallelism();
  const threads = Math.max(1, Math.floor(cores / jobs));
  const runner = o.runner ?? spawnTrain;
  const signal = o.signal ?? new AbortController().signal;
  const emit = o.onEvent ?? (() => {});
  const status = new Map<string, StatusRow>(runs.map((r) => [r.id, { id: r.id, axes: r.axes, state: runState(r) }]));
  const writeStatus = (): void => {
    writeFileAtomic(
      join(out, 'grid_status.json'),
      `${JSON.stringify({ grid: g.name, file: g.file, base: g.base, updated: new Date().toISOString(), runs: [...status.values()] }, null, 1)}\n`,
    );
  };
  const todo = runs.filter((r) => status.get(r.id)!.state !== 'done');
  const summary: GridSummary = { total: runs.length, done: 0, skipped: runs.length - todo.length, failed: [], busy: [], left: 0 };
  for (const r of runs) if (status.get(r.id)!.state === 'done') emit({ kind: 'skip', run: r, index: 0, total: todo.length });
  writeStatus();
  let next = 0;
  let started = 0;
  const worker = async (slot: number): Promise<void> => {
    while (next < todo.length && !signal.aborted) {
      const run = todo[next++]!;
      if (runDone(run.dir)) {
        status.get(run.id)!.state = 'done';
        summary.skipped++;
        continue;
      }
      if (!takeLock(run.dir)) {
        status.get(run.id)!.state = 'running';
        summary.busy.push(run.id);
        emit({ kind: 'busy', run, index: 0, total: todo.length });
        continue;
      }
      // another grid may have finished it between the check above and the lock
      if (runDone(run.dir)) {
        dropLock(run.dir);
        status.get(run.id)!.state = 'done';
        summary.skipped++;
        continue;
      }
      const index = ++started;
      const resume = runStarted(run.dir);
      const log = join(run.dir, 'train.log');
      const t0 = performance.now();
      try {
        writeFileAtomic(
          join(run.dir, 'grid_run.json'),
          `${JSON.stringify({ grid: g.name, grid_file: g.file, id: run.id, axes: run.axes, base: run.base, sets: run.sets, command: ['loaa', ...trainArgs({ run, resume })] }, null, 1)}\n`,
        );
        appendGuarded(log, 'the run log', `\n==== ${new Date().toISOString()} loaa grid: ${resume ? 'resuming' : 'starting'} ${run.id}\n`);
        status.get(run.id)!.state = 'running';
        writeStatus();
        emit({ kind: 'start', run, index, total: todo.length, resume });
        const cpus = jobs > 1 ? Array.from({ length: threads }, (_, k) => (slot * threads + k) % cores) : [];
        let code: number;
        try {
          code = await runner({ run, resume, log, threads, cpus, signal });
        } catch (e) {
          code = 1;
          appendGuarded(log, 'the run log', `loaa grid: could not run: ${(e as Error).message}\n`);
        }
        const seconds = (performance.now() - t0) / 1000;
        const row = status.get(run.id)!;
        row.seconds = seconds;
        if (code === 0 && runDone(run.dir)) {
          row.state = 'done';
          delete row.exit_code;
          summary.done++;
          emit({ kind: 'done', run, index, total: todo.length, seconds });
        } else {
          row.state = 'failed';
          row.exit_code = code;
          if (!signal.aborted) summary.failed.push(run.id);
          emit({ kind: 'fail', run, index, total: todo.length, seconds, code, tail: tailOf(log) });
        }
      } finally {
        dropLock(run.dir);
        writeStatus();
      }
    }
  };
  await Promise.all(Array.from({ length: jobs }, (_, s) => worker(s)));
  summary.left = todo.length - next;
  writeStatus();
  return summary;
}

/** The state of every run, for --dry-run and `loaa report`. */
export function gridStates(runs: PlannedRun[]): { run: PlannedRun; state: RunState }[] {
  return runs.map((run) => ({ run, state: runState(run) }));
}
