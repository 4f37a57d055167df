/**
 * The fine-tuning methods as one config, and `applyPeft`, which adds the method's modules to an AST
 * and sets what trains (docs/adapter-format.md section 1; tools/fixtures/reference_model.py):
 *
 * | method  | added                                   | trains (besides the head and anything added) |
 * |---------|-----------------------------------------|----------------------------------------------|
 * | loaa    | adapters (default attn 1x3 + ffn 3x1, r 36) | -                                        |
 * | adapter | adapters (default attn+ffn 1x1, r 108)  | -                                            |
 * | linear  | -                                       | -                                            |
 * | full    | -                                       | everything                                   |
 * | lora    | LoRA (default r 8, alpha 16, q and v)   | -                                            |
 * | bitfit  | -                                       | every backbone `.bias`                       |
 * | prompt  | deep prompts (default 10 per block)     | -                                            |
 *
 * The config and its defaults live in config.ts. Adapters, LoRA and prompts may be combined with any
 * method (e.g. LoAA + prompts); every tensor added trains. The head (`head.norm`, `head.fc`) always trains.
 */
import type { Module } from '../nn/module.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import { LookAsideAdapter } from './adapter.js';
import { isBitfitParam } from './bitfit.js';
import { parsePeft, type PeftConfig, type ResolvedPeft } from './config.js';
import { LoraDelta } from './lora.js';
import { addPrompts, removePrompts } from './prompt.js';
import { getState, recordOriginal, restoreOriginals, setState } from './state.js';

export { PEFT_METHODS, isPeftMethod, parsePeft, type PeftConfig, type PeftMethod, type ResolvedPeft } from './config.js';

/** Fills defaults and validates a config given in code (errors name the key: `adapters.1.kernel`). */
export function resolvePeft(cfg: PeftConfig | ResolvedPeft): ResolvedPeft {
  return parsePeft(cfg, '');
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
  // BitFit trains backbone tensors: keep their values (small) so removePeft / loadAdapter can restore the
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
