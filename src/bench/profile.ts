/**
 * Where the time of some work goes, per op: libtorch's RecordFunction callbacks through the addon's
 * generic profilerStart/profilerStop (native/profiler.cc), aggregated by op name. `profileStep`
 * profiles one LoAA training step of the table's geometry for `loaa bench --profile`.
 */
import { native } from '../native/binding.js';
import { AudioSpectrogramTransformer } from '../models/ast.js';
import { applyPeft } from '../peft/methods.js';
import { Adam } from '../optim/adam.js';
import type { GroupOptions, Optimizer } from '../optim/optimizer.js';
import { autocast } from '../tensor/autocast.js';
import { crossEntropy, manualSeed, randint, randn } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { chooseGemm } from '../tensor/gemm.js';
import { fmt } from './summary.js';
import { ADAPTERS, type Precision } from './speed_rows.js';

export interface OpTime {
  name: string;
  calls: number;
  /** including the ops it called */
  totalMs: number;
  /** excluding the ops it called: these add up to the profiled time */
  selfMs: number;
}

export interface Profile {
  /** wall time of the profiled work */
  wallMs: number;
  /** by self time, largest first */
  ops: OpTime[];
}

interface RawOp {
  name: string;
  calls: number;
  totalUs: number;
  selfUs: number;
}

/**
 * Runs `fn` with libtorch's op recording on; one profile at a time. With `shapes`, an op's calls are
 * split by the sizes of their tensor inputs ("aten::mm [516, 768] [768, 3072]"), to tell which call
 * of a common op is the costly one.
 */
export function profileOps(fn: () => void, opts: { shapes?: boolean } = {}): Profile {
  const ops = native.ops;
  ops.profilerStart(opts.shapes ?? false);
  const t0 = performance.now();
  try {
    fn();
  } catch (e) {
    ops.profilerStop();
    throw e;
  }
  const wall = performance.now() - t0;
  const raw = ops.profilerStop() as RawOp[];
  return {
    wallMs: wall,
    ops: raw
      .map((o) => ({ name: o.name, calls: o.calls, totalMs: o.totalUs / 1000, selfMs: o.selfUs / 1000 }))
      .sort((a, b) => b.selfMs - a.selfMs),
  };
}

/** Profiles the second of two LoAA training steps (the first allocates and casts). */
export function profileStep(o: { batch: number; precision: Exclude<Precision, 'fp16'>; shapes?: boolean }): Profile {
  manualSeed(0);
  // fp32 GEMMs through the kernel training would use on this machine (they show as loaa::mm_<kernel>)
  if (o.precision === 'fp32') chooseGemm();
  const model = new AudioSpectrogramTransformer(
    { arch: 'deit_base_distilled_patch16_384', numClasses: 50, melBins: 128, frames: 512, fstride: 16, tstride: 16 },
    { seed: 0 },
  );
  applyPeft(model, { method: 'loaa', adapters: ADAPTERS }, { seed: 0 });
  const opt = new Adam(
    model.trainableParameters().map(([, p]) => p),
    { lr: 1e-4 },
  ) as unknown as Optimizer<GroupOptions>;
  const x = randn([o.batch, 512, 128], { seed: 3 }).keep();
  const y = randint(0, 50, [o.batch], { seed: 4 }).keep();
  if (o.precision === 'bf16') model.castFrozenWeights('bfloat16');
  const step = (): void =>
    scope(() => {
      opt.zeroGrad();
      const loss =
        o.precision === 'bf16' ? autocast('cpu', 'bfloat16', () => crossEntropy(model.forward(x), y)) : crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
    });
  try {
    step();
    return profileOps(step, { shapes: o.shapes });
  } finally {
    x.dispose();
    y.dispose();
    opt.dispose();
    model.dispose();
  }
}

/** The top `n` ops by self time as markdown, with each one's share of the profiled wall time. */
export function profileTable(p: Profile, n = 25): string {
  const selfSum = p.ops.reduce((s, o) => s + o.selfMs, 0);
  const lines = ['| op | calls | self ms | total ms | share of step |', '|---|---|---|---|---|'];
  for (const o of p.ops.slice(0, n))
    lines.push(`| ${o.name} | ${o.calls} | ${fmt(o.selfMs)} | ${fmt(o.totalMs)} | ${((100 * o.selfMs) / p.wallMs).toFixed(1)}% |`);
  const rest = p.ops.slice(n);
  if (rest.length)
    lines.push(
      `| (${rest.length} more ops) | ${rest.reduce((s, o) => s + o.calls, 0)} | ${fmt(rest.reduce((s, o) => s + o.selfMs, 0))} | - | ${((100 * rest.reduce((s, o) => s + o.selfMs, 0)) / p.wallMs).toFixed(1)}% |`,
    );
  lines.push(
    `| (outside libtorch ops: JS, N-API) | - | ${fmt(Math.max(0, p.wallMs - selfSum))} | - | ${((100 * Math.max(0, p.wallMs - selfSum)) / p.wallMs).toFixed(1)}% |`,
  );
  lines.push('', `step wall time ${fmt(p.wallMs)} ms`);
  return lines.join('\n');
}
