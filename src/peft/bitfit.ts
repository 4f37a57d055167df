/**
 * BitFit: the backbone's biases train, nothing else of it. "Biases" are every backbone tensor named
 * `*.bias`: patch embedding, qkv, proj, fc1, fc2 and every LayerNorm (the final `norm` included).
 * Checkpoints store them under these same (timm) names.
 */
import type { Module } from '../nn/module.js';

/** A backbone bias (not the head's, not a PEFT module's). */
export function isBitfitParam(name: string): boolean {
  return name.endsWith('.bias') && !name.startsWith('head.') && !/_adapter\.|\.lora_/.test(name);
}

/** Names of the backbone biases of a model. */
export function bitfitParamNames(model: Module): string[] {
  return [...model.namedParameters()].map(([n]) => n).filter(isBitfitParam);
}
