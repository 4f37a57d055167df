/**
 * Data-parallel scaling measurements for docs/scaling.md (run by hand; the numbers need a quiet
 * machine). Two reports:
 *
 *   node dist/src/bench/dist_scaling.js bytes [--arch A] [--tdim T] [--fdim F] [--classes C]
 *     all-reduce volume per step for each PEFT method: the trainable float32 bytes
 *   node dist/src/bench/dist_scaling.js speed --nproc N [--arch A] [--batch B] [--steps S] [--tdim T] [--fdim F]
 *     training steps/s of LoAA (attn 1x3 + ffn 3x1, r 36) with a global batch B split over N local
 *     ranks (cores / N threads each), through the launcher, the sharding, and the bucketed reduction.
 *     Inputs are random fbanks made once (data loading is left out: it runs on its own threads).
 */
import { AudioSpectrogramTransformer } from '../models/ast.js';
import { applyPeft } from '../peft/methods.js';
import { PEFT_METHODS, type PeftConfig } from '../peft/config.js';
import { countModel } from '../peft/params.js';
import { Adam } from '../optim/adam.js';
import { crossEntropy, getNumThreads, randint, randn } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { launchPlan, rankFromEnv } from '../distributed/env.js';
import { ProcessGroup } from '../distributed/group.js';
import { launchLocal } from '../distributed/launch.js';
import { GradientReducer, broadcastParameters } from '../distributed/reducer.js';
import { shardEpoch } from '../distributed/sampler.js';
import { parseFlags } from '../util/flags.js';

const args = process.argv.slice(2);
const FLAGS = {
  arch: { type: 'string', default: 'deit_tiny_distilled_patch16_224', help: 'the backbone architecture' },
  classes: { type: 'int', min: 1, default: 10, help: 'classes of the head' },
  fdim: { type: 'int', min: 16, default: 128, help: 'mel bins' },
  tdim: { type: 'int', min: 16, default: 128, help: 'frames' },
  nproc: { type: 'int', min: 1, max: 64, default: 1, help: 'speed: local ranks' },
  batch: { type: 'int', min: 1, default: 16, help: 'speed: the global batch' },
  steps: { type: 'int', min: 1, default: 6, help: 'speed: timed steps (after 2 warm-up steps)' },
} as const;
const { flags, positionals } = (() => {
  try {
    return parseFlags(args, FLAGS, 'src/bench/dist_scaling.ts');
  } catch (e) {
    process.stderr.write(`dist_scaling: ${(e as Error).message}\n`);
    process.exit(2);
  }
})();

const LOAA: PeftConfig = {
  method: 'loaa',
  adapters: [
    { position: 'attn', kernel: [1, 3], bottleneck: 36 },
    { position: 'ffn', kernel: [3, 1], bottleneck: 36 },
  ],
};

function build(method: PeftConfig): AudioSpectrogramTransformer {
  const model = new AudioSpectrogramTransformer(
    {
      arch: flags.arch,
      numClasses: flags.classes,
      melBins: flags.fdim,
      frames: flags.tdim,
      fstride: 16,
      tstride: 16,
    },
    { seed: 0 },
  );
  applyPeft(model, method, { seed: 0 });
  return model;
}

function bytes(): void {
  const rows = PEFT_METHODS.map((method) =>
    scope(() => {
      const model = build(method === 'loaa' ? LOAA : { method });
      const c = countModel(model);
      return { method, trainable: c.trainable, bytesPerStep: c.trainable * 4 };
    }),
  );
  process.stdout.write(`${JSON.stringify({ arch: flags.arch, tdim: flags.tdim, rows })}\n`);
}

async function speed(): Promise<void> {
  const cfg = rankFromEnv();
  if (!cfg) {
    const plan = launchPlan({ nproc: flags.nproc });
    if (plan) {
      const r = await launchLocal({ plan, script: process.argv[1]!, args });
      process.exit(r.code);
    }
  }
  const group = cfg ? ProcessGroup.join(cfg) : ProcessGroup.single();
  const batch = flags.batch;
  const steps = flags.steps;
  const warmup = 2;
  const model = build(LOAA);
  const params = model.parameters().filter((p) => p.requiresGrad);
  broadcastParameters(group, params);
  const optim = new Adam(params, { lr: 1e-4 });
  const reducer = new GradientReducer(group, params);
  const order = Array.from({ length: batch * (warmup + steps) }, (_, i) => i);
  const shards = shardEpoch(order, { rank: group.rank, worldSize: group.worldSize, batchSize: batch });
  const local = shards[0]!.indices.length;
  const x = randn([local, flags.tdim, flags.fdim], { seed: 1 + group.rank }).keep();
  const y = randint(0, flags.classes, [local], { seed: 2 + group.rank }).keep();
  let t0 = 0;
  let reduceMs = 0;
  for (let s = 0; s < warmup + steps; s++) {
    if (s === warmup) {
      group.barrier();
      t0 = performance.now();
      reduceMs = 0;
    }
    optim.zeroGrad();
    scope(() => crossEntropy(model.forward(x), y).backward());
    const r0 = performance.now();
    reducer.reduce(local, batch);
    reduceMs += performance.now() - r0;
    optim.step();
  }
  group.barrier();
  const seconds = (performance.now() - t0) / 1000;
  const [reduceSum] = group.sumNumbers([reduceMs]);
  if (group.isMain) {
    process.stdout.write(
      `${JSON.stringify({
        arch: flags.arch,
        ranks: group.worldSize,
        threadsPerRank: getNumThreads(),
        globalBatch: batch,
        steps,
        samplesPerSecond: Number(((batch * steps) / seconds).toFixed(2)),
        allReduceBytesPerStep: group.distributed ? reducer.bytesPerStep : 0,
        buckets: reducer.buckets.length,
        reduceMsPerStep: Number((reduceSum! / group.worldSize / steps).toFixed(1)),
      })}\n`,
    );
  }
  group.close();
}

const mode = positionals[0];
if (mode === 'bytes') bytes();
else if (mode === 'speed') await speed();
else {
  process.stderr.write('usage: scaling.js bytes|speed [--nproc N] [--arch A] [--batch B] [--steps S]\n');
  process.exit(2);
}
