/**
 * Which dtype a file's tensor may have where the model expects another. Floats convert among
 * themselves (a float16 or bfloat16 checkpoint loads into float32 parameters), integers among
 * themselves; across the two nothing is cast: an int32 tensor where float32 weights belong is a
 * wrong or tampered file, and casting its integers to floats would load nonsense without a word.
 */
import type { DType } from '../tensor/dtype.js';

const FLOATING: ReadonlySet<DType> = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16']);

export function isFloatingDtype(d: DType): boolean {
  return FLOATING.has(d);
}

/** Throws `${source}: ${key}: ...` naming both dtypes when `found` cannot stand in for `expected`. */
export function checkLoadDtype(source: string, key: string, found: DType, expected: DType): void {
  if (isFloatingDtype(found) === isFloatingDtype(expected)) return;
  throw new Error(
    `${source}: ${key}: the file holds ${found} where ${expected} is expected: refused ` +
      `(${isFloatingDtype(expected) ? 'integers are not weights' : 'floats would be truncated'}; a wrong or damaged file?)`,
  );
}
