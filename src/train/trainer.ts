/**
 * The training loop. One run = one directory:
 *
 *   recipe.json        the resolved recipe (what `--resume` continues)
 *   norm_stats.json    normalisation statistics, when the recipe computes them (mean: auto)
 *   metrics.jsonl      one line per epoch: train loss, lr, validation metrics, timings
 *   checkpoint/        trainable tensors + optimizer state + loop state, written atomically
 *   best/  final/      adapter directories (saveAdapter): best by `train.best_metric`, and the last
 *   results.json       final and best validation metrics, test metrics of the best checkpoint,
 *                      trainable parameters, seconds per epoch
 *
 * Reproducibility: the model is initialised from `model.init_seed` (default `seed`), the loader's
 * order and augmentations are functions of (seed, epoch, clip), and libtorch's generator is re-seeded
 * before every step from (seed, step). So a resumed run ends with the same weights, bit for bit, as an
 * uninterrupted one (same thread count).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { totalmem } from 'node:os';
import { Tensor } from '../tensor/tensor.js';
import { bceWithLogits, crossEntropy, manualSeed, noGrad, tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { readSafetensors } from '../io/safetensors.js';
import { writeFileAtomic } from '../util/fs.js';
import { openDataset } from '../data/open.js';
import { foldTrainTest } from '../data/folds.js';
import { UNLABELED, type ClipRef, type Dataset } from '../data/types.js';
import { computeNormStats, DataLoader, mixSeed, WorkerPool, type Batch, type FrontendSpec } from '../data/loader.js';
import { Rng } from '../audio/rng.js';
import { AudioSpectrogramTransformer, loadAst, type AstConfig } from '../models/ast.js';
import { backbonePath } from '../models/pull.js';
import { applyPeft } from '../peft/methods.js';
import type { ResolvedPeft } from '../peft/config.js';
import { loadAdapter, saveAdapter, type FrontendConfig } from '../peft/checkpoint.js';
import { countModel, type ParamCounts } from '../peft/params.js';
import { Adam, AdamW } from '../optim/adam.js';
import { SGD } from '../optim/sgd.js';
import { clipGradNorm } from '../optim/clip.js';
import type { Optimizer, GroupOptions } from '../optim/optimizer.js';
import { constantLr, cosineLr, multiStepLr, stepDecayLr, type LrSchedule } from '../optim/schedule.js';
import { evaluate, type MetricReport } from './metrics.js';
import { Progress } from './progress.js';
import { recipeDiff, recipeFromObject, type MetricName, type Recipe } from './recipe.js';

// ---------------------------------------------------------------- data

export interface RunData {
  dataset: Dataset;
  labels: string[];
  multiLabel: boolean;
  train: ClipRef[];
  validation: ClipRef[] | null;
  validationName: string | null;
  test: ClipRef[] | null;
  testName: string | null;
}

/** A subset of `n` clips, classes interleaved after a seeded shuffle, kept in the original order. */
export function limitClips(clips: ClipRef[], n: number | null, seed: number): ClipRef[] {
  if (n === null || n >= clips.length) return clips;
  const rng = new Rng(mixSeed(seed, 0x11a17));
  const byClass = new Map<string, number[]>();
  clips.forEach((c, i) => {
    const k = String(Array.isArray(c.label) ? c.label[0] ?? -1 : c.label);
    let g = byClass.get(k);
    if (!g) byClass.set(k, (g = []));
    g.push(i);
  });
  const groups = [...byClass.values()].map((g) => {
    for (let i = g.length - 1; i > 0; i--) {
      const j = rng.randint(0, i + 1);
      [g[i], g[j]] = [g[j]!, g[i]!];
    }
    return g;
  });
  const picked: number[] = [];
  for (let r = 0; picked.length < n; r++) {
    for (const g of groups) if (r < g.length && picked.length < n) picked.push(g[r]!);
  }
  return picked.sort((a, b) => a - b).map((i) => clips[i]!);
}

const labelled = (c: ClipRef): boolean => !(c.label === UNLABELED || (Array.isArray(c.label) && c.label.length === 0));

/** The dataset and the clips of each role (train / validation / test) the recipe asks for. */
export function selectData(recipe: Recipe, log: (s: string) => void = () => undefined): RunData {
  const d = recipe.data;
  const dataset = openDataset({ ...d.options, type: d.type, root: d.root });
  const names = Object.keys(dataset.splits);
  const split = (key: string, name: string): ClipRef[] => {
    const clips = dataset.splits[name];
    if (!clips) throw new Error(`data.${key}: ${dataset.name} at ${d.root} has no split "${name}" (splits: ${names.join(', ')})`);
    return clips;
  };
  let train: ClipRef[];
  let validation: ClipRef[] | null = null;
  let validationName: string | null = null;
  let test: ClipRef[] | null = null;
  let testName: string | null = null;
  if (d.fold !== null) {
    // k-fold (ESC-50, AST's protocol): the held-out fold is evaluated every epoch
    const ft = foldTrainTest(dataset, d.fold);
    train = ft.train;
    validation = ft.test;
    validationName = `fold${d.fold}`;
  } else {
    train = split('train', d.train);
    if (d.validation !== null) {
      validation = split('validation', d.validation);
      validationName = d.validation;
    }
    if (d.test !== null) {
      test = split('test', d.test);
      testName = d.test;
    }
  }
  const drop = (what: string, clips: ClipRef[] | null): ClipRef[] | null => {
    if (clips === null) return null;
    const kept = clips.filter(labelled);
    if (kept.length < clips.length) log(`${what}: ${clips.length - kept.length} unlabelled clip(s) left out`);
    return kept.length > 0 ? kept : null;
  };
  train = drop('train', train)!;
  if (!train || train.length === 0) throw new Error(`data.train: no labelled training clips in ${d.root}`);
  validation = drop('validation', validation);
  if (validation === null) validationName = null;
  test = drop('test', test);
  if (test === null) testName = null;
  train = limitClips(train, d.train_limit, recipe.seed);
  if (validation) validation = limitClips(validation, d.eval_limit, recipe.seed + 1);
  if (test) test = limitClips(test, d.eval_limit, recipe.seed + 2);
  return { dataset, labels: dataset.labels, multiLabel: dataset.multiLabel, train, validation, validationName, test, testName };
}

/** The front end of the recipe; `mean: auto` computes (or reads back) the training set's statistics. */
export async function resolveFrontend(
  recipe: Recipe,
  train: ClipRef[],
  opts: { out?: string; workers?: number | WorkerPool; log?: (s: string) => void } = {},
): Promise<FrontendSpec> {
  const fe = recipe.frontend;
  const spec: FrontendSpec = { type: fe.type, sampleRate: fe.sample_rate, numMelBins: fe.num_mel_bins, targetLength: fe.target_length };
  if (fe.mean === null || fe.std === null) return spec;
  if (typeof fe.mean === 'number' && typeof fe.std === 'number') return { ...spec, mean: fe.mean, std: fe.std };
  const file = opts.out ? join(opts.out, 'norm_stats.json') : null;
  if (file && existsSync(file)) {
    const s = JSON.parse(readFileSync(file, 'utf8')) as { mean: number; std: number };
    return { ...spec, mean: s.mean, std: s.std };
  }
  opts.log?.(`frontend: computing normalisation statistics over ${train.length} training clips`);
  const s = await computeNormStats(train, spec, { workers: opts.workers });
  opts.log?.(`frontend: mean ${s.mean.toPrecision(8)}  std ${s.std.toPrecision(8)}`);
  if (file) writeFileAtomic(file, JSON.stringify(s, null, 1) + '\n');
  return { ...spec, mean: s.mean, std: s.std };
}

export function frontendConfig(fe: FrontendSpec): FrontendConfig {
  const c: FrontendConfig = { ...(fe.type !== 'ast' ? { type: fe.type } : {}), sample_rate: fe.sampleRate, num_mel_bins: fe.numMelBins, target_length: fe.targetLength };
  if (fe.mean !== undefined && fe.std !== undefined) {
    c.mean = fe.mean;
    c.std = fe.std;
  }
  return c;
}

export function augmentSpec(recipe: Recipe) {
  const a = recipe.augment;
  return { freqm: a.freqm, timem: a.timem, mixup: a.mixup, mixupAlpha: a.mixup_alpha, noise: a.noise };
}

// ---------------------------------------------------------------- model and optimisation

/** The recipe's PEFT config (already resolved by parsePeft when the recipe was read), as a copy. */
export function peftConfig(recipe: Recipe): ResolvedPeft {
  return structuredClone(recipe.peft);
}

export function astConfig(recipe: Recipe, numClasses: number): AstConfig {
  const m = recipe.model;
  const cfg: AstConfig = {
    arch: m.arch,
    numClasses,
    fdim: recipe.frontend.num_mel_bins,
    tdim: recipe.frontend.target_length,
    fstride: m.fstride,
    tstride: m.tstride,
  };
  if (m.depth !== null) cfg.depth = m.depth;
  return cfg;
}

/** Where the backbone weights come from: a file, or null for random initialisation. */
export function backboneFile(recipe: Recipe): string | null {
  const b = recipe.model.backbone;
  if (b === 'random') return null;
  if (b === 'pretrained') {
    const p = backbonePath(recipe.model.arch);
    if (!existsSync(p)) {
      throw new Error(`model.backbone: no pretrained weights for ${recipe.model.arch} at ${p}: run \`loaa pull ${recipe.model.arch}\` (or set model.backbone: random)`);
    }
    return p;
  }
  if (!existsSync(b)) throw new Error(`model.backbone: ${b}: no such checkpoint`);
  return b;
}

/** The AST with the recipe's PEFT method applied. */
export function buildModel(recipe: Recipe, numClasses: number): { model: AudioSpectrogramTransformer; backbone: string } {
  const cfg = astConfig(recipe, numClasses);
  const seed = recipe.model.init_seed ?? recipe.seed;
  const file = backboneFile(recipe);
  const model = file === null ? new AudioSpectrogramTransformer(cfg, { seed }) : loadAst(file, cfg, { seed }).model;
  try {
    applyPeft(model, peftConfig(recipe), { seed });
  } catch (e) {
    model.dispose();
    throw new Error(`peft.${(e as Error).message}`);
  }
  return { model, backbone: file ?? 'random' };
}

export function makeOptimizer(recipe: Recipe, params: Tensor[]): Optimizer<GroupOptions> {
  const o = recipe.optim;
  switch (o.name) {
    case 'adam':
      return new Adam(params, { lr: o.lr, betas: [o.betas[0], o.betas[1]], eps: o.eps, weightDecay: o.weight_decay }) as unknown as Optimizer<GroupOptions>;
    case 'adamw':
      return new AdamW(params, { lr: o.lr, betas: [o.betas[0], o.betas[1]], eps: o.eps, weightDecay: o.weight_decay }) as unknown as Optimizer<GroupOptions>;
    case 'sgd':
      return new SGD(params, { lr: o.lr, momentum: o.momentum, weightDecay: o.weight_decay }) as unknown as Optimizer<GroupOptions>;
  }
}

/** lr as a function of the fractional epoch (epochs completed + step / steps per epoch). */
export function makeSchedule(recipe: Recipe): LrSchedule {
  const s = recipe.schedule;
  const lr = recipe.optim.lr;
  const warm = { warmupEpochs: s.warmup_epochs, warmupStartLr: s.warmup_start_lr };
  let inner: LrSchedule;
  switch (s.type) {
    case 'constant':
      inner = constantLr(lr);
      break;
    case 'step':
      inner = stepDecayLr({ lr, start: s.start, gamma: s.gamma, every: s.every });
      break;
    case 'multistep':
      return multiStepLr({ lr, milestones: s.milestones, factors: s.factors, ...warm });
    case 'cosine':
      return cosineLr({ lr, epochs: recipe.train.epochs, minLr: s.min_lr, ...warm });
  }
  if (s.warmup_epochs > 0) return withWarmup(inner, s.warmup_epochs, s.warmup_start_lr);
  return inner;
}

function withWarmup(inner: LrSchedule, epochs: number, start: number): LrSchedule {
  const end = inner(epochs);
  return (e) => (e < epochs ? start + ((end - start) * e) / epochs : inner(e));
}

/** The loss of a batch: CE on class indices (or on soft targets after mixup), or BCE with logits. */
export function batchLoss(logits: Tensor, batch: Batch, kind: 'ce' | 'bce', labelSmoothing = 0, reduction: 'mean' | 'sum' = 'mean'): Tensor {
  return scope(() => {
    if (kind === 'bce') return bceWithLogits(logits, tensor(batch.targets, [batch.size, batch.numClasses]), reduction);
    if (batch.soft || batch.labels.some((l) => l < 0)) {
      return crossEntropy(logits, tensor(batch.targets, [batch.size, batch.numClasses]), reduction, labelSmoothing);
    }
    return crossEntropy(logits, tensor(batch.labels, [batch.size], 'int64'), reduction, labelSmoothing);
  });
}

export interface StepContext {
  model: AudioSpectrogramTransformer;
  opt: Optimizer<GroupOptions>;
  params: Tensor[];
  loss: 'ce' | 'bce';
  labelSmoothing: number;
  gradClip: number | null;
}

/**
 * One optimisation step; returns the loss. A non-finite loss returns before anything is updated.
 */
export function trainStep(ctx: StepContext, batch: Batch): number {
  return scope(() => {
    ctx.opt.zeroGrad();
    const x = tensor(batch.x, [batch.size, batch.frames, batch.bins]);
    const logits = ctx.model.forward(x);
    const loss = batchLoss(logits, batch, ctx.loss, ctx.labelSmoothing);
    const v = loss.item();
    if (!Number.isFinite(v)) return v;
    loss.backward();
    if (ctx.gradClip !== null) clipGradNorm(ctx.params, ctx.gradClip);
    ctx.opt.step();
    ctx.opt.zeroGrad();
    return v;
  });
}

export interface EvalResult {
  report: MetricReport | null;
  loss: number;
  n: number;
  /** [n, C] logits in clip order of the loader */
  logits: Float32Array;
  ids: string[];
  seconds: number;
}

/** Logits, loss and metrics of a model over a loader (no augmentation, no gradients). */
export async function evaluateModel(
  model: AudioSpectrogramTransformer,
  loader: DataLoader,
  o: { loss: 'ce' | 'bce'; progress?: Progress },
): Promise<EvalResult> {
  const t0 = performance.now();
  const wasTraining = model.training;
  model.eval();
  const C = loader.numClasses;
  const n = loader.samplesPerEpoch;
  const logits = new Float32Array(n * C);
  const targets = new Float32Array(n * C);
  const labels = new Int32Array(n);
  const ids: string[] = [];
  let soft = false;
  let lossSum = 0;
  let at = 0;
  try {
    for await (const b of loader.epoch(0)) {
      const out = noGrad(() =>
        scope(() => {
          const lg = model.forward(tensor(b.x, [b.size, b.frames, b.bins]));
          const l = batchLoss(lg, b, o.loss, 0, 'sum').item();
          return { l, data: lg.data<'float32'>() };
        }),
      );
      lossSum += o.loss === 'bce' ? out.l / C : out.l;
      logits.set(out.data, at * C);
      targets.set(b.targets, at * C);
      labels.set(b.labels, at);
      soft ||= b.soft || b.labels.some((l) => l < 0);
      ids.push(...b.ids);
      at += b.size;
      o.progress?.tick(1, b.size);
    }
  } finally {
    model.train(wasTraining);
  }
  let report: MetricReport | null = null;
  if (n > 0) report = evaluate(logits, soft ? targets : Array.from(labels), { numClasses: C });
  return { report, loss: n > 0 ? lossSum / n : NaN, n, logits, ids, seconds: (performance.now() - t0) / 1000 };
}

/** The scalar metrics of a report (what metrics.jsonl and results.json carry). */
export function scalarMetrics(r: EvalResult): Record<string, number> {
  const m = r.report;
  const out: Record<string, number> = { n: r.n, loss: r.loss };
  if (m) Object.assign(out, { top1: m.top1, top5: m.top5, mAP: m.mAP, meanClassAccuracy: m.meanClassAccuracy, macroAUC: m.macroAUC, dPrime: m.dPrime });
  return out;
}

// ---------------------------------------------------------------- checkpoints

export interface LoopState {
  /** the epoch being run (0-based) */
  epoch: number;
  /** the next batch of that epoch */
  batch: number;
  /** optimizer steps done */
  step: number;
  /** train loss sum / count of the current epoch so far */
  lossSum: number;
  lossCount: number;
  /** training seconds of the current epoch so far (resumed epochs add up) */
  epochSeconds: number;
  /** per finished epoch: training seconds */
  trainSeconds: number[];
  best: { epoch: number; value: number } | null;
}

const CHECKPOINT = 'checkpoint';
const CHECKPOINT_OLD = '.checkpoint-old';

/** The checkpoint directory to resume from (a crash between the two renames leaves the old one). */
export function findCheckpoint(out: string): string | null {
  const cur = join(out, CHECKPOINT);
  if (existsSync(join(cur, 'state.json'))) return cur;
  const old = join(out, CHECKPOINT_OLD);
  if (existsSync(join(old, 'state.json'))) return old;
  return null;
}

/** Whether every tensor is free of NaN and infinity (weights before they are checkpointed). */
export function allFinite(params: Tensor[]): boolean {
  return noGrad(() => scope(() => params.every((p) => p.isfinite().all())));
}

/** Writes a complete checkpoint beside the old one, then swaps them: never a torn checkpoint. */
export function saveCheckpoint(out: string, model: AudioSpectrogramTransformer, opt: Optimizer<GroupOptions>, state: LoopState, seed: number): void {
  const tmp = join(out, `.checkpoint-tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const names = new Set(model.trainableParameters().map(([n]) => n));
  model.saveSafetensors(join(tmp, 'trainable.safetensors'), (n) => names.has(n));
  opt.saveSafetensors(join(tmp, 'optimizer.safetensors'));
  writeFileAtomic(join(tmp, 'state.json'), JSON.stringify({ format: 'loaa-checkpoint/1', seed, ...state }, null, 1) + '\n');
  const cur = join(out, CHECKPOINT);
  const old = join(out, CHECKPOINT_OLD);
  rmSync(old, { recursive: true, force: true });
  if (existsSync(cur)) renameSync(cur, old);
  renameSync(tmp, cur);
  rmSync(old, { recursive: true, force: true });
}

export function loadCheckpoint(dir: string, model: AudioSpectrogramTransformer, opt: Optimizer<GroupOptions>): LoopState {
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as LoopState & { format?: string };
  if (state.format !== 'loaa-checkpoint/1') throw new Error(`${join(dir, 'state.json')}: not a loaa checkpoint`);
  const file = join(dir, 'trainable.safetensors');
  const tensors = readSafetensors(file).tensors;
  const want = model.trainableParameters().map(([n]) => n);
  const missing = want.filter((n) => !tensors.has(n));
  if (missing.length) throw new Error(`${file}: missing ${missing.length} trainable tensor(s) of this model: ${missing.slice(0, 4).join(', ')}`);
  model.loadStateDict(tensors, { source: file });
  opt.loadSafetensors(join(dir, 'optimizer.safetensors'));
  return state;
}

// ---------------------------------------------------------------- the run

export interface TrainOptions {
  /** required unless resuming (then the run's recipe.json is used) */
  recipe?: Recipe;
  out: string;
  resume?: boolean;
  /** log lines (default: stdout) */
  log?: (line: string) => void;
  /** progress bars go here (default process.stdout); `silent` for none */
  progress?: { stream?: NodeJS.WriteStream; silent?: boolean; tty?: boolean };
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

/** Keys that may change between an interrupted run and its resumption (they do not change the result). */
const RESUME_FREE = ['data.workers', 'data.prefetch', 'data.root', 'data.cache', 'train.log_every', 'train.checkpoint_every', 'description'];

export class NonFiniteLossError extends Error {
  constructor(
    readonly step: number,
    readonly value: number,
    message: string,
  ) {
    super(message);
  }
}

interface MetricsLine {
  epoch: number;
  [k: string]: unknown;
}

function readMetrics(path: string): MetricsLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as MetricsLine);
}

function better(metric: MetricName, value: number, best: number | null): boolean {
  if (!Number.isFinite(value)) return false;
  if (best === null) return true;
  return metric === 'loss' ? value < best : value > best;
}

function fmt(v: number | undefined, digits = 4): string {
  return v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);
}

/** Trains the recipe into `out`; see the file comment for what the directory holds. */
export async function train(opts: TrainOptions): Promise<TrainResults> {
  const out = resolve(opts.out);
  const log = opts.log ?? ((s: string) => process.stdout.write(s + '\n'));
  const recipeFile = join(out, 'recipe.json');
  let recipe: Recipe;
  if (existsSync(recipeFile)) {
    if (!opts.resume) {
      const what = existsSync(join(out, 'results.json')) ? 'a finished run' : 'a run';
      throw new Error(`${out}: already holds ${what} (recipe.json): pass --resume to continue it, or choose another --out`);
    }
    const saved = recipeFromObject(JSON.parse(readFileSync(recipeFile, 'utf8')) as Record<string, unknown>, recipeFile);
    if (opts.recipe) {
      const diff = recipeDiff(saved, opts.recipe).filter((k) => !RESUME_FREE.some((p) => k === p || k.startsWith(p + '.')));
      if (diff.length) throw new Error(`--resume: the recipe differs from the run's (${recipeFile}) in ${diff.join(', ')}`);
      recipe = { ...saved, data: { ...saved.data, workers: opts.recipe.data.workers, prefetch: opts.recipe.data.prefetch, root: opts.recipe.data.root, cache: opts.recipe.data.cache } };
      recipe.train = { ...saved.train, log_every: opts.recipe.train.log_every, checkpoint_every: opts.recipe.train.checkpoint_every };
    } else {
      recipe = saved;
    }
  } else {
    if (opts.resume && !opts.recipe) throw new Error(`${out}: nothing to resume (no recipe.json)`);
    if (!opts.recipe) throw new Error('train: a recipe is required');
    recipe = opts.recipe;
    mkdirSync(out, { recursive: true });
    writeFileAtomic(recipeFile, JSON.stringify(recipe, null, 1) + '\n');
  }

  const t = recipe.train;
  manualSeed(recipe.seed);
  const data = selectData(recipe, log);
  const numClasses = data.labels.length;
  if (t.loss === 'ce' && data.multiLabel) log('warning: cross-entropy on a multi-label dataset (train.loss: bce is the usual choice)');
  const pool = recipe.data.workers > 0 ? new WorkerPool(recipe.data.workers) : null;
  const loaders: DataLoader[] = [];
  let model: AudioSpectrogramTransformer | null = null;
  let opt: Optimizer<GroupOptions> | null = null;
  try {
    const frontend = await resolveFrontend(recipe, data.train, { out, workers: pool ?? 0, log });
    const augment = augmentSpec(recipe);
    const augments = augment.freqm > 0 || augment.timem > 0 || augment.mixup > 0 || augment.noise;
    // auto: cache what fits comfortably (features are float32 [frames, bins] per clip)
    const bytes = (clips: ClipRef[] | null): number => (clips?.length ?? 0) * frontend.targetLength * frontend.numMelBins * 4;
    const budget = Math.min(4 * 2 ** 30, totalmem() / 4);
    const evalBytes = bytes(data.validation) + bytes(data.test);
    const cacheEval = recipe.data.cache === true || (recipe.data.cache === 'auto' && evalBytes <= budget);
    const cacheTrain = recipe.data.cache === true || (recipe.data.cache === 'auto' && !augments && evalBytes + bytes(data.train) <= budget);
    const workers = pool ?? 0;
    const trainLoader = new DataLoader({
      clips: data.train,
      numClasses,
      frontend,
      augment,
      batchSize: t.batch_size,
      shuffle: true,
      dropLast: t.drop_last,
      seed: recipe.seed,
      workers,
      prefetch: recipe.data.prefetch,
      cache: cacheTrain && !augments,
    });
    loaders.push(trainLoader);
    const evalLoader = (clips: ClipRef[] | null): DataLoader | null =>
      clips === null
        ? null
        : (loaders.push(new DataLoader({ clips, numClasses, frontend, batchSize: t.eval_batch_size ?? t.batch_size, workers, prefetch: recipe.data.prefetch, cache: cacheEval })),
          loaders[loaders.length - 1]!);
    const valLoader = evalLoader(data.validation);
    const testLoader = evalLoader(data.test);

    const built = buildModel(recipe, numClasses);
    model = built.model;
    const named = model.trainableParameters();
    const params = named.map(([, p]) => p);
    const counts = countModel(model);
    opt = makeOptimizer(recipe, params);
    const schedule = makeSchedule(recipe);
    const nb = trainLoader.length;
    const meta = { labels: data.labels, frontend: frontendConfig(frontend) };
    const ctx: StepContext = { model, opt, params, loss: t.loss, labelSmoothing: t.label_smoothing, gradClip: recipe.optim.grad_clip };

    log(
      `${recipe.name}: ${data.dataset.name} (${data.train.length} train${data.validation ? `, ${data.validation.length} ${data.validationName}` : ''}${data.test ? `, ${data.test.length} ${data.testName}` : ''} clips, ${numClasses} classes)`,
    );
    log(
      `model: ${recipe.model.arch}${recipe.model.depth !== null ? ` depth ${recipe.model.depth}` : ''}, ${built.backbone === 'random' ? 'random initialisation' : `backbone ${built.backbone}`}; ` +
        `${recipe.peft.method}: ${counts.trainable.toLocaleString('en-US')} trainable of ${counts.total.toLocaleString('en-US')} parameters (${(100 * counts.ratio).toFixed(2)}%)`,
    );

    let state: LoopState = { epoch: 0, batch: 0, step: 0, lossSum: 0, lossCount: 0, epochSeconds: 0, trainSeconds: [], best: null };
    const metricsFile = join(out, 'metrics.jsonl');
    const ck = opts.resume ? findCheckpoint(out) : null;
    if (ck) {
      state = loadCheckpoint(ck, model, opt);
      // epochs the checkpoint has not seen finished are run again: drop their lines
      const kept = readMetrics(metricsFile).filter((m) => m.epoch <= state.epoch);
      writeFileAtomic(metricsFile, kept.map((m) => JSON.stringify(m) + '\n').join(''));
      log(`resuming from ${ck}: epoch ${state.epoch + 1}, batch ${state.batch}/${nb}, step ${state.step}`);
    } else if (opts.resume) {
      log(`${out}: no checkpoint yet; starting from the beginning`);
      rmSync(metricsFile, { force: true });
    }

    const progressOpts = opts.progress ?? {};
    const warmup = recipe.schedule.warmup_epochs > 0;
    let lastGoodStep = ck ? state.step : null;
    const maxSteps = t.max_steps;
    // a finite loss with non-finite gradients leaves NaN weights: never checkpoint those
    const checkWeights = (step: number): void => {
      if (allFinite(params)) return;
      const kept = lastGoodStep === null ? 'no checkpoint was written yet' : `the last good checkpoint (step ${lastGoodStep}) is in ${join(out, CHECKPOINT)}`;
      throw new NonFiniteLossError(step, NaN, `step ${step}: the weights are no longer finite after the update; training stopped (${kept}). Try a lower optim.lr or optim.grad_clip.`);
    };
    let stopped = false;
    for (; state.epoch < t.epochs && !stopped; ) {
      const epoch = state.epoch;
      const bar = new Progress({ label: `epoch ${epoch + 1}/${t.epochs}`, total: nb, stream: progressOpts.stream, tty: progressOpts.tty, silent: progressOpts.silent, every: t.log_every });
      if (state.batch > 0) bar.tick(state.batch, 0);
      let lr = schedule(epoch);
      if (state.batch < nb) {
        let tEpoch = performance.now();
        for await (const batch of trainLoader.epoch(epoch, { startBatch: state.batch })) {
          lr = schedule(warmup ? epoch + batch.index / nb : epoch);
          opt.setLr(lr);
          manualSeed(mixSeed(recipe.seed, state.step, 0x57e9));
          const v = trainStep(ctx, batch);
          if (!Number.isFinite(v)) {
            const where = `step ${state.step + 1} (epoch ${epoch + 1}, batch ${batch.index + 1}/${nb})`;
            const kept = lastGoodStep === null ? 'no checkpoint was written yet' : `the last good checkpoint (step ${lastGoodStep}) is in ${join(out, CHECKPOINT)}`;
            throw new NonFiniteLossError(state.step + 1, v, `${where}: the loss is ${v}; training stopped (${kept}). Try a lower optim.lr or optim.grad_clip.`);
          }
          state.step++;
          state.batch = batch.index + 1;
          state.lossSum += v * batch.size;
          state.lossCount += batch.size;
          bar.tick(1, batch.size, `loss ${fmt(state.lossSum / state.lossCount)}  lr ${lr.toExponential(2)}`);
          const now = performance.now();
          state.epochSeconds += (now - tEpoch) / 1000;
          tEpoch = now;
          if (t.checkpoint_every > 0 && state.step % t.checkpoint_every === 0 && state.batch < nb) {
            checkWeights(state.step);
            saveCheckpoint(out, model, opt, state, recipe.seed);
            lastGoodStep = state.step;
            tEpoch = performance.now();
          }
          if (maxSteps !== null && state.step >= maxSteps) {
            stopped = true;
            break;
          }
        }
      }
      bar.finish(`loss ${fmt(state.lossSum / Math.max(1, state.lossCount))}`);
      if (stopped && state.batch < nb) {
        // train.max_steps reached mid-epoch: keep the position, skip the end-of-epoch work
        checkWeights(state.step);
        saveCheckpoint(out, model, opt, state, recipe.seed);
        log(`stopped after step ${state.step} (train.max_steps)`);
        break;
      }
      const trainSeconds = state.epochSeconds;
      checkWeights(state.step);

      // evaluation, metrics line, best checkpoint
      const line: MetricsLine = {
        epoch: epoch + 1,
        step: state.step,
        lr,
        train_loss: state.lossCount > 0 ? state.lossSum / state.lossCount : null,
        train_seconds: trainSeconds,
        samples_per_second: trainSeconds > 0 ? state.lossCount / trainSeconds : null,
      };
      let value: number | null = null;
      if (valLoader) {
        // plain logs get the epoch line below; a terminal also sees evaluation move
        const isTty = progressOpts.tty ?? Boolean((progressOpts.stream ?? process.stdout).isTTY);
        const vbar = new Progress({ label: `  eval ${data.validationName}`, total: valLoader.length, stream: progressOpts.stream, tty: progressOpts.tty, silent: progressOpts.silent || !isTty });
        const r = await evaluateModel(model, valLoader, { loss: t.loss, progress: vbar });
        if (isTty) vbar.finish();
        const m = scalarMetrics(r);
        line.split = data.validationName;
        line.val = m;
        line.eval_seconds = r.seconds;
        value = m[t.best_metric] ?? null;
        log(`epoch ${epoch + 1}/${t.epochs}: train loss ${fmt(line.train_loss as number)}  ${data.validationName} top1 ${fmt(m.top1)}  mAP ${fmt(m.mAP)}  loss ${fmt(m.loss)}  (${trainSeconds.toFixed(1)} s train, ${r.seconds.toFixed(1)} s eval)`);
      } else {
        log(`epoch ${epoch + 1}/${t.epochs}: train loss ${fmt(line.train_loss as number)}  (${trainSeconds.toFixed(1)} s)`);
      }
      appendFileSync(metricsFile, JSON.stringify(line) + '\n');
      // without a validation split the best checkpoint is the latest
      if (valLoader === null || (value !== null && better(t.best_metric, value, state.best?.value ?? null))) {
        saveAdapter(join(out, 'best'), model, peftConfig(recipe), meta);
        state.best = { epoch: epoch + 1, value: value ?? NaN };
      }
      state.trainSeconds.push(trainSeconds);
      state.epoch = epoch + 1;
      state.batch = 0;
      state.lossSum = 0;
      state.lossCount = 0;
      state.epochSeconds = 0;
      saveCheckpoint(out, model, opt, state, recipe.seed);
      lastGoodStep = state.step;
    }

    // the end: final adapter, test with the best checkpoint, results.json
    saveAdapter(join(out, 'final'), model, peftConfig(recipe), meta);
    const history = readMetrics(metricsFile);
    const last = history[history.length - 1];
    const bestLine = state.best ? history.find((h) => h.epoch === state.best!.epoch) : undefined;
    let test: TrainResults['test'] = null;
    if (testLoader) {
      const which = existsSync(join(out, 'best', 'adapter_config.json')) ? 'best' : 'final';
      loadAdapter(join(out, which), model);
      const bar = new Progress({ label: `  test: ${data.testName} (${which} checkpoint)`, total: testLoader.length, stream: progressOpts.stream, tty: progressOpts.tty, silent: progressOpts.silent, every: testLoader.length });
      const r = await evaluateModel(model, testLoader, { loss: t.loss, progress: bar });
      bar.finish();
      test = { split: data.testName!, checkpoint: which, metrics: scalarMetrics(r), confusion: r.report?.confusion ?? [] };
      log(`test (${data.testName}, ${which} checkpoint): top1 ${fmt(test.metrics.top1)}  mAP ${fmt(test.metrics.mAP)}  (${r.n} clips)`);
    }
    const secs = state.trainSeconds;
    const meanSecs = secs.length ? secs.reduce((a, b) => a + b, 0) / secs.length : 0;
    const samples = history.reduce((a, h) => a + (typeof h.samples_per_second === 'number' ? 1 : 0), 0);
    const results: TrainResults = {
      name: recipe.name,
      dataset: data.dataset.name,
      method: recipe.peft.method,
      arch: recipe.model.arch,
      backbone: built.backbone,
      out,
      params: counts,
      epochs: state.epoch,
      steps: state.step,
      seconds_per_epoch: meanSecs,
      epoch_seconds: secs,
      samples_per_second: samples ? history.reduce((a, h) => a + ((h.samples_per_second as number) ?? 0), 0) / samples : 0,
      frontend: frontendConfig(frontend),
      final: { epoch: last?.epoch ?? state.epoch, split: data.validationName, metrics: (last?.val as Record<string, number>) ?? null },
      best: state.best
        ? { epoch: state.best.epoch, metric: t.best_metric, value: state.best.value, split: data.validationName, metrics: (bestLine?.val as Record<string, number>) ?? null }
        : null,
      test,
    };
    writeFileAtomic(join(out, 'results.json'), JSON.stringify(results, null, 1) + '\n');
    return results;
  } finally {
    for (const l of loaders) await l.close();
    await pool?.close();
    opt?.dispose();
    model?.dispose();
  }
}

/** For tests: the bytes of a run's adapter weights. */
export function adapterBytes(runDir: string, which: 'best' | 'final' = 'final'): Buffer {
  return readFileSync(join(runDir, which, 'adapter_model.safetensors'));
}
