/**
 * Bounds on the counts that size an allocation (classes, label indices, depth, bottleneck, rank,
 * prompt tokens, frames). Each is checked where the value is read, so a forged `num_classes: 1e9` is
 * an Error naming the key within microseconds, not a heap exhaustion a minute later. The limits are
 * far above any real model or dataset and far below what would exhaust a machine.
 */
export const LIMITS = {
  /** AudioSet has 527 classes, the largest label sets in use a few tens of thousands */
  classes: 100_000,
  /** transformer blocks (ViT-Huge has 32) */
  depth: 1_024,
  /** adapter bottleneck / LoRA rank / hidden widths */
  width: 65_536,
  /** prompt tokens */
  tokens: 65_536,
  /** spectrogram frames (1000 s at a 10 ms shift) */
  frames: 100_000,
  /** mel bins (AST uses 128) */
  melBins: 1_024,
  /** sample rates, of files and of front-end settings: below 1 kHz nothing is audio worth classifying */
  minSampleRate: 1_000,
  maxSampleRate: 384_000,
} as const;

/** An integer in [min, max], or an Error starting with `key` that says what was found and allowed. */
export function checkCount(value: unknown, key: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new Error(`${key}: must be an integer in [${min}, ${max}], got ${describeValue(value)}`);
  }
  if (value < min || value > max) throw new Error(`${key}: ${value} is outside [${min}, ${max}]`);
  return value;
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  if (typeof v === 'number') return String(v);
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v;
}
