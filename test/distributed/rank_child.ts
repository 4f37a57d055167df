/**
 * One rank of the dist tests (run as a child process with torchrun's environment, or alone as the
 * single-process reference). Modes:
 *   collectives            checks allreduce / broadcast / allgather / barrier and prints a JSON line
 *   evalrows --n N         each rank makes the evaluation rows of its evalShard of N clips (values
 *                          a function of the clip's position; ranks with an odd rank give soft
 *                          targets when --soft) and gathers them; rank 0 prints the result as JSON
 *   train [flags]          a small two-layer classifier trained with sharded batches and bucketed
 *                          gradient all-reduce; rank 0 writes the final parameters and the gathered
 *                          evaluation logits as JSON (`--out`), and a checkpoint after every step
 *                          (`--ckpt DIR`, `--resume` continues from it, with any world size);
 *                          `--no-reduce` skips the gradient all-reduce (the tests' control)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { Adam } from '../../src/optim/adam.js';
import { SGD } from '../../src/optim/sgd.js';
import type { GroupOptions, Optimizer } from '../../src/optim/optimizer.js';
import { crossEntropy, full, randint, randn, tensor } from '../../src/tensor/functional.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { scope } from '../../src/tensor/scope.js';
import { Rng } from '../../src/audio/rng.js';
import { writeFileAtomic } from '../../src/util/fs.js';
import { rankFromEnv } from '../../src/distributed/env.js';
import { ProcessGroup } from '../../src/distributed/group.js';
import { GradientReducer, broadcastParameters } from '../../src/distributed/reducer.js';
import { evalShard, shardEpoch } from '../../src/distributed/sampler.js';
import { gatherRows } from '../../src/distributed/gather.js';
import { gatherEvalRows } from '../../src/distributed/hooks.js';
import { evalRowsAt } from './eval_rows.js';

const args = process.argv.slice(2);
const mode = args[0];
const flag = (name: string, dflt?: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};

let group = ProcessGroup.single();

function collectives(): void {
  const r = group.rank;
  const W = group.worldSize;
  const out: Record<string, unknown> = { rank: r, worldSize: W };
  scope(() => {
    const a = full([5], r + 1);
    group.allReduceSum([a]);
    out.allreduce = a.toArray();
    const b = tensor(Float32Array.from([r * 10, r * 10 + 1]), [2]);
    group.broadcast([b], W - 1);
    out.broadcast = b.toArray();
    const g = group.allGather(full([2, 2], r));
    out.allgather = g.map((t) => t.toArray());
    out.sums = group.sumNumbers([r, 1, 0.5]);
    group.barrier();
  });
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

class Net extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(seed: number) {
    super();
    this.fc1 = this.child('fc1', new Linear(6, 16, { seed }));
    this.fc2 = this.child('fc2', new Linear(16, 3, { seed: seed + 7 }));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).gelu());
  }
}

const N_TRAIN = 20;
const N_EVAL = 11;

function epochOrder(n: number, seed: number, epoch: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed * 1000 + epoch);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.randint(0, i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx;
}

function evalrows(): void {
  const n = Number(flag('n', '5'));
  const soft = args.includes('--soft') && group.rank % 2 === 1;
  const rows = evalRowsAt(evalShard(n, group.rank, group.worldSize), { soft });
  const all = gatherEvalRows(group, rows, n);
  if (group.isMain) {
    process.stdout.write(
      `${JSON.stringify({ logits: Array.from(all.logits), targets: Array.from(all.targets), labels: Array.from(all.labels), lossSum: all.lossSum, soft: all.soft })}\n`,
    );
  }
}

interface Checkpoint {
  step: number;
  params: number[][];
  opt: string;
}

function train(): void {
  const steps = Number(flag('steps', '5'));
  const batch = Number(flag('batch', '8'));
  const sleepMs = Number(flag('sleep', '0'));
  const ckpt = flag('ckpt');
  const optName = flag('opt', 'sgd');
  // Ranks start from different weights on purpose: the broadcast from rank 0 must fix that.
  const net = new Net(11 + group.rank * 100);
  const params = net.parameters();
  const opt: Optimizer<GroupOptions> = optName === 'adam' ? new Adam(params, { lr: 0.01 }) : new SGD(params, { lr: 0.1, momentum: 0.9 });
  const x = randn([N_TRAIN, 6], { seed: 5 }).keep();
  const y = randint(0, 3, [N_TRAIN], { seed: 6 }).keep();
  const xe = randn([N_EVAL, 6], { seed: 7 }).keep();
  let start = 0;
  if (ckpt && args.includes('--resume') && existsSync(join(ckpt, 'ckpt.json'))) {
    const c = JSON.parse(readFileSync(join(ckpt, 'ckpt.json'), 'utf8')) as Checkpoint;
    scope(() =>
      params.forEach((p, i) => {
        p.detach().copy_(tensor(Float32Array.from(c.params[i]!), p.shape));
      }),
    );
    opt.loadSafetensors(join(ckpt, c.opt));
    start = c.step;
  } else {
    broadcastParameters(group, params);
  }
  const reducer = new GradientReducer(group, params, Number(flag('bucket', String(1 << 20))));
  const perEpoch = Math.ceil(N_TRAIN / batch);
  for (let step = start; step < steps; step++) {
    const epoch = Math.floor(step / perEpoch);
    const shard = shardEpoch(epochOrder(N_TRAIN, 3, epoch), { rank: group.rank, worldSize: group.worldSize, batchSize: batch })[
      step % perEpoch
    ]!;
    opt.zeroGrad();
    scope(() => {
      if (shard.indices.length > 0) {
        const idx = tensor(Int32Array.from(shard.indices), [shard.indices.length], 'int32').to('int64');
        const loss = crossEntropy(net.forward(x.indexSelect(0, idx)), y.indexSelect(0, idx));
        loss.backward();
      }
    });
    if (!args.includes('--no-reduce')) reducer.reduce(shard.indices.length, shard.globalCount);
    opt.step();
    if (ckpt && group.isMain) {
      const name = `opt-${step + 1}.safetensors`;
      opt.saveSafetensors(join(ckpt, name));
      const c: Checkpoint = { step: step + 1, params: params.map((p) => p.toArray()), opt: name };
      writeFileAtomic(join(ckpt, 'ckpt.json'), JSON.stringify(c));
    }
    if (sleepMs) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, sleepMs);
  }
  // Sharded evaluation, gathered back into clip order.
  const logits = scope(() => {
    const mine = evalShard(N_EVAL, group.rank, group.worldSize);
    const idx = tensor(Int32Array.from(mine), [mine.length], 'int32').to('int64');
    const local = net.forward(xe.indexSelect(0, idx)).detach();
    return gatherRows(group, local, N_EVAL).toArray();
  });
  const out = flag('out');
  if (out && group.isMain) {
    writeFileAtomic(
      out,
      JSON.stringify({
        params: params.map((p) => p.toArray()),
        logits,
        bytesPerStep: reducer.bytesPerStep,
        buckets: reducer.buckets.length,
        allReducedBytes: group.allReducedBytes,
      }),
    );
  }
}

try {
  const cfg = rankFromEnv();
  if (cfg) group = ProcessGroup.join(cfg);
  if (mode === 'collectives') collectives();
  else if (mode === 'train') train();
  else if (mode === 'evalrows') evalrows();
  else throw new Error(`rank_child: unknown mode ${mode}`);
  group.close();
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}
