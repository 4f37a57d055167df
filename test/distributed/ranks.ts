/** Starting the dist tests' ranks (rank_child.js) as child processes with torchrun's variables. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { nativeDist } from '../../src/distributed/native.js';

export const child = join(repoRoot, 'dist', 'test', 'distributed', 'rank_child.js');

/** Why the Gloo tests cannot run here, or null when they can. */
export function glooSkip(): string | false {
  try {
    return nativeDist().available.gloo ? false : 'the addon was built without Gloo (install libgloo-dev and rebuild)';
  } catch (e) {
    return (e as Error).message;
  }
}

export interface RankRun {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Started {
  procs: ChildProcess[];
  done: Promise<RankRun[]>;
}

/** Starts `worldSize` ranks of `rank_child.js args` (1 thread each); `wrap` prefixes a rank's command. */
export function startRanks(
  worldSize: number,
  port: number,
  args: string[],
  opts: {
    env?: (rank: number) => Record<string, string>;
    wrap?: (rank: number) => string[];
    masterAddr?: string;
  } = {},
): Started {
  const t0 = Date.now();
  const procs: ChildProcess[] = [];
  const runs = Array.from(
    { length: worldSize },
    (_, rank) =>
      new Promise<RankRun>((resolve) => {
        const env = {
          ...process.env,
          RANK: String(rank),
          WORLD_SIZE: String(worldSize),
          MASTER_ADDR: opts.masterAddr ?? '127.0.0.1',
          MASTER_PORT: String(port),
          LOAA_NUM_THREADS: '1',
          OMP_NUM_THREADS: '1',
          LOAA_DIST_TIMEOUT: '30',
          ...(opts.env?.(rank) ?? {}),
        };
        const cmd = [...(opts.wrap?.(rank) ?? []), process.execPath, child, ...args];
        const p = spawn(cmd[0]!, cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
        procs.push(p);
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('close', (code, signal) => resolve({ rank, code, signal, stdout, stderr, ms: Date.now() - t0 }));
      }),
  );
  return { procs, done: Promise.all(runs) };
}

/** Runs a single process (no rank variables): the reference. */
export function runSingle(args: string[]): Promise<RankRun> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOAA_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
    for (const k of ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT']) delete env[k];
    const p = spawn(process.execPath, [child, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code, signal) => resolve({ rank: 0, code, signal, stdout, stderr, ms: Date.now() - t0 }));
  });
}

export interface TrainResult {
  params: number[][];
  logits: number[];
  bytesPerStep: number;
  buckets: number;
  allReducedBytes: number;
}

export function readResult(path: string): TrainResult {
  return JSON.parse(readFileSync(path, 'utf8')) as TrainResult;
}

export function maxAbsDiff(a: number[][] | number[], b: number[][] | number[]): number {
  const fa = (a as unknown[]).flat(2) as number[];
  const fb = (b as unknown[]).flat(2) as number[];
  if (fa.length !== fb.length) throw new Error(`maxAbsDiff: ${fa.length} vs ${fb.length} numbers`);
  return fa.reduce((m, x, i) => Math.max(m, Math.abs(x - fb[i]!)), 0);
}

export function assertOk(runs: RankRun[]): void {
  for (const r of runs) {
    if (r.code !== 0) throw new Error(`rank ${r.rank} exited with ${r.code ?? r.signal}: ${r.stderr}`);
  }
}
