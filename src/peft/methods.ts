/**
 * The fine-tuning methods as one config, and `applyPeft`, which adds the method's modules to an AST
 * and sets what trains (docs/interfaces.md section 1; tools/fixtures/reference_model.py):
 *
 * | method  | added                                   | trains (besides the head and anything added) |
 * |---------|-----------------------------------------|----------------------------------------------|
 * | loaa    | adapters (default attn 1x3, r 36)       | -                                            |
 * | adapter | adapters (default attn+ffn 1x1, r 36)   | -                                            |
 * | linear  | -                                       | -                                            |
 * | full    | -                                       | everything                                   |
 * | lora    | LoRA (default r 8, alpha 16, q and v)   | -                                            |
 * | bitfit  | -                                       | every backbone `.bias`                       |
 * | prompt  | deep prompts (default 10 per block)     | -                                            |
 *
 * Adapters, LoRA and prompts may be combined with any method (e.g. LoAA + prompts); every tensor
 * added trains. The head (`head.norm`, `head.fc`) always trains.
 */
import { Module } from '../nn/module.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import { checkAdapterSpec, LookAsideAdapter, type AdapterSpec } from './adapter.js';
import { isBitfitParam } from './bitfit.js';
import { checkLoraSpec, LoraDelta, LORA_DEFAULTS, type LoraSpec } from './lora.js';
import { addPrompts, checkPromptSpec, PROMPT_DEFAULTS, removePrompts, type PromptSpec } from './prompt.js';
import { getState, recordOriginal, restoreOriginals, setState } from './state.js';

export const PEFT_METHODS = ['loaa', 'adapter', 'linear', 'full', 'lora', 'bitfit', 'prompt'] as const;
export type PeftMethod = (typeof PEFT_METHODS)[number];

export interface PeftConfig {
  method: PeftMethod;
  adapters?: AdapterSpec[];
  lora?: LoraSpec;
  prompt?: PromptSpec;
}

/** A config with every default filled in and every value checked. */
export interface ResolvedPeft {
  method: PeftMethod;
  adapters: Required<AdapterSpec>[];
  lora: Required<LoraSpec> | null;
  prompt: PromptSpec | null;
}

export const DEFAULT_BOTTLENECK = 36;

/** The adapters a method gets when the config lists none. */
export function defaultAdapters(method: PeftMethod, bottleneck = DEFAULT_BOTTLENECK): AdapterSpec[] {
  if (method === 'loaa') return [{ position: 'attn', kernel: [1, 3], bottleneck }];
  if (method === 'adapter') return [{ position: 'attn', kernel: [1, 1], bottleneck }, { position: 'ffn', kernel: [1, 1], bottleneck }];
  return [];
}

export function isPeftMethod(m: unknown): m is PeftMethod {
  return typeof m === 'string' && (PEFT_METHODS as readonly string[]).includes(m);
}

/** Fills defaults and validates; errors name the key (`adapters[1].kernel`, `lora.rank`, ...). */
export function resolvePeft(cfg: PeftConfig | ResolvedPeft): ResolvedPeft {
  if (cfg === null || typeof cfg !== 'object') throw new Error('peft: expected an object');
  if (!isPeftMethod(cfg.method)) throw new Error(`method: expected one of ${PEFT_METHODS.join(', ')}, got ${JSON.stringify(cfg.method)}`);
  const method = cfg.method;
  const given = cfg.adapters;
  if (given !== undefined && !Array.isArray(given)) throw new Error('adapters: expected a list');
  const list = given === undefined ? defaultAdapters(method) : given;
  if ((method === 'loaa' || method === 'adapter') && list.length === 0) throw new Error(`adapters: method "${method}" needs at least one adapter`);
  const adapters = list.map((a, i) => checkAdapterSpec(a, `adapters[${i}]`));
  const seen = new Set<string>();
  for (const [i, a] of adapters.entries()) {
    if (seen.has(a.position)) throw new Error(`adapters[${i}].position: a second "${a.position}" adapter (one per position)`);
    seen.add(a.position);
  }
  let lora = cfg.lora ? checkLoraSpec(cfg.lora) : null;
  if (!lora && method === 'lora') lora = checkLoraSpec(LORA_DEFAULTS);
  let prompt = cfg.prompt ? checkPromptSpec(cfg.prompt) : null;
  if (!prompt && method === 'prompt') prompt = { ...PROMPT_DEFAULTS };
  return { method, adapters, lora, prompt };
}

/** Does parameter `name` train under this config? (the reference's `is_trainable`) */
export function isTrainable(name: string, peft: ResolvedPeft): boolean {
  if (name.startsWith('head.') || peft.method === 'full') return true;
  if (isAddedParam(name)) return true;
  if (peft.method === 'bitfit') return isBitfitParam(name);
  return false;
}

/** A tensor PEFT added (adapters, LoRA, prompts), as opposed to a backbone or head tensor. */
export function isAddedParam(name: string): boolean {
  return /_adapter\.|\.lora_[qkv]\.|(^|\.)prompt$/.test(name);
}

/**
 * Adds the method's modules to every block and sets requiresGrad. A model that already carries a
 * PEFT config has it removed first (`removePeft`). Returns the resolved config.
 */
export function applyPeft(model: AudioSpectrogramTransformer, cfg: PeftConfig | ResolvedPeft, opts: { seed?: number } = {}): ResolvedPeft {
  const peft = resolvePeft(cfg);
  if (getState(model)?.config) removePeft(model);
  const D = model.embedDim;
  const seed = opts.seed;
  model.blocks.items.forEach((blk, i) => {
    peft.adapters.forEach((a, j) => {
      const s = seed === undefined ? undefined : seed + 1000 * i + 10 * j + 1;
      blk.setAdapter(a.position, new LookAsideAdapter(D, a, { seed: s }))?.dispose();
    });
    if (peft.lora) {
      for (const [j, t] of peft.lora.targets.entries()) {
        const s = seed === undefined ? undefined : seed + 1000 * i + 500 + j;
        blk.attn.setLora(t, new LoraDelta(D, peft.lora.rank, peft.lora.alpha, { seed: s }))?.dispose();
      }
    }
  });
  if (peft.prompt) addPrompts(model, peft.prompt, seed === undefined ? undefined : seed + 777);
  setTrainable(model, peft);
  const prev = getState<ResolvedPeft>(model);
  setState(model, { config: peft, originals: prev?.originals ?? new Map() });
  // BitFit trains backbone tensors: keep their values (small) so removePeft / swapAdapter can restore the
  // shared backbone. Full fine-tuning would need a copy of the whole model: it is restored only when
  // its tensors came from loadAdapter.
  if (peft.method === 'bitfit') for (const [n, p] of model.namedParameters()) if (isBitfitParam(n)) recordOriginal(model, n, p);
  return peft;
}

/** Sets requiresGrad of every parameter from the config. */
export function setTrainable(model: Module, peft: ResolvedPeft): void {
  for (const [name, p] of model.namedParameters()) p.requiresGrad = isTrainable(name, peft);
}

/** The config applied to a model, or undefined for a bare one. */
export function peftOf(model: Module): ResolvedPeft | undefined {
  return getState<ResolvedPeft>(model)?.config;
}

/**
 * Takes every PEFT module out (disposed), restores backbone tensors that an adapter overwrote (BitFit,
 * full fine-tuning, merged LoRA), and leaves the bare model with every parameter trainable.
 */
export function removePeft(model: AudioSpectrogramTransformer): void {
  for (const blk of model.blocks.items) {
    blk.setAdapter('attn', null)?.dispose();
    blk.setAdapter('ffn', null)?.dispose();
    for (const t of ['q', 'k', 'v'] as const) blk.attn.setLora(t, null)?.dispose();
  }
  removePrompts(model);
  restoreOriginals(model);
  setState(model, undefined);
  for (const [, p] of model.namedParameters()) p.requiresGrad = true;
}

/** Names of the parameters that train. */
export function trainableNames(model: Module): string[] {
  return [...model.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n);
}
