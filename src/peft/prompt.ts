/**
 * Deep visual prompts (VPT-deep): N learned tokens per block, `blocks.{i}.prompt` [1, N, D], inserted
 * after the special tokens before block i and dropped after it; no positional embedding. Adapters
 * treat them like the special tokens (centre tap only). Initialised U(-0.1, 0.1), as the reference.
 */
import { empty } from '../tensor/functional.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import { checkPromptSpec, type PromptSpec } from './config.js';

export const PROMPT_INIT = 0.1;

/** Adds N prompt tokens to every block (replacing any there; the old ones are disposed). */
export function addPrompts(model: AudioSpectrogramTransformer, spec: PromptSpec, seed?: number): void {
  const { tokens } = checkPromptSpec(spec);
  model.blocks.items.forEach((blk, i) => {
    const p = empty([1, tokens, model.embedDim]).uniform_(-PROMPT_INIT, PROMPT_INIT, seed === undefined ? undefined : seed + 101 * i);
    blk.setPrompt(p)?.dispose();
  });
}

/** Removes (and disposes) every block's prompts. */
export function removePrompts(model: AudioSpectrogramTransformer): void {
  for (const blk of model.blocks.items) blk.setPrompt(null)?.dispose();
}
