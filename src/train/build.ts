/** What a recipe builds: the AST with its PEFT method, the optimizer and the learning-rate schedule. */
import { fileProvenance, randomProvenance, type BackboneProvenance } from '../infer/provenance.js';
import { existsSync } from 'node:fs';
import type { Tensor } from '../tensor/tensor.js';
import { AudioSpectrogramTransformer, loadAst, type AstConfig } from '../models/ast.js';
import { backbonePath } from '../models/pull.js';
import { applyPeft } from '../peft/methods.js';
import type { ResolvedPeft } from '../peft/config.js';
import { Adam, AdamW } from '../optim/adam.js';
import { SGD } from '../optim/sgd.js';
import type { Optimizer, GroupOptions } from '../optim/optimizer.js';
import { constantLr, cosineLr, multiStepLr, stepDecayLr, type LrSchedule } from '../optim/schedule.js';
import type { Recipe } from './recipe.js';

/** The recipe's PEFT config (already resolved by parsePeft when the recipe was read), as a copy. */
export function peftConfig(recipe: Recipe): ResolvedPeft {
  return structuredClone(recipe.peft);
}

export function astConfig(recipe: Recipe, numClasses: number): AstConfig {
  const m = recipe.model;
  const cfg: AstConfig = {
    arch: m.arch,
    numClasses,
    melBins: recipe.frontend.num_mel_bins,
    frames: recipe.frontend.target_length,
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
      throw new Error(
        `model.backbone: no pretrained weights for ${recipe.model.arch} at ${p}: run \`loaa pull ${recipe.model.arch}\` (or set model.backbone: random)`,
      );
    }
    return p;
  }
  if (!existsSync(b)) throw new Error(`model.backbone: ${b}: no such checkpoint`);
  return b;
}

/** The AST with the recipe's PEFT method applied. */
export function buildModel(
  recipe: Recipe,
  numClasses: number,
): { model: AudioSpectrogramTransformer; backbone: string; provenance: BackboneProvenance } {
  const cfg = astConfig(recipe, numClasses);
  const seed = recipe.model.init_seed ?? recipe.seed;
  const file = backboneFile(recipe);
  const model = file === null ? new AudioSpectrogramTransformer(cfg, { seed }) : loadAst(file, cfg, { seed }).model;
  // recorded in every saved adapter, so predict/serve can rebuild or find (and check) this backbone
  const provenance = file === null ? randomProvenance(cfg.arch, seed, model) : fileProvenance(cfg.arch, file);
  try {
    applyPeft(model, peftConfig(recipe), { seed });
  } catch (e) {
    model.dispose();
    throw new Error(`peft.${(e as Error).message}`);
  }
  return { model, backbone: file ?? 'random', provenance };
}

export function makeOptimizer(recipe: Recipe, params: Tensor[]): Optimizer<GroupOptions> {
  const o = recipe.optim;
  switch (o.name) {
    case 'adam':
    case 'adamw': {
      const opts = { lr: o.lr, betas: [o.betas[0], o.betas[1]] as [number, number], eps: o.eps, weightDecay: o.weight_decay };
      return (o.name === 'adam' ? new Adam(params, opts) : new AdamW(params, opts)) as unknown as Optimizer<GroupOptions>;
    }
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
