/**
 * BitFit: the backbone's biases train, nothing else of it. "Biases" are every backbone tensor named
 * `*.bias`: patch embedding, qkv, proj, fc1, fc2 and every LayerNorm (the final `norm` included).
 * Checkpoints store them under these same (timm) names.
 */
/** A backbone bias (not the head's, not a PEFT module's). */
export function isBitfitParam(name: string): boolean {
  return name.endsWith('.bias') && !name.startsWith('head.') && !/_adapter\.|\.lora_/.test(name);
}
