/**
 * The local launcher behind `--nproc N`: starts this node's ranks as child processes with torchrun's
 * environment (see env.ts) and `available cores / N` threads each, each rank on its own cores. Rank 0
 * of node 0 writes to this terminal; the others to `<logDir>/rank<R>.log`. When a rank fails, the
 * launcher says which and how, gives the others `graceMs` to fail on their own (their errors name the
 * lost rank), then stops them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { rankEnv, threadsPerRank, type LaunchPlan } from './env.js';
import { openOutputStream } from '../util/guarded_fs.js';
import { chooseGemm } from '../tensor/gemm.js';
import { allowedCpus } from '../native/env.js';
import { PARENT_PID_ENV } from '../util/lock.js';

export interface LaunchOptions {
  plan: LaunchPlan;
  /** the script every rank runs, and its arguments */
  script: string;
  args: string[];
  /** where ranks other than 0 write stdout and stderr (default: this terminal, lines prefixed) */
  logDir?: string;
  env?: NodeJS.ProcessEnv;
  /** how long the other ranks may take to fail by themselves after one failed (default 30 s) */
  graceMs?: number;
  /** the cores to share out (default: the ones this process may run on) */
  cores?: number;
}

export interface RankExit {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LaunchResult {
  /** 0 when every rank succeeded, else the first failure's status (1 for a signal) */
  code: number;
  exits: RankExit[];
  /** the first rank that failed, as the launcher saw it */
  firstFailure: RankExit | null;
  masterPort: number;
}

/** A free TCP port on `addr` (the store binds it moments later; collisions are retried by no one). */
export function freePort(addr = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, addr, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export function describeExit(e: RankExit): string {
  return e.signal ? `was killed by ${e.signal}` : `exited with status ${e.code}`;
}

export async function launchLocal(o: LaunchOptions): Promise<LaunchResult> {
  const base = o.env ?? process.env;
  const masterPort = o.plan.masterPort ?? (await freePort(o.plan.masterAddr));
  const plan = { ...o.plan, masterPort };
  const cpus = allowedCpus('self');
  const cores = o.cores ?? cpus?.length ?? threadsPerRank(1);
  const threads = threadsPerRank(plan.nproc, cores);
  // every rank computes with one fp32 GEMM kernel, chosen here once: ranks that each measured could
  // choose differently (they time at the same moment) and round every step differently
  const gemm = plan.backend === 'nccl' || base.LOAA_GEMM ? null : chooseGemm({ env: base, warn: () => {} }).kernel;
  if (o.logDir) mkdirSync(o.logDir, { recursive: true });

  const children: { rank: number; child: ChildProcess }[] = [];
  const exits: RankExit[] = [];
  let firstFailure: RankExit | null = null;
  let stopTimer: NodeJS.Timeout | null = null;

  const stopAll = (signal: NodeJS.Signals): void => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const forward = (sig: NodeJS.Signals) => () => stopAll(sig);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);

  const done = new Promise<void>((resolve) => {
    let left = plan.nproc;
    for (let local = 0; local < plan.nproc; local++) {
      const env: NodeJS.ProcessEnv = { ...base, ...rankEnv(plan, local, threads) };
      // every rank watches this launcher (exitWithParent): after kill -9 of the launcher they stop
      // within a second instead of training on as orphans
      env[PARENT_PID_ENV] = String(process.pid);
      if (gemm) env.LOAA_GEMM = gemm;
      // Each rank on its own cores: OpenMP would otherwise bind every rank's first thread to core 0.
      if (cpus && base.OMP_PLACES === undefined && cpus.length >= plan.nproc * threads) {
        env.OMP_PLACES = cpus
          .slice(local * threads, (local + 1) * threads)
          .map((c) => `{${c}}`)
          .join(',');
      }
      const rank = Number(env.RANK);
      const loud = rank === 0;
      const child = spawn(process.execPath, [o.script, ...o.args], { env, stdio: loud ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
      if (!loud) {
        if (o.logDir) {
          // never through a link planted at the log's name, never onto a device or FIFO
          const log = openOutputStream(join(o.logDir, `rank${rank}.log`), 'rank log');
          child.stdout!.pipe(log);
          child.stderr!.pipe(log);
        } else {
          const prefix = (s: NodeJS.WritableStream) => (buf: Buffer) => s.write(buf.toString().replace(/^(?=.)/gm, `[rank ${rank}] `));
          child.stdout!.on('data', prefix(process.stderr));
          child.stderr!.on('data', prefix(process.stderr));
        }
      }
      children.push({ rank, child });
      child.on('exit', (code, signal) => {
        const e: RankExit = { rank, code, signal };
        exits.push(e);
        if ((code !== 0 || signal) && !firstFailure) {
          firstFailure = e;
          process.stderr.write(`loaa launch: rank ${rank} (pid ${child.pid}) ${describeExit(e)}; stopping the other ranks\n`);
          const grace = o.graceMs ?? 30_000;
          stopTimer = setTimeout(() => {
            stopAll('SIGTERM');
            setTimeout(() => stopAll('SIGKILL'), 5000).unref();
          }, grace);
          stopTimer.unref();
        }
        if (--left === 0) resolve();
      });
    }
  });
  await done;
  if (stopTimer) clearTimeout(stopTimer);
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  exits.sort((a, b) => a.rank - b.rank);
  const f = firstFailure as RankExit | null;
  return { code: f ? (f.code && f.code !== 0 ? f.code : 1) : 0, exits, firstFailure: f, masterPort };
}
