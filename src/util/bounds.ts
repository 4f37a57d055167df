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
  /** adapter kernel sides (LoAA uses 3 and 5) */
  kernel: 31,
  /**
   * patch tokens of one clip: attention costs tokens^2 per head and layer, so 8192 tokens is already
   * about 3 GiB of scores per layer (12 heads, fp32); the AST at 1024 frames, stride 10, has 1212
   */
  patchTokens: 8_192,
} as const;

/**
 * The patch-token count of an input geometry, checked before any model is built: 100000 frames at
 * stride 1 is 1.2 million tokens (a quadratic attention of terabytes) and is refused naming `key`
 * with the estimate, instead of a process that allocates for minutes.
 */
export function checkPatchTokens(
  g: { melBins: number; frames: number; fstride: number; tstride: number },
  key: string,
  patch = 16,
  extra = 0,
): number {
  const f = Math.max(0, Math.floor((g.melBins - patch) / g.fstride) + 1);
  const t = Math.max(0, Math.floor((g.frames - patch) / g.tstride) + 1);
  const tokens = f * t + extra;
  if (tokens > LIMITS.patchTokens) {
    const gib = (tokens * tokens * 12 * 4) / 2 ** 30;
    throw new Error(
      `${key}: ${g.melBins} mel bins x ${g.frames} frames at stride ${g.fstride}x${g.tstride} make ${tokens} tokens, over the limit of ${LIMITS.patchTokens} ` +
        `(about ${gib.toFixed(gib < 10 ? 1 : 0)} GiB of attention scores per layer): use fewer frames or a larger stride`,
    );
  }
  return tokens;
}

/** An integer in [min, max], or an Error starting with `key` that says what was found and allowed. */
export function checkCount(value: unknown, key: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new Error(`${key}: must be an integer in [${min}, ${max}], got ${describeValue(value)}`);
  }
  if (value < min || value > max) throw new Error(`${key}: ${value} is outside [${min}, ${max}]`);
  return value;
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number') return String(v);
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v;
}
