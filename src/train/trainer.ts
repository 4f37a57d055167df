/**
 * The training loop, in the order it runs: openRun (recipe.json) -> prepare (data, front end,
 * loaders, model, optimizer, resume) -> per epoch trainEpoch then endEpoch (validation, metrics
 * line, best adapter, checkpoint) -> finish (final adapter, test, results.json). The pieces live
 * beside it: data.ts, build.ts, step.ts, checkpoint.ts, run_dir.ts (the directory's layout).
 *
 * Reproducibility: the model is initialised from `model.init_seed` (default `seed`), the loader's
 * order and augmentations are functions of (seed, epoch, clip), and libtorch's generator is re-seeded
 * before every step from (seed, step). So a resumed run ends with the same weights, bit for bit, as an
 * uninterrupted one (same thread count).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { manualSeed } from '../tensor/functional.js';
import { mixSeed, WorkerPool, type FrontendSpec } from '../data/loader.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import { loadAdapter, saveAdapter, type FrontendConfig } from '../peft/checkpoint.js';
import type { BackboneProvenance } from '../infer/provenance.js';

import { countModel, type ParamCounts } from '../peft/params.js';
import type { Optimizer, GroupOptions } from '../optim/optimizer.js';
import type { LrSchedule } from '../optim/schedule.js';
import { Progress } from './progress.js';
import type { MetricName, Recipe } from './recipe.js';
import {
  appendMetrics,
  keepMetrics,
  readMetrics,
  readRunRecipe,
  resumeDiff,
  runPaths,
  writeResults,
  writeRunRecipe,
  type MetricsLine,
} from './run_dir.js';
import { frontendConfig, makeLoaders, resolveFrontend, selectData, type RunData, type RunLoaders } from './data.js';
import { buildModel, makeOptimizer, makeSchedule } from './build.js';
import { accumulateStep, scalarMetrics, trainStep, type StepContext } from './step.js';
import type { Batch } from '../data/loader.js';
import { evaluateSplit, type EvalGather } from './eval_split.js';
import { placeModel, recipeNames, resolveEngine, type Engine } from '../tensor/engine.js';
import { GradScaler, type GradScalerOptions } from './amp.js';
import { engineInfo } from '../tensor/functional.js';
import { chooseGemm, describeGemm } from '../tensor/gemm.js';
import { allFinite, CHECKPOINT, findCheckpoint, loadCheckpoint, saveCheckpoint, type LoopState } from './checkpoint.js';
import { removeStaleTemps } from '../util/fs.js';
import { exitWithParent, FileLock } from '../util/lock.js';

/** An adapter directory that also records the backbone it was trained on (one atomic config write). */
function saveWithBackbone(
  dir: string,
  ...args: [
    Parameters<typeof saveAdapter>[1],
    Parameters<typeof saveAdapter>[2],
    { labels: string[]; frontend: FrontendConfig; backbone: BackboneProvenance },
  ]
): void {
  saveAdapter(dir, ...args);
}

// the loop's parts, for callers that import them from here
export * from './data.js';
export * from './build.js';
export * from './step.js';
export * from './checkpoint.js';

export interface TrainOptions {
  /** required unless resuming (then the run's recipe.json is used) */
  recipe?: Recipe;
  out: string;
  resume?: boolean;
  /** resume even when the checkpoint was written with another thread count (the result then differs in the last bits) */
  allowThreadChange?: boolean;
  /** log lines (default: stdout) */
  log?: (line: string) => void;
  /** fp16's dynamic loss scaler (default: torch's GradScaler settings); the other precisions have none */
  gradScaler?: Pick<GradScalerOptions, 'initScale' | 'growthFactor' | 'backoffFactor' | 'growthInterval'>;
  /** progress bars go here (default process.stdout); `silent` for none */
  progress?: { stream?: NodeJS.WriteStream; silent?: boolean; tty?: boolean };
  /**
   * Data parallelism (absent: one process). Every rank runs the same loop on its shard of each
   * batch; gradients are all-reduced after backward, and only rank 0 writes the run directory.
   * Device and precision options join here too (the engine's), as fields of this object's siblings.
   */
  parallel?: ParallelHooks;
}

export interface ParallelHooks extends EvalGather {
  rank: number;
  worldSize: number;
  /**
   * Replaces the gradients of `params` with their mean over the global batch, in place: this rank's
   * loss was a mean over `local` of the batch's `global` clips (src/distributed/hooks.ts).
   */
  allReduceGradients(params: Tensor[], counts: { local: number; global: number }): void;
  /** the positions of `n` evaluation clips this rank evaluates (src/distributed/sampler.ts's evalShard) */
  evalShard(n: number): number[];
  /** returns once every rank has called it (then rank 0's files of the run so far are written) */
  barrier(): void;
  /** this rank's device for the recipe's train.device (NCCL: one GPU per rank) */
  device(requested: string): string;
}

export interface TrainResults {
  name: string;
  dataset: string;
  method: string;
  arch: string;
  backbone: string;
  out: string;
  params: ParamCounts;
  epochs: number;
  steps: number;
  seconds_per_epoch: number;
  epoch_seconds: number[];
  samples_per_second: number;
  frontend: FrontendConfig;
  final: { epoch: number; split: string | null; metrics: Record<string, number> | null };
  best: { epoch: number; metric: MetricName; value: number; split: string | null; metrics: Record<string, number> | null } | null;
  test: { split: string; checkpoint: 'best' | 'final'; metrics: Record<string, number>; confusion: number[][] } | null;
}

export class NonFiniteLossError extends Error {
  constructor(
    readonly step: number,
    readonly value: number,
    message: string,
  ) {
    super(message);
  }
}

function better(metric: MetricName, value: number, best: number | null): boolean {
  if (!Number.isFinite(value)) return false;
  if (best === null) return true;
  return metric === 'loss' ? value < best : value > best;
}

function fmt(v: number | undefined, digits = 4): string {
  return v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

/** Everything one run holds while it trains (what prepare builds and the loop reads). */
interface Run {
  /** resume across a thread-count change (TrainOptions.allowThreadChange) */
  allowThreadChange?: boolean;
  gradScaler?: TrainOptions['gradScaler'];
  out: string;
  recipe: Recipe;
  log: (line: string) => void;
  progress: NonNullable<TrainOptions['progress']>;
  /** rank 0 (or the only process): the one that writes files */
  main: boolean;
  /** this rank's part of every training batch (data parallelism) */
  shard: { rank: number; worldSize: number } | undefined;
  parallel: ParallelHooks | undefined;
  data: RunData;
  pool: WorkerPool | null;
  loaders: RunLoaders | null;
  frontend: FrontendSpec | null;
  model: AudioSpectrogramTransformer | null;
  opt: Optimizer<GroupOptions> | null;
  backbone: string;
  params: Tensor[];
  counts: ParamCounts | null;
  schedule: LrSchedule;
  ctx: StepContext | null;
  engine: Engine | null;
  meta: { labels: string[]; frontend: FrontendConfig; backbone: BackboneProvenance } | null;
  state: LoopState;
  /** the step of the newest checkpoint known to hold finite weights */
  lastGoodStep: number | null;
}

/** The recipe of the run in `out`: a new run writes it, a resumed one must match it (RESUME_FREE aside). */
function openRun(out: string, opts: TrainOptions): Recipe {
  const paths = runPaths(out);
  // data-parallel ranks other than 0 may see the recipe.json rank 0 has just written for this run
  const main = !opts.parallel || opts.parallel.rank === 0;
  if (existsSync(paths.recipe) && (main || opts.resume)) {
    if (!opts.resume) {
      const what = existsSync(paths.results) ? 'a finished run' : 'a run';
      throw new Error(`${out}: already holds ${what} (recipe.json): pass --resume to continue it, or choose another --out`);
    }
    const saved = readRunRecipe(out);
    if (!opts.recipe) return saved;
    const diff = resumeDiff(saved, opts.recipe);
    if (diff.length) throw new Error(`--resume: the recipe differs from the run's (${paths.recipe}) in ${diff.join(', ')}`);
    const recipe = {
      ...saved,
      data: {
        ...saved.data,
        workers: opts.recipe.data.workers,
        prefetch: opts.recipe.data.prefetch,
        root: opts.recipe.data.root,
        cache: opts.recipe.data.cache,
      },
    };
    recipe.train = { ...saved.train, log_every: opts.recipe.train.log_every, checkpoint_every: opts.recipe.train.checkpoint_every };
    return recipe;
  }
  if (opts.resume && !opts.recipe) throw new Error(`${out}: nothing to resume (no recipe.json)`);
  if (!opts.recipe) throw new Error('train: a recipe is required');
  if (main) {
    mkdirSync(out, { recursive: true });
    writeRunRecipe(out, opts.recipe);
  }
  return opts.recipe;
}

/** Data, front end, loaders, model, optimizer, and the loop state (from the checkpoint when resuming). */
async function prepare(run: Run, resume: boolean): Promise<void> {
  const { recipe, out, log } = run;
  const t = recipe.train;
  if (t.loss === 'ce' && run.data.multiLabel) log('warning: cross-entropy on a multi-label dataset (train.loss: bce is the usual choice)');
  run.frontend = await resolveFrontend(recipe, run.data.train, { out, workers: run.pool ?? 0, log });
  run.loaders = makeLoaders(recipe, run.data, run.frontend, run.pool ?? 0, run.shard, run.parallel && ((n) => run.parallel!.evalShard(n)));
  const data = run.data;
  const built = buildModel(recipe, data.labels.length);
  const model = built.model;
  run.model = model;
  run.backbone = built.backbone;
  const engine = resolveEngine(run.parallel ? run.parallel.device(t.device) : t.device, t.precision, recipeNames('train'));
  run.engine = engine;
  placeModel(model, engine);
  run.params = model.trainableParameters().map(([, p]) => p);
  const counts = countModel(model);
  run.counts = counts;
  const opt = makeOptimizer(recipe, run.params);
  run.opt = opt;
  run.schedule = makeSchedule(recipe);
  run.meta = { labels: data.labels, frontend: frontendConfig(run.frontend), backbone: built.provenance };
  const scaler = new GradScaler({
    ...run.gradScaler,
    enabled: engine.precision === 'fp16',
    onSkip: (k) => log(`step ${k.step}: fp16 gradients overflowed; step skipped, loss scale ${k.scale} -> ${k.newScale}`),
  });
  run.ctx = {
    model,
    opt,
    params: run.params,
    loss: t.loss,
    labelSmoothing: t.label_smoothing,
    gradClip: recipe.optim.grad_clip,
    engine,
    scaler,
  };
  // the fp32 GEMM kernel matters only for fp32 math on the CPU (autocast runs libtorch's own)
  const gemm = engine.device === 'cpu' && engine.precision === 'fp32' ? `, ${describeGemm(chooseGemm({ warn: log }))}` : '';
  log(
    `engine: libtorch ${engineInfo().torchVersion} on ${engine.device}, ${engine.precision}${t.precision === 'auto' ? ' (auto)' : ''}${gemm}`,
  );
  log(
    `${recipe.name}: ${data.dataset.name} (${data.train.length} train${data.validation ? `, ${data.validation.length} ${data.validationName}` : ''}${data.test ? `, ${data.test.length} ${data.testName}` : ''} clips, ${data.labels.length} classes)`,
  );
  log(
    `model: ${recipe.model.arch}${recipe.model.depth !== null ? ` depth ${recipe.model.depth}` : ''}, ${built.backbone === 'random' ? 'random initialisation' : `backbone ${built.backbone}`}; ` +
      `${recipe.peft.method}: ${counts.trainable.toLocaleString('en-US')} trainable of ${counts.total.toLocaleString('en-US')} parameters (${(100 * counts.ratio).toFixed(2)}%)`,
  );
  const ck = resume ? findCheckpoint(out) : null;
  if (ck) {
    run.state = loadCheckpoint(ck, model, opt, run.allowThreadChange, scaler, {
      epochs: t.epochs,
      batchesPerEpoch: run.loaders!.train.length,
    });
    run.lastGoodStep = run.state.step;
    // epochs the checkpoint has not seen finished are run again: drop their lines
    if (run.main) keepMetrics(out, run.state.epoch);
    log(
      `resuming from ${ck}: epoch ${run.state.epoch + 1}, batch ${run.state.batch}/${run.loaders.train.length}, step ${run.state.step}${scaler.enabled ? `, loss scale ${scaler.scale}` : ''}`,
    );
  } else if (resume) {
    log(`${out}: no checkpoint yet; starting from the beginning`);
    if (run.main) rmSync(runPaths(out).metrics, { force: true });
  }
}

function saveLoopCheckpoint(run: Run): void {
  if (run.main) saveCheckpoint(run.out, run.model!, run.opt!, run.state, run.recipe.seed, run.ctx?.scaler);
  run.lastGoodStep = run.state.step;
}

function lastGood(run: Run): string {
  return run.lastGoodStep === null
    ? 'no checkpoint was written yet'
    : `the last good checkpoint (step ${run.lastGoodStep}) is in ${join(run.out, CHECKPOINT)}`;
}

/** A finite loss with non-finite gradients leaves NaN weights: never checkpoint those. */
function checkWeights(run: Run): void {
  if (allFinite(run.params)) return;
  const step = run.state.step;
  throw new NonFiniteLossError(
    step,
    NaN,
    `step ${step}: the weights are no longer finite after the update; training stopped (${lastGood(run)}). Try a lower optim.lr or optim.grad_clip.`,
  );
}

/**
 * The training half of one epoch, from the state's batch on. Returns the lr of the last step and
 * whether train.max_steps stopped it.
 */
async function trainEpoch(run: Run): Promise<{ lr: number; stopped: boolean }> {
  const { recipe, state, progress } = run;
  const t = recipe.train;
  const loader = run.loaders!.train;
  const nb = loader.length;
  const epoch = state.epoch;
  const warmup = recipe.schedule.warmup_epochs > 0;
  const bar = new Progress({
    label: `epoch ${epoch + 1}/${t.epochs}`,
    total: nb,
    stream: progress.stream,
    tty: progress.tty,
    silent: progress.silent,
    every: t.log_every,
  });
  if (state.batch > 0) bar.tick(state.batch, 0);
  let lr = run.schedule(epoch);
  let stopped = false;
  if (state.batch < nb) {
    let tEpoch = performance.now();
    // gradient accumulation: batches gather into groups of `accumulate`, aligned on the batch index
    // (a resumed epoch starts at a group's first batch: checkpoints are written between steps)
    const accumulate = t.accumulate;
    let group: Batch[] = [];
    for await (const batch of loader.epoch(epoch, { startBatch: state.batch })) {
      if (accumulate > 1) {
        group.push(batch);
        if ((batch.index + 1) % accumulate !== 0 && batch.index + 1 < nb) continue;
      }
      const first = accumulate > 1 ? group[0]! : batch;
      lr = run.schedule(warmup ? epoch + first.index / nb : epoch);
      run.opt!.setLr(lr);
      let losses: number[];
      if (accumulate > 1) losses = accumulateStep(run.ctx!, group, (k) => manualSeed(mixSeed(recipe.seed, state.step, 0x57e9 + k)));
      else {
        manualSeed(mixSeed(recipe.seed, state.step, 0x57e9));
        losses = [trainStep(run.ctx!, batch)];
      }
      const done = accumulate > 1 ? group : [batch];
      group = [];
      losses.forEach((v, k) => {
        if (Number.isFinite(v)) return;
        const where = `step ${state.step + 1} (epoch ${epoch + 1}, batch ${done[k]!.index + 1}/${nb})`;
        throw new NonFiniteLossError(
          state.step + 1,
          v,
          `${where}: the loss is ${v}; training stopped (${lastGood(run)}). Try a lower optim.lr or optim.grad_clip.`,
        );
      });
      state.step++;
      state.batch = batch.index + 1;
      let size = 0;
      losses.forEach((v, k) => {
        state.lossSum += v * done[k]!.size;
        state.lossCount += done[k]!.size;
        size += done[k]!.size;
      });
      bar.tick(done.length, size, `loss ${fmt(state.lossSum / state.lossCount)}  lr ${lr.toExponential(2)}`);
      const now = performance.now();
      state.epochSeconds += (now - tEpoch) / 1000;
      tEpoch = now;
      if (t.checkpoint_every > 0 && state.step % t.checkpoint_every === 0 && state.batch < nb) {
        checkWeights(run);
        saveLoopCheckpoint(run);
        tEpoch = performance.now();
      }
      if (t.max_steps !== null && state.step >= t.max_steps) {
        stopped = true;
        break;
      }
    }
  }
  bar.finish(`loss ${fmt(state.lossSum / Math.max(1, state.lossCount))}`);
  return { lr, stopped };
}

/** The end of an epoch: validation, the metrics line, the best adapter, a checkpoint. */
async function endEpoch(run: Run, lr: number): Promise<void> {
  const { recipe, state, progress, data } = run;
  const t = recipe.train;
  const epoch = state.epoch;
  const trainSeconds = state.epochSeconds;
  checkWeights(run);
  const line: MetricsLine = {
    epoch: epoch + 1,
    step: state.step,
    lr,
    train_loss: state.lossCount > 0 ? state.lossSum / state.lossCount : null,
    train_seconds: trainSeconds,
    samples_per_second: trainSeconds > 0 ? state.lossCount / trainSeconds : null,
  };
  let value: number | null = null;
  const valLoader = run.loaders!.validation;
  if (data.validation) {
    // plain logs get the epoch line below; a terminal also sees evaluation move
    const isTty = progress.tty ?? Boolean((progress.stream ?? process.stdout).isTTY);
    const vbar = new Progress({
      label: `  eval ${data.validationName}`,
      total: valLoader?.length ?? 0,
      stream: progress.stream,
      tty: progress.tty,
      silent: progress.silent || !isTty,
    });
    const r = await evaluateSplit(run.model!, valLoader, data.validation, {
      loss: t.loss,
      numClasses: data.labels.length,
      progress: vbar,
      engine: run.engine ?? undefined,
      parallel: run.parallel,
    });
    if (isTty) vbar.finish();
    const m = scalarMetrics(r);
    line.split = data.validationName;
    line.val = m;
    line.eval_seconds = r.seconds;
    value = m[t.best_metric] ?? null;
    run.log(
      `epoch ${epoch + 1}/${t.epochs}: train loss ${fmt(line.train_loss as number)}  ${data.validationName} top1 ${fmt(m.top1)}  mAP ${fmt(m.mAP)}  loss ${fmt(m.loss)}  (${trainSeconds.toFixed(1)} s train, ${r.seconds.toFixed(1)} s eval)`,
    );
  } else {
    run.log(`epoch ${epoch + 1}/${t.epochs}: train loss ${fmt(line.train_loss as number)}  (${trainSeconds.toFixed(1)} s)`);
  }
  if (run.main) appendMetrics(run.out, line);
  // without a validation split the best checkpoint is the latest
  if (data.validation === null || (value !== null && better(t.best_metric, value, state.best?.value ?? null))) {
    if (run.main) saveWithBackbone(runPaths(run.out).best, run.model!, recipe.peft, run.meta!);
    state.best = { epoch: epoch + 1, value: value ?? NaN };
  }
  state.trainSeconds.push(trainSeconds);
  state.epoch = epoch + 1;
  state.batch = 0;
  state.lossSum = 0;
  state.lossCount = 0;
  state.epochSeconds = 0;
  saveLoopCheckpoint(run);
}

/** The end of the run: the final adapter, the test split with the best adapter, results.json. */
async function finish(run: Run): Promise<TrainResults> {
  const { recipe, state, progress, data, out } = run;
  const t = recipe.train;
  const paths = runPaths(out);
  const model = run.model!;
  if (run.main) saveWithBackbone(paths.final, model, recipe.peft, run.meta!);
  // the other ranks read what rank 0 has written: metrics.jsonl and the best adapter
  run.parallel?.barrier();
  const history = readMetrics(out);
  const last = history[history.length - 1];
  const bestLine = state.best ? history.find((h) => h.epoch === state.best!.epoch) : undefined;
  let test: TrainResults['test'] = null;
  const testLoader = run.loaders!.test;
  if (data.test) {
    const which = existsSync(join(paths.best, 'adapter_config.json')) ? 'best' : 'final';
    loadAdapter(join(out, which), model);
    model.castFrozenWeights(run.engine?.amp.dtype ?? null); // loading dropped the copies
    const batches = testLoader?.length ?? 0;
    const bar = new Progress({
      label: `  test: ${data.testName} (${which} checkpoint)`,
      total: batches,
      stream: progress.stream,
      tty: progress.tty,
      silent: progress.silent,
      every: Math.max(1, batches),
    });
    const r = await evaluateSplit(model, testLoader, data.test, {
      loss: t.loss,
      numClasses: data.labels.length,
      progress: bar,
      engine: run.engine ?? undefined,
      parallel: run.parallel,
    });
    bar.finish();
    test = { split: data.testName!, checkpoint: which, metrics: scalarMetrics(r), confusion: r.report?.confusion ?? [] };
    run.log(`test (${data.testName}, ${which} checkpoint): top1 ${fmt(test.metrics.top1)}  mAP ${fmt(test.metrics.mAP)}  (${r.n} clips)`);
  }
  const secs = state.trainSeconds;
  const meanSecs = secs.length ? secs.reduce((a, b) => a + b, 0) / secs.length : 0;
  const samples = history.reduce((a, h) => a + (typeof h.samples_per_second === 'number' ? 1 : 0), 0);
  const results: TrainResults = {
    name: recipe.name,
    dataset: data.dataset.name,
    method: recipe.peft.method,
    arch: recipe.model.arch,
    backbone: run.backbone,
    out,
    params: run.counts!,
    epochs: state.epoch,
    steps: state.step,
    seconds_per_epoch: meanSecs,
    epoch_seconds: secs,
    samples_per_second: samples ? history.reduce((a, h) => a + ((h.samples_per_second as number) ?? 0), 0) / samples : 0,
    frontend: frontendConfig(run.frontend!),
    final: { epoch: last?.epoch ?? state.epoch, split: data.validationName, metrics: (last?.val as Record<string, number>) ?? null },
    best: state.best
      ? {
          epoch: state.best.epoch,
          metric: t.best_metric,
          value: state.best.value,
          split: data.validationName,
          metrics: (bestLine?.val as Record<string, number>) ?? null,
        }
      : null,
    test,
  };
  if (run.main) writeResults(out, results);
  return results;
}

/**
 * One `train` per run directory at a time (a lock `train` itself holds, whoever started it),
 * leftovers of killed writers removed first, and under a grid the run stops when the grid dies.
 */
export async function train(opts: TrainOptions): Promise<TrainResults> {
  // data-parallel ranks share the run directory: rank 0, the one that writes it, holds the lock
  if (opts.parallel && opts.parallel.rank !== 0) {
    exitWithParent(); // a rank outlives neither its launcher nor its grid
    return trainLocked(opts);
  }
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  // a few seconds' grace: the train of a grid killed a moment ago is still stopping
  const lock = await FileLock.acquireWaiting(
    join(out, '.train-lock'),
    `loaa train --out ${out}`,
    Number(process.env.LOAA_TRAIN_LOCK_WAIT_MS ?? 5000),
  );
  exitWithParent();
  try {
    removeStaleTemps(out);
    return await trainLocked(opts);
  } finally {
    lock.release();
  }
}

/** Trains the recipe into `out` (the layout: run_dir.ts). The loop, in one sitting: */
async function trainLocked(opts: TrainOptions): Promise<TrainResults> {
  const out = resolve(opts.out);
  const log = opts.log ?? ((s: string) => process.stdout.write(`${s}\n`));
  const recipe = openRun(out, opts);
  if (opts.parallel && recipe.train.accumulate > 1) {
    throw new Error(
      `train.accumulate: ${recipe.train.accumulate} with data parallelism is not supported (more ranks or a larger train.batch_size give the same effective batch)`,
    );
  }
  manualSeed(recipe.seed);
  const data = selectData(recipe, log);
  const run: Run = {
    out,
    recipe,
    log,
    data,
    allowThreadChange: opts.allowThreadChange,
    gradScaler: opts.gradScaler,
    progress: opts.progress ?? {},
    main: !opts.parallel || opts.parallel.rank === 0,
    shard: opts.parallel ? { rank: opts.parallel.rank, worldSize: opts.parallel.worldSize } : undefined,
    parallel: opts.parallel,
    pool: recipe.data.workers > 0 ? new WorkerPool(recipe.data.workers) : null,
    loaders: null,
    frontend: null,
    model: null,
    opt: null,
    backbone: '',
    params: [],
    counts: null,
    schedule: () => 0,
    ctx: null,
    engine: null,
    meta: null,
    state: { epoch: 0, batch: 0, step: 0, lossSum: 0, lossCount: 0, epochSeconds: 0, trainSeconds: [], best: null },
    lastGoodStep: null,
  };
  try {
    await prepare(run, opts.resume ?? false);
    if (opts.parallel)
      run.ctx!.afterBackward = (params, batch) =>
        opts.parallel!.allReduceGradients(params, { local: batch.size, global: batch.globalSize ?? batch.size });
    while (run.state.epoch < recipe.train.epochs) {
      const { lr, stopped } = await trainEpoch(run);
      if (stopped && run.state.batch < run.loaders!.train.length) {
        // train.max_steps reached mid-epoch: keep the position, skip the end-of-epoch work
        checkWeights(run);
        saveLoopCheckpoint(run);
        log(`stopped after step ${run.state.step} (train.max_steps)`);
        break;
      }
      await endEpoch(run, lr);
      if (stopped) break;
    }
    return await finish(run);
  } finally {
    for (const l of run.loaders?.all ?? []) await l.close();
    await run.pool?.close();
    run.opt?.dispose();
    run.model?.dispose();
  }
}
