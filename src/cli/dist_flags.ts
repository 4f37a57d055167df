/**
 * The data-parallel flags that `train` and `cv` share, and the step both take before any training:
 * with --nproc / --nnodes (and no rank variables) the process becomes the launcher of its node's ranks,
 * which run the same command line without the launcher's flags; in a rank (torchrun's variables set,
 * by our launcher or torchrun) it joins the group.
 */
import { join } from 'node:path';
import { UsageError } from './command.js';
import type { FlagDef, FlagValues } from './define.js';
import type { Backend, DistFlags } from '../distributed/env.js';
import type { ProcessGroup } from '../distributed/group.js';
import type { ParallelHooks } from '../train/trainer.js';

export const DIST_BACKENDS = ['gloo', 'nccl', 'auto'] as const;

export const DIST_FLAGS = {
  nproc: {
    type: 'int',
    min: 0,
    value: 'N',
    help: "data-parallel training on N local ranks (PyTorch's c10d), available cores / N threads\neach; the batch size stays the global one, so the steps are the single-process ones. Rank 0\nwrites the run directory; the other ranks log to <out>/logs/rank<R>.log. A process started by\ntorchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set) joins its group without these flags",
  },
  nnodes: { type: 'int', min: 0, value: 'M', help: 'several machines: run the same command on each (with --node-rank 0..M-1)' },
  'node-rank': { type: 'int', min: 0, value: 'K', help: "this machine's index, 0..M-1" },
  'master-addr': { type: 'string', value: 'A', help: 'the address of node 0 (or MASTER_ADDR)' },
  'master-port': { type: 'int', min: 0, value: 'P', help: 'the port on node 0 (or MASTER_PORT)' },
  'dist-timeout': { type: 'number', positive: true, value: 'S', help: 'seconds a rank waits for the others before failing (default 300)' },
  'dist-backend': {
    type: 'string',
    value: 'B',
    choices: DIST_BACKENDS,
    help: 'gloo (CPUs), nccl (a GPU per rank: rank on cuda:LOCAL_RANK) or auto (default, or\nLOAA_DIST_BACKEND): nccl when train.device is CUDA and there is a GPU for each local\nrank, else gloo',
  },
} as const satisfies Record<string, FlagDef>;

/** The launcher's flags, which its ranks must not see again. */
const LAUNCH_FLAGS = ['nproc', 'nnodes', 'node-rank', 'master-addr', 'master-port'].map((f) => `--${f}`);

/** The flags' values as parsed and typed from DIST_FLAGS. */
type Flags = Partial<FlagValues<typeof DIST_FLAGS>>;

/** The distributed flags, checked (before any recipe is read). */
export function distFlags(flags: Flags): DistFlags {
  const d = {
    nproc: flags.nproc,
    nnodes: flags.nnodes,
    nodeRank: flags['node-rank'],
    masterAddr: flags['master-addr'],
    masterPort: flags['master-port'],
    timeout: flags['dist-timeout'],
  };
  const nnodes = d.nnodes ?? 1;
  if ((d.nproc ?? 1) < 1) throw new UsageError('--nproc: expected at least 1');
  if (nnodes > 1 && !d.masterAddr && !process.env.MASTER_ADDR)
    throw new UsageError('--master-addr: required with --nnodes > 1 (the address of node 0), or set MASTER_ADDR');
  return d;
}

/**
 * --dist-backend (or LOAA_DIST_BACKEND), `auto` resolved: NCCL for a CUDA train.device when this
 * node has a GPU for each of its `ranksHere` ranks (NCCL refuses two ranks on one GPU), Gloo
 * otherwise. `gpus` defaults to the visible CUDA devices.
 */
export async function resolveBackend(
  flag: string | undefined,
  device: string,
  env: NodeJS.ProcessEnv = process.env,
  o: { ranksHere?: number; gpus?: number } = {},
): Promise<Backend> {
  const raw = flag ?? (env.LOAA_DIST_BACKEND || 'auto');
  if (raw === 'gloo' || raw === 'nccl') return raw;
  if (raw !== 'auto')
    throw new UsageError(
      `${flag !== undefined ? '--dist-backend' : 'LOAA_DIST_BACKEND'}: expected gloo, nccl or auto, got ${JSON.stringify(raw)}`,
    );
  if (device !== 'auto' && !device.startsWith('cuda')) return 'gloo';
  const gpus = o.gpus ?? (await import('../tensor/device.js')).cudaDeviceCount();
  return gpus >= 1 && gpus >= (o.ranksHere ?? 1) ? 'nccl' : 'gloo';
}

export interface Distributed {
  /** this process launched the ranks: their exit status */
  launched: number | null;
  group?: ProcessGroup;
  /** the trainer's hooks for one run (one per cv fold: each builds its own gradient buckets) */
  hooks?: () => ParallelHooks;
}

/**
 * Data parallelism for `command` (train, cv): launches the ranks, joins a group, or (no flags, no
 * rank variables) neither. `device` is the recipe's train.device, for `--dist-backend auto`.
 */
export async function distributed(command: string, argv: string[], flags: Flags & { out?: string }, device: string): Promise<Distributed> {
  const { launchPlan, rankFromEnv } = await import('../distributed/env.js');
  const f = distFlags(flags);
  // the ranks on this node: the launcher's --nproc, or a rank's LOCAL_WORLD_SIZE (torchrun's)
  const ranksHere = Number(
    process.env.LOCAL_WORLD_SIZE || (process.env.RANK !== undefined ? process.env.WORLD_SIZE : undefined) || f.nproc || 1,
  );
  const d = { ...f, backend: await resolveBackend(flags['dist-backend'], device, process.env, { ranksHere }) };
  let cfg: ReturnType<typeof rankFromEnv>;
  try {
    cfg = rankFromEnv(process.env, d);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (cfg === null) {
    let plan: ReturnType<typeof launchPlan>;
    try {
      plan = launchPlan(d);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (plan === null) return { launched: null };
    const { launchLocal } = await import('../distributed/launch.js');
    // the ranks run this same command without the launcher's flags (the parser has checked that
    // each of them has its value, inline or next); nothing after `--` is a flag
    const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
    const drop = new Set<number>();
    argv.slice(0, end).forEach((tok, i) => {
      if (!LAUNCH_FLAGS.includes(tok.split('=')[0]!)) return;
      drop.add(i);
      if (!tok.includes('=')) drop.add(i + 1);
    });
    const rest = argv.filter((_, i) => !drop.has(i));
    const r = await launchLocal({ plan, script: process.argv[1]!, args: [command, ...rest], logDir: join(flags.out!, 'logs') });
    return { launched: r.code };
  }
  const { ProcessGroup } = await import('../distributed/group.js');
  const { parallelHooks } = await import('../distributed/hooks.js');
  const group = ProcessGroup.join(cfg);
  return { launched: null, group, hooks: () => parallelHooks(group) };
}
