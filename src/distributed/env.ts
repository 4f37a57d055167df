/**
 * torchrun's contract: a process is one rank of a group when RANK and WORLD_SIZE are in its
 * environment (with MASTER_ADDR, MASTER_PORT, LOCAL_RANK, LOCAL_WORLD_SIZE), and `--nproc N` /
 * `--nnodes` / `--node-rank` / `--master-addr` / `--master-port` ask a launcher to start ranks on this
 * node. Flags and variables resolve here, to one `DistConfig` per rank.
 */
import { availableParallelism } from 'node:os';

export type Backend = 'gloo' | 'nccl';

export interface DistConfig {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  backend: Backend;
  /** how long a collective or the rendezvous may wait for the others (default 5 min) */
  timeoutMs: number;
  /** address this rank's Gloo device binds to (LOAA_DIST_HOST); default: by the master's address */
  host?: string;
  /** or the interface (GLOO_SOCKET_IFNAME, as torch.distributed reads it) */
  iface?: string;
}

/** What a launcher on one node starts: `nproc` ranks of a `nnodes * nproc` group. */
export interface LaunchPlan {
  nproc: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number | null; // null: the launcher picks a free port (single node only)
  timeoutMs: number;
  backend: Backend;
}

export interface DistFlags {
  nproc?: number;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  /** seconds */
  timeout?: number;
  backend?: string;
}

export const DEFAULT_TIMEOUT_MS = 5 * 60_000;

function int(name: string, raw: string | number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const v = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${name}: expected an integer in ${min}..${max === Number.MAX_SAFE_INTEGER ? 'inf' : max}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

function backendOf(name: string, raw: string | undefined): Backend {
  const b = raw ?? 'gloo';
  if (b !== 'gloo' && b !== 'nccl') throw new Error(`${name}: backend must be gloo or nccl, not ${JSON.stringify(b)}`);
  return b;
}

function timeoutOf(flags: DistFlags, env: NodeJS.ProcessEnv): number {
  const fromFlag = flags.timeout;
  if (fromFlag !== undefined) {
    if (!(fromFlag > 0)) throw new Error(`--dist-timeout: expected a positive number of seconds, got ${fromFlag}`);
    return Math.round(fromFlag * 1000);
  }
  const raw = env.LOAA_DIST_TIMEOUT;
  if (raw === undefined || raw === '') return DEFAULT_TIMEOUT_MS;
  const s = Number(raw);
  if (!(s > 0)) throw new Error(`LOAA_DIST_TIMEOUT: expected a positive number of seconds, got ${JSON.stringify(raw)}`);
  return Math.round(s * 1000);
}

/** This process's rank when a launcher (ours or torchrun) started it; null for a plain run. */
export function rankFromEnv(env: NodeJS.ProcessEnv = process.env, flags: DistFlags = {}): DistConfig | null {
  if (env.RANK === undefined && env.WORLD_SIZE === undefined) return null;
  const worldSize = int('WORLD_SIZE', env.WORLD_SIZE, 1);
  const rank = int('RANK', env.RANK, 0);
  if (worldSize === undefined || rank === undefined)
    throw new Error('RANK and WORLD_SIZE: a rank needs both (torchrun sets them together)');
  if (rank >= worldSize) throw new Error(`RANK: ${rank} is not below WORLD_SIZE ${worldSize}`);
  const localWorldSize = int('LOCAL_WORLD_SIZE', env.LOCAL_WORLD_SIZE, 1) ?? worldSize;
  const localRank = int('LOCAL_RANK', env.LOCAL_RANK, 0) ?? rank % localWorldSize;
  if (localRank >= localWorldSize) throw new Error(`LOCAL_RANK: ${localRank} is not below LOCAL_WORLD_SIZE ${localWorldSize}`);
  const masterAddr = env.MASTER_ADDR || (worldSize === 1 ? '127.0.0.1' : undefined);
  if (!masterAddr) throw new Error('MASTER_ADDR: not set (the address of the rank-0 node)');
  const masterPort = int('MASTER_PORT', env.MASTER_PORT, 1, 65535) ?? 29500;
  return {
    rank,
    worldSize,
    localRank,
    localWorldSize,
    nodeRank: int('GROUP_RANK', env.GROUP_RANK, 0) ?? Math.floor(rank / localWorldSize),
    masterAddr,
    masterPort,
    backend: backendOf('LOAA_DIST_BACKEND', flags.backend ?? env.LOAA_DIST_BACKEND),
    timeoutMs: timeoutOf(flags, env),
    host: env.LOAA_DIST_HOST || undefined,
    iface: env.GLOO_SOCKET_IFNAME || undefined,
  };
}

/** The launch this node should do, or null when the flags ask for one process. */
export function launchPlan(flags: DistFlags, env: NodeJS.ProcessEnv = process.env): LaunchPlan | null {
  const nproc = int('--nproc', flags.nproc, 1) ?? 1;
  const nnodes = int('--nnodes', flags.nnodes, 1) ?? 1;
  if (nproc === 1 && nnodes === 1) return null;
  const nodeRank = int('--node-rank', flags.nodeRank, 0) ?? 0;
  if (nodeRank >= nnodes) throw new Error(`--node-rank: ${nodeRank} is not below --nnodes ${nnodes}`);
  const masterAddr = flags.masterAddr ?? env.MASTER_ADDR ?? (nnodes === 1 ? '127.0.0.1' : undefined);
  if (!masterAddr) throw new Error('--master-addr: required with --nnodes > 1 (the address of node 0), or set MASTER_ADDR');
  const masterPort = int('--master-port', flags.masterPort ?? env.MASTER_PORT, 1, 65535) ?? (nnodes === 1 ? null : 29500);
  return {
    nproc,
    nnodes,
    nodeRank,
    masterAddr,
    masterPort,
    timeoutMs: timeoutOf(flags, env),
    backend: backendOf('--backend', flags.backend),
  };
}

/** Threads per rank: the cores shared evenly, at least one. */
export function threadsPerRank(nproc: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / nproc));
}

/** The environment of local rank `localRank` under `plan` (what torchrun would set, plus loaa's own). */
export function rankEnv(plan: LaunchPlan & { masterPort: number }, localRank: number, threads: number): Record<string, string> {
  return {
    RANK: String(plan.nodeRank * plan.nproc + localRank),
    WORLD_SIZE: String(plan.nnodes * plan.nproc),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(plan.nproc),
    GROUP_RANK: String(plan.nodeRank),
    MASTER_ADDR: plan.masterAddr,
    MASTER_PORT: String(plan.masterPort),
    LOAA_DIST_TIMEOUT: String(plan.timeoutMs / 1000),
    LOAA_DIST_BACKEND: plan.backend,
    // The launcher's own thread settings (set when it loaded the addon) must not leak into its ranks.
    LOAA_NUM_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
  };
}
