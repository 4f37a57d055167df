/**
 * Training recipes: YAML files in `recipes/`, checked against a schema that also supplies the
 * defaults. A recipe may `extends:` another file (deep merge; lists are replaced, not merged).
 * Every key can be overridden from the command line with `--set key.path=value`, the value typed by
 * the schema (`--set optim.lr=1e-3`, `--set peft.adapters.0.bottleneck=48`, `--set model.depth=null`).
 *
 * Errors name the file and the key path: `recipes/x.yaml: optim.lr: expected a number, got "fast"`.
 * Relative paths in a file (data.root, model.backbone, extends) are relative to that file; relative
 * paths given with --set / --data-root are relative to the working directory.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { readRegularText } from '../util/fs.js';
import { parseYamlBounded } from '../io/yaml.js';
import { checkPatchTokens } from '../util/bounds.js';
import { arr, bool, check, f, int, join, nodeAt, nul, num, obj, opt, or, RecipeError, show, str, typedValue, type Node } from './schema.js';

export { RecipeError } from './schema.js';
import { parsePeft, PEFT_METHODS, type ResolvedPeft } from '../peft/config.js';
import { resolveRecipePath } from './recipe_name.js';
import { PRECISIONS, type PrecisionSpec } from '../tensor/engine_spec.js';
import { SAMPLE_RATE } from '../audio/frontend.js';
import { WINDOW_POSITIONS, type WindowPosition } from '../data/window.js';

// ---------------------------------------------------------------- the recipe, as code sees it

export type MetricName = 'top1' | 'top5' | 'mAP' | 'meanClassAccuracy' | 'macroAUC' | 'dPrime' | 'loss';

export interface Recipe {
  name: string;
  description: string;
  seed: number;
  data: {
    type: string;
    root: string;
    /** reader options (openDataset), e.g. {validation: index5-9} for FSDD, {classes: 12} for Speech Commands */
    options: Record<string, unknown>;
    train: string;
    validation: string | null;
    test: string | null;
    /** k-fold datasets (ESC-50): this fold is held out and evaluated every epoch (AST's protocol) */
    fold: number | null;
    /** use only this many training clips (a seeded, class-balanced-by-order subset); null: all */
    train_limit: number | null;
    eval_limit: number | null;
    workers: number;
    prefetch: number;
    /** keep un-augmented features in memory: auto = every set whose features do not change */
    cache: 'auto' | boolean;
    /** read a window of every clip (EPIC-SOUNDS' 1.999 s); null: the whole clip, cropped by the front end */
    window: {
      seconds: number;
      train: WindowPosition;
      validation: WindowPosition;
      /** evenly spaced windows of every test clip, their logits averaged (1: one window as validation's) */
      test_views: number;
    } | null;
  };
  frontend: {
    type: 'ast' | 'epic';
    sample_rate: number;
    num_mel_bins: number;
    target_length: number;
    /** `auto`: computed from the training clips (AST's get_norm_stats); null: no normalisation */
    mean: number | 'auto' | null;
    std: number | 'auto' | null;
  };
  augment: {
    freqm: number;
    timem: number;
    mixup: number;
    mixup_alpha: number;
    noise: boolean;
    /** EPIC-SOUNDS' SpecAugment on training clips (src/audio/spec_augment_epic.ts); null: off */
    epic: {
      /** time warp W: a frame moves by less than W (0: no warp) */
      warp: number;
      /** the reference's F: each frequency mask is narrower than this many bins */
      freq_width: number;
      freq_masks: number;
      /** the reference's T: each time mask is narrower than this many frames */
      time_width: number;
      time_masks: number;
    } | null;
  };
  model: {
    arch: string;
    /** `pretrained`: the weights `loaa pull <arch>` fetched; `random`: random initialisation; or a checkpoint path */
    backbone: string;
    fstride: number;
    tstride: number;
    depth: number | null;
    /** model initialisation seed (random weights, adapters, head); null: the recipe seed */
    init_seed: number | null;
  };
  /** checked and defaulted by parsePeft (src/peft/config.ts), the same as adapter_config.json */
  peft: ResolvedPeft;
  optim: {
    name: 'adam' | 'adamw' | 'sgd';
    lr: number;
    betas: [number, number];
    eps: number;
    weight_decay: number;
    momentum: number;
    grad_clip: number | null;
  };
  schedule: {
    type: 'constant' | 'step' | 'multistep' | 'cosine';
    /** step: the first decayed epoch is start + 1 (AST's lrscheduler_start) */
    start: number;
    gamma: number;
    every: number;
    milestones: number[];
    factors: number[];
    min_lr: number;
    warmup_epochs: number;
    warmup_start_lr: number;
  };
  train: {
    epochs: number;
    batch_size: number;
    eval_batch_size: number | null;
    loss: 'ce' | 'bce';
    label_smoothing: number;
    drop_last: boolean;
    best_metric: MetricName;
    /** also checkpoint every N optimizer steps (0: at the end of every epoch only) */
    checkpoint_every: number;
    log_every: number;
    /** stop after this many steps (smoke tests, benchmarks); null: run all epochs */
    max_steps: number | null;
    /** cpu, cuda, cuda:N or auto (the first GPU when there is one) */
    device: string;
    /** fp32, or mixed precision with torch.autocast's semantics: bf16, fp16 (loss-scaled), auto */
    precision: PrecisionSpec;
    /** batches of batch_size whose gradients add up to one optimizer step (effective batch = batch_size x accumulate) */
    accumulate: number;
  };
}

// ---------------------------------------------------------------- schema

export const METRICS: readonly MetricName[] = ['top1', 'top5', 'mAP', 'meanClassAccuracy', 'macroAUC', 'dPrime', 'loss'];

// Shapes only, for key checks and typing --set values; parsePeft supplies defaults and the rules.
const ADAPTER = obj({
  position: opt(str(['attn', 'ffn'])),
  kernel: opt(arr(int(1), 2)),
  bottleneck: opt(int(1)),
  bias: opt(bool),
  scale: opt(num()),
  mode: opt(str(['parallel', 'sequential'])),
});

export const RECIPE_SCHEMA: Node = obj({
  extends: { node: str() },
  name: f(str(), ''),
  description: f(str(), ''),
  seed: f(int(0), 0),
  data: f(
    obj({
      type: f(str()),
      root: f(str()),
      options: f(obj({}, true), {}),
      train: f(str(), 'train'),
      validation: f(or(str(), nul), 'validation'),
      test: f(or(str(), nul), 'test'),
      fold: f(or(int(1), nul), null),
      train_limit: f(or(int(1), nul), null),
      eval_limit: f(or(int(1), nul), null),
      workers: f(int(0, 64), 2),
      prefetch: f(int(1, 256), 4),
      cache: f(or(str(['auto']), bool), 'auto'),
      window: f(
        or(
          obj({
            seconds: f(num({ min: Number.MIN_VALUE })),
            train: f(str(WINDOW_POSITIONS), 'random'),
            validation: f(str(WINDOW_POSITIONS), 'random'),
            test_views: f(int(1, 64), 1),
          }),
          nul,
        ),
        null,
      ),
    }),
  ),
  frontend: f(
    obj({
      type: f(str(['ast', 'epic']), 'ast'),
      sample_rate: f(int(1, 384000), SAMPLE_RATE),
      num_mel_bins: f(int(1, 4096), 128),
      target_length: f(int(16)),
      mean: f(or(num(), str(['auto']), nul), null),
      std: f(or(num({ min: Number.MIN_VALUE }), str(['auto']), nul), null),
    }),
  ),
  augment: f(
    obj({
      freqm: f(int(0), 0),
      timem: f(int(0), 0),
      mixup: f(num({ min: 0, max: 1 }), 0),
      mixup_alpha: f(num({ min: Number.MIN_VALUE }), 10),
      noise: f(bool, false),
      epic: f(
        or(
          obj({
            warp: f(int(0), 5),
            freq_width: f(int(1), 27),
            freq_masks: f(int(0), 2),
            time_width: f(int(1), 25),
            time_masks: f(int(0), 2),
          }),
          nul,
        ),
        null,
      ),
    }),
    {},
  ),
  model: f(
    obj({
      arch: f(str()),
      backbone: f(str(), 'pretrained'),
      fstride: f(int(1, 16), 16),
      tstride: f(int(1, 16), 16),
      depth: f(or(int(1, 64), nul), null),
      init_seed: f(or(int(0), nul), null),
    }),
  ),
  peft: f(
    obj({
      method: f(str(PEFT_METHODS)),
      adapters: opt(arr(ADAPTER)),
      lora: opt(or(obj({ rank: opt(int(1)), alpha: opt(num({ min: Number.MIN_VALUE })), targets: opt(arr(str(['q', 'k', 'v']))) }), nul)),
      prompt: opt(or(obj({ tokens: opt(int(1)) }), nul)),
    }),
  ),
  optim: f(
    obj({
      name: f(str(['adam', 'adamw', 'sgd']), 'adam'),
      lr: f(num({ min: 0 })),
      betas: f(arr(num({ min: 0, max: 1 }), 2), [0.9, 0.999]),
      eps: f(num({ min: 0 }), 1e-8),
      weight_decay: f(num({ min: 0 }), 0),
      momentum: f(num({ min: 0, max: 1 }), 0.9),
      grad_clip: f(or(num({ min: Number.MIN_VALUE }), nul), null),
    }),
  ),
  schedule: f(
    obj({
      type: f(str(['constant', 'step', 'multistep', 'cosine']), 'constant'),
      start: f(int(0), 0),
      gamma: f(num({ min: 0 }), 1),
      every: f(int(1), 1),
      milestones: f(arr(num({ min: 0 })), []),
      factors: f(arr(num({ min: 0 })), []),
      min_lr: f(num({ min: 0 }), 0),
      warmup_epochs: f(num({ min: 0 }), 0),
      warmup_start_lr: f(num({ min: 0 }), 0),
    }),
    {},
  ),
  train: f(
    obj({
      epochs: f(int(1)),
      batch_size: f(int(1)),
      eval_batch_size: f(or(int(1), nul), null),
      loss: f(str(['ce', 'bce']), 'ce'),
      label_smoothing: f(num({ min: 0, max: 1 }), 0),
      drop_last: f(bool, false),
      best_metric: f(str(METRICS), 'top1'),
      checkpoint_every: f(int(0), 0),
      log_every: f(int(1), 20),
      max_steps: f(or(int(1), nul), null),
      device: f(str(), 'cpu'),
      precision: f(str([...PRECISIONS]), 'fp32'),
      accumulate: f(int(1, 4096), 1),
    }),
  ),
});

export function applyOverrides(raw: Record<string, unknown>, sets: string[]): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new RecipeError('', `--set ${s}: expected key.path=value`);
    const keyPath = s
      .slice(0, eq)
      .trim()
      .replace(/\[(\d+)\]/g, '.$1');
    const path = keyPath.split('.').filter((k) => k !== '');
    const where = `--set ${keyPath}`;
    const node = nodeAt(RECIPE_SCHEMA, path, where);
    let value: unknown;
    try {
      value = typedValue(node, s.slice(eq + 1));
    } catch (e) {
      throw new RecipeError(keyPath, `${where}: ${(e as Error).message}`);
    }
    try {
      check(value, node, keyPath, false);
    } catch (e) {
      if (e instanceof RecipeError) throw new RecipeError(keyPath, `${where}: ${e.detail}`);
      throw e;
    }
    let cur: Record<string, unknown> | unknown[] = out;
    for (let i = 0; i < path.length - 1; i++) {
      const k = path[i]!;
      const nextIsIndex = /^\d+$/.test(path[i + 1]!);
      const container = cur as Record<string, unknown>;
      if (container[k] === undefined || container[k] === null || typeof container[k] !== 'object') {
        if (nextIsIndex) throw new RecipeError(keyPath, `${where}: ${path.slice(0, i + 1).join('.')} is not a list in this recipe`);
        container[k] = {};
      }
      cur = container[k] as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (Array.isArray(cur)) {
      const i = Number(last);
      if (i > cur.length) throw new RecipeError(keyPath, `${where}: index ${i} is past the end of the list (${cur.length} items)`);
      cur[i] = value;
    } else {
      (cur as Record<string, unknown>)[last] = value;
    }
  }
  return out;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge: mappings merge key by key, anything else (lists included) is replaced. */
export function mergeRecipes(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlain(v) && isPlain(out[k]) && k !== 'options' ? mergeRecipes(out[k] as Record<string, unknown>, v) : structuredClone(v);
  }
  return out;
}

/** Paths in a file are relative to it. */
function resolvePaths(raw: Record<string, unknown>, dir: string): void {
  const data = raw.data as Record<string, unknown> | undefined;
  if (isPlain(data) && typeof data.root === 'string' && data.root !== '' && !isAbsolute(data.root)) data.root = resolve(dir, data.root);
  const model = raw.model as Record<string, unknown> | undefined;
  if (
    isPlain(model) &&
    typeof model.backbone === 'string' &&
    !['pretrained', 'random'].includes(model.backbone) &&
    !isAbsolute(model.backbone)
  ) {
    model.backbone = resolve(dir, model.backbone);
  }
}

/** One file and the files it extends, merged (base first), each checked for unknown keys and types. */
export function readRecipeFile(path: string, seen: string[] = []): Record<string, unknown> {
  const abs = resolve(path);
  if (seen.includes(abs)) throw new RecipeError('extends', `cycle: ${[...seen, abs].join(' -> ')}`, path);
  if (!existsSync(abs)) throw new Error(`${path}: recipe file not found`);
  let raw: unknown;
  // regular files only: `extends: /dev/zero` or a FIFO is refused, not read until memory runs out
  const text = readRegularText(abs, 'recipe');
  raw = parseYamlBounded(text, path);
  if (raw === null || raw === undefined) raw = {};
  if (!isPlain(raw)) throw new Error(`${path}: expected a mapping of recipe keys at the top level`);
  try {
    check(raw, RECIPE_SCHEMA, '', false);
  } catch (e) {
    if (e instanceof RecipeError) throw e.inFile(path);
    throw e;
  }
  const own = structuredClone(raw);
  resolvePaths(own, dirname(abs));
  const ext = own.extends;
  delete own.extends;
  if (typeof ext !== 'string') return own;
  const basePath = resolve(dirname(abs), ext);
  return mergeRecipes(readRecipeFile(basePath, [...seen, abs]), own);
}

/** The final recipe: defaults filled in, required keys checked, cross-field rules applied. */
export function finishRecipe(raw: Record<string, unknown>, source: string): Recipe {
  let r: Recipe;
  try {
    r = check(raw, RECIPE_SCHEMA, '', true) as Recipe;
    crossCheck(r);
  } catch (e) {
    if (e instanceof RecipeError) throw e.inFile(source);
    throw e;
  }
  return r;
}

function crossCheck(r: Recipe): void {
  const fe = r.frontend;
  if ((fe.mean === null) !== (fe.std === null) || (fe.mean === 'auto') !== (fe.std === 'auto')) {
    throw new RecipeError('frontend.std', `mean and std go together (mean ${show(fe.mean)}, std ${show(fe.std)})`);
  }
  const s = r.schedule;
  if (s.type === 'multistep' && s.milestones.length !== s.factors.length) {
    throw new RecipeError('schedule.factors', `${s.factors.length} factor(s) for ${s.milestones.length} milestone(s)`);
  }
  s.milestones.forEach((m, i) => {
    if (i > 0 && m <= s.milestones[i - 1]!) throw new RecipeError(`schedule.milestones.${i}`, 'milestones must increase');
  });
  try {
    r.peft = parsePeft(r.peft, 'peft');
  } catch (e) {
    const m = /^([\w.]+): (.*)$/s.exec((e as Error).message);
    throw m ? new RecipeError(m[1]!, m[2]!) : e;
  }
  if (r.data.prefetch < 1) throw new RecipeError('data.prefetch', 'must be >= 1');
  // the geometry sizes attention quadratically: refused here, before data or a model is touched
  const g = { melBins: fe.num_mel_bins, frames: fe.target_length, fstride: r.model.fstride, tstride: r.model.tstride };
  try {
    checkPatchTokens(g, 'frontend.target_length', 16, r.peft.prompt?.tokens ?? 0);
  } catch (e) {
    throw new RecipeError('frontend.target_length', (e as Error).message.replace(/^frontend\.target_length: /, ''));
  }
}

export interface LoadOptions {
  /** `key.path=value` overrides */
  set?: string[];
  /** replaces data.root (relative to the working directory) */
  dataRoot?: string;
}

/** Reads, merges, overrides and checks a recipe file (or a packaged recipe by name: recipe_name.ts). */
export function loadRecipe(path: string, opts: LoadOptions = {}): Recipe {
  let raw = readRecipeFile(resolveRecipePath(path));
  try {
    raw = applyOverrides(raw, opts.set ?? []);
  } catch (e) {
    if (e instanceof RecipeError) throw new RecipeError(e.keyPath, e.detail);
    throw e;
  }
  if (opts.dataRoot !== undefined) {
    raw.data = { ...(isPlain(raw.data) ? raw.data : {}), root: resolve(opts.dataRoot) };
  }
  // --set paths are the user's, relative to the working directory
  for (const s of opts.set ?? []) {
    const m = /^\s*(data\.root|model\.backbone)\s*=(.*)$/.exec(s);
    if (!m) continue;
    const v = m[2]!.trim();
    if (m[1] === 'data.root' && !isAbsolute(v)) (raw.data as Record<string, unknown>).root = resolve(v);
    if (m[1] === 'model.backbone' && !['pretrained', 'random'].includes(v) && !isAbsolute(v))
      (raw.model as Record<string, unknown>).backbone = resolve(v);
  }
  const r = finishRecipe(raw, path);
  if (r.name === '') r.name = path.replace(/^.*[\\/]/, '').replace(/\.ya?ml$/i, '');
  return r;
}

/** A recipe from an in-memory object (the demo, tests, a run's saved recipe.json). */
export function recipeFromObject(raw: Record<string, unknown>, source = 'recipe', set: string[] = []): Recipe {
  let r: Record<string, unknown>;
  try {
    check(raw, RECIPE_SCHEMA, '', false);
    r = applyOverrides(raw, set);
  } catch (e) {
    if (e instanceof RecipeError) throw e.inFile(source);
    throw e;
  }
  return finishRecipe(r, source);
}

/** Key paths where two recipes differ (for `--resume` with a changed recipe). */
export function recipeDiff(a: unknown, b: unknown, path = ''): string[] {
  if (isPlain(a) && isPlain(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => recipeDiff(a[k], b[k], join(path, k)));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
}
