/**
 * The words a user picks a device and a precision with, and their checks: no libtorch here, so the
 * command line, recipes and type declarations can use them without loading the engine.
 */
export type Precision = 'fp32' | 'bf16' | 'fp16';
export type LowDType = 'bfloat16' | 'float16';

/** Every precision a user may name (the one list: flags, recipes, the API). */
export const PRECISIONS = ['fp32', 'bf16', 'fp16', 'auto'] as const;
export type PrecisionSpec = (typeof PRECISIONS)[number];

/** What a user may ask for: `auto` is the first GPU when there is one. */
export type DeviceSpec = 'cpu' | 'cuda' | `cuda:${number}` | 'auto';

/** The autocast dtype of a precision (null for fp32: autocast stays off). */
export function precisionDtype(p: Precision): LowDType | null {
  return p === 'bf16' ? 'bfloat16' : p === 'fp16' ? 'float16' : null;
}

/** Checked parsing of a user's `--precision` / `train.precision` value (`auto` is resolved elsewhere). */
export function parsePrecision(v: string, where = '--precision'): PrecisionSpec {
  if (!(PRECISIONS as readonly string[]).includes(v)) throw new Error(`${where}: expected fp32, bf16, fp16 or auto, not "${v}"`);
  return v as PrecisionSpec;
}
