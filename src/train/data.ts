/**
 * The data side of a run: which clips play which role (train / validation / test), the front end
 * (with `mean: auto` statistics, cached in the run directory) and the loaders.
 */
import { existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { writeFileAtomic } from '../util/fs.js';
import { openDataset } from '../data/open.js';
import { foldTrainTest } from '../data/folds.js';
import { UNLABELED, type ClipRef, type Dataset } from '../data/types.js';
import { computeNormStats, DataLoader, mixSeed, type WorkerPool, type FrontendSpec } from '../data/loader.js';
import { Rng } from '../audio/rng.js';
import type { WindowSpec } from '../data/window.js';
import type { Recipe } from './recipe.js';
import { runPaths } from './run_dir.js';
import { checkDataRoot } from './data_root.js';
import { readInputJson } from '../util/guarded_fs.js';

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
    const k = String(Array.isArray(c.label) ? (c.label[0] ?? -1) : c.label);
    let g = byClass.get(k);
    if (!g) {
      g = [];
      byClass.set(k, g);
    }
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
  checkDataRoot(d);
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
  const file = opts.out ? runPaths(opts.out).normStats : null;
  if (file && existsSync(file)) {
    const s = readInputJson<{ mean: number; std: number }>(file, { what: 'normalisation statistics' });
    return { ...spec, mean: s.mean, std: s.std };
  }
  opts.log?.(`frontend: computing normalisation statistics over ${train.length} training clips`);
  const s = await computeNormStats(train, spec, { workers: opts.workers });
  opts.log?.(`frontend: mean ${s.mean.toPrecision(8)}  std ${s.std.toPrecision(8)}`);
  if (file) writeFileAtomic(file, `${JSON.stringify(s, null, 1)}\n`);
  return { ...spec, mean: s.mean, std: s.std };
}

/** The recipe's front end as adapter_config.json records it. */
export { specToFile as frontendConfig } from '../audio/frontend.js';

export function augmentSpec(recipe: Recipe) {
  const a = recipe.augment;
  const e = a.epic;
  const epic = e
    ? { warp: e.warp, freqParam: e.freq_width, freqMasks: e.freq_masks, timeParam: e.time_width, timeMasks: e.time_masks }
    : null;
  return { freqm: a.freqm, timem: a.timem, mixup: a.mixup, mixupAlpha: a.mixup_alpha, noise: a.noise, epic };
}

/** The window of each role's clips (data.window); null: whole clips. */
export function windowSpecs(recipe: Recipe): { train: WindowSpec | null; validation: WindowSpec | null; test: WindowSpec | null } {
  const w = recipe.data.window;
  if (w === null) return { train: null, validation: null, test: null };
  return {
    train: { seconds: w.seconds, position: w.train, views: 1 },
    validation: { seconds: w.seconds, position: w.validation, views: 1 },
    test: { seconds: w.seconds, position: w.validation, views: w.test_views },
  };
}

export interface RunLoaders {
  train: DataLoader;
  /**
   * Null when the run has no such split, and also, in a sharded evaluation, on a rank whose shard
   * is empty (fewer clips than ranks): whether the split exists is `RunData.validation` / `.test`.
   */
  validation: DataLoader | null;
  test: DataLoader | null;
  /** every loader, for closing */
  all: DataLoader[];
}

/**
 * The train loader (shuffled, augmented) and the evaluation loaders. `data.cache: auto` keeps in
 * memory what fits comfortably (features are float32 [frames, bins] per clip) and does not change
 * between epochs (no augmentation).
 *
 * Data parallelism: `shard` splits every training batch; `evalShard(n)` (the positions of n clips
 * this rank evaluates) makes the evaluation loaders read only those clips, in batches of
 * ceil(eval batch / world size), since the evaluation batch size is a global one like the training's.
 */
export function makeLoaders(
  recipe: Recipe,
  data: RunData,
  frontend: FrontendSpec,
  workers: WorkerPool | number,
  shard?: { rank: number; worldSize: number },
  evalShard?: (n: number) => number[],
): RunLoaders {
  const t = recipe.train;
  const numClasses = data.labels.length;
  const augment = augmentSpec(recipe);
  const windows = windowSpecs(recipe);
  // a random training window changes the features every epoch, as augmentation does
  const augments =
    augment.freqm > 0 ||
    augment.timem > 0 ||
    augment.mixup > 0 ||
    augment.noise ||
    augment.epic !== null ||
    windows.train?.position === 'random';
  const bytes = (clips: ClipRef[] | null): number => (clips?.length ?? 0) * frontend.targetLength * frontend.numMelBins * 4;
  const budget = Math.min(4 * 2 ** 30, totalmem() / 4);
  const evalBytes = bytes(data.validation) + bytes(data.test) * (windows.test?.views ?? 1);
  const cacheEval = recipe.data.cache === true || (recipe.data.cache === 'auto' && evalBytes <= budget);
  const cacheTrain = recipe.data.cache === true || (recipe.data.cache === 'auto' && !augments && evalBytes + bytes(data.train) <= budget);
  const all: DataLoader[] = [];
  const train = new DataLoader({
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
    window: windows.train,
    ...(shard ? { shard } : {}),
  });
  all.push(train);
  const ranks = evalShard ? Math.max(1, shard?.worldSize ?? 1) : 1;
  const evalBatch = Math.ceil((t.eval_batch_size ?? t.batch_size) / ranks);
  const evalLoader = (split: ClipRef[] | null, window: WindowSpec | null): DataLoader | null => {
    if (split === null) return null;
    const clips = evalShard ? evalShard(split.length).map((p) => split[p]!) : split;
    if (clips.length === 0) return null;
    const l = new DataLoader({
      clips,
      numClasses,
      frontend,
      batchSize: evalBatch,
      workers,
      prefetch: recipe.data.prefetch,
      cache: cacheEval,
      window,
    });
    all.push(l);
    return l;
  };
  const validation = evalLoader(data.validation, windows.validation);
  const test = evalLoader(data.test, windows.test);
  return { train, validation, test, all };
}
