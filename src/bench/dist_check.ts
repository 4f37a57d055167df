/**
 * A two-rank smoke check of a backend on real hardware (scripts/gpu-check.sh runs it with NCCL on
 * CUDA; test/distributed/check.test.ts with Gloo on the CPU):
 *
 *   node dist/src/bench/dist_check.js [--backend gloo|nccl] [--nproc 2] [--device cpu|cuda] [--mib 4]
 *                               [--dist-timeout S] [--no-reduce]
 *
 * launches `--nproc` local ranks (1: this process alone, in a native group of one: NCCL's own
 * code path on a machine with one GPU, where NCCL refuses two ranks) that (1) all-reduce a `--mib` MiB float32 tensor on their device
 * (NCCL: cuda:LOCAL_RANK mod GPUs) and time it, and (2) take 5 data-parallel SGD steps of a small
 * two-layer net with a global batch of 8 (sharded, bucketed gradient all-reduce), which rank 0 compares
 * with the same steps taken by one process on the full batch. Rank 0 prints one JSON line:
 * { ok, backend, ranks, devices, allreduce_ms, allreduce_bytes, allreduce_correct, steps_equal_single,
 *   max_param_diff } (or { ok: false, error } when a rank failed). `--no-reduce` skips the gradient
 * all-reduce: the check must then report steps_equal_single false (its own control).
 */
import { crossEntropy, randint, randn, tensor, full } from '../tensor/functional.js';
import type { Tensor } from '../tensor/tensor.js';
import { scope } from '../tensor/scope.js';
import { SGD } from '../optim/sgd.js';
import { launchPlan, rankFromEnv, type Backend } from '../distributed/env.js';
import { ProcessGroup } from '../distributed/group.js';
import { freePort, launchLocal } from '../distributed/launch.js';
import { GradientReducer, broadcastParameters } from '../distributed/reducer.js';
import { shardEpoch } from '../distributed/sampler.js';
import { parseFlags, type FlagValues } from '../util/flags.js';

const args = process.argv.slice(2);
const FLAGS = {
  backend: { type: 'string', choices: ['gloo', 'nccl'], default: 'gloo', help: 'the c10d backend' },
  nproc: { type: 'int', min: 1, max: 64, default: 2, help: 'local ranks (1: this process alone)' },
  device: { type: 'string', default: 'cpu', help: 'the device of a Gloo rank (NCCL: cuda:LOCAL_RANK mod GPUs)' },
  mib: { type: 'number', positive: true, default: 4, help: 'MiB all-reduced' },
  'dist-timeout': { type: 'number', positive: true, default: 120, help: 'seconds a rank waits for the others' },
  'no-reduce': { type: 'boolean', help: 'skip the gradient all-reduce (the control: steps must differ)' },
} as const;
// parsed in main, so that a bad flag is reported like any other failure (one JSON line)
let flags!: FlagValues<typeof FLAGS>;

const STEPS = 5;
const BATCH = 8;
const N = 16;
/** how far the 2-rank weights may be from one process's (float rounding of a sum in another order) */
const TOLERANCE = 1e-5;

/** A 16 -> 32 -> 4 net as plain leaf tensors on `device`, the same on every rank (seeded). */
function net(device: string, seed: number): Tensor[] {
  const shapes = [[16, 32], [32], [32, 4], [4]];
  return shapes.map((s, i) =>
    scope(() =>
      randn(s, { seed: seed + i })
        .mul(0.3)
        .to(null, device),
    )
      .requiresGrad_()
      .keep(),
  );
}

function forward(p: Tensor[], x: Tensor): Tensor {
  return x.matmul(p[0]!).add(p[1]!).gelu().matmul(p[2]!).add(p[3]!);
}

/** `steps` SGD steps over `order` in global batches of BATCH, this rank's shard of each. */
function train(p: Tensor[], x: Tensor, y: Tensor, group: ProcessGroup, reduce: boolean): void {
  const optim = new SGD(p, { lr: 0.1, momentum: 0.9 });
  const reducer = new GradientReducer(group, p, 512); // small buckets: several all-reduces per step
  const order = Array.from({ length: N }, (_, i) => i);
  const shards = shardEpoch(order, { rank: group.rank, worldSize: group.worldSize, batchSize: BATCH });
  for (let s = 0; s < STEPS; s++) {
    const shard = shards[s % shards.length]!;
    optim.zeroGrad();
    scope(() => {
      const idx = tensor(Int32Array.from(shard.indices), [shard.indices.length], 'int32').to('int64', x.device);
      crossEntropy(forward(p, x.indexSelect(0, idx)), y.indexSelect(0, idx)).backward();
    });
    if (reduce) reducer.reduce(shard.indices.length, shard.globalCount);
    optim.step();
  }
  optim.dispose?.();
}

/** This rank's part; rank 0 prints the report. Returns whether the check passed (as rank 0 saw it). */
function rank(group: ProcessGroup): boolean {
  const device = group.device === 'cpu' ? flags.device : group.device;
  const bytes = Math.round(flags.mib * 2 ** 20);
  const numel = Math.max(1, Math.floor(bytes / 4));
  // (1) all-reduce: each rank contributes rank + 1, so every element must end as W(W+1)/2
  const times: number[] = [];
  let correct = true;
  for (let i = 0; i < 12; i++) {
    scope(() => {
      const t = full([numel], group.rank + 1, { device });
      group.barrier();
      const t0 = performance.now();
      group.allReduceSum([t]);
      // the sum is read back, so an asynchronous device has finished it
      const first = t.narrow(0, 0, 1).item();
      if (i >= 2) times.push(performance.now() - t0);
      const W = group.worldSize;
      if (first !== (W * (W + 1)) / 2 || t.sum().item() !== (numel * W * (W + 1)) / 2) correct = false;
    });
  }
  // (2) data-parallel steps, then the single-process reference on rank 0
  const x = scope(() => randn([N, 16], { seed: 5 }).to(null, device)).keep();
  const y = scope(() => randint(0, 4, [N], { seed: 6 }).to(null, device)).keep();
  const p = net(device, 11 + group.rank * 100); // ranks differ until the broadcast
  broadcastParameters(group, p);
  train(p, x, y, group, !flags['no-reduce']);
  const devices = group.sumNumbers(
    Array.from({ length: group.worldSize }, (_, r) =>
      r === group.rank && device.startsWith('cuda') ? Number(device.split(':')[1] ?? 0) + 1 : 0,
    ),
  );
  if (!group.isMain) return true;
  const ref = net(device, 11);
  train(ref, x, y, ProcessGroup.single(), true);
  let diff = 0;
  p.forEach((t, i) => {
    const a = t.toFloat32();
    const b = ref[i]!.toFloat32();
    for (let k = 0; k < a.length; k++) diff = Math.max(diff, Math.abs(a[k]! - b[k]!));
  });
  const ms = times.reduce((a, b) => a + b, 0) / times.length;
  process.stdout.write(
    `${JSON.stringify({
      ok: correct && diff <= TOLERANCE,
      backend: group.distributed ? flags.backend : 'none',
      ranks: group.worldSize,
      devices: devices.map((d) => (d === 0 ? 'cpu' : `cuda:${d - 1}`)),
      allreduce_ms: Number(ms.toFixed(3)),
      allreduce_bytes: numel * 4,
      allreduce_correct: correct,
      steps_equal_single: diff <= TOLERANCE,
      max_param_diff: diff,
    })}\n`,
  );
  return correct && diff <= TOLERANCE;
}

async function main(): Promise<number> {
  flags = parseFlags(args, FLAGS, 'src/bench/dist_check.ts').flags;
  const backend = flags.backend as Backend;
  const timeout = flags['dist-timeout'];
  const nproc = flags.nproc;
  let cfg = rankFromEnv(process.env, { backend, timeout });
  if (cfg === null) {
    const plan = launchPlan({ nproc, backend, timeout });
    if (plan) return (await launchLocal({ plan, script: process.argv[1]!, args, graceMs: 10_000 })).code;
    cfg = rankFromEnv(
      { RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(await freePort()) },
      { backend, timeout },
    )!;
  }
  const group = ProcessGroup.join(cfg, { native: true });
  try {
    const ok = rank(group);
    group.close();
    if (!ok) return 1;
  } catch (e) {
    group.markFailed((e as Error).message);
    throw e;
  }
  return 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: (e as Error).message })}\n`);
  process.exitCode = 1;
}
