/**
 * The names of an AST's input size. In TypeScript the spectrogram is `melBins` (F) x `frames` (T)
 * and its patch grid `gridRows` (frequency) x `gridCols` (time). adapter_config.json, the ONNX
 * metadata (`loaa.input`) and the `--fdim` / `--tdim` flags keep the timm/AST spellings `fdim` /
 * `tdim`, which other tools read: the conversion happens once, where such a file or flag is read or
 * written (`inputFromFile`, `inputToFile`).
 */

/** The input an AST is built for: its spectrogram size and the patch stride over it. */
export interface InputGeometry {
  /** mel bins F of the input (`fdim` in files and flags) */
  melBins: number;
  /** frames T of the input (`tdim` in files and flags) */
  frames: number;
  fstride: number;
  tstride: number;
}

/** The patch grid over the input: rows along frequency, columns along time (AST's f_dim x t_dim). */
export interface PatchGrid {
  gridRows: number;
  gridCols: number;
}

/** The file and flag form of an input geometry (adapter_config.json's `input`, `loaa.input`). */
export interface InputGeometryFile {
  fdim: number;
  tdim: number;
  fstride: number;
  tstride: number;
}

/** The file's names of the values, for error messages (`astGrid`'s `keys`). */
export const INPUT_FILE_KEYS = { melBins: 'fdim', frames: 'tdim' } as const;

export function inputFromFile(f: InputGeometryFile): InputGeometry {
  return { melBins: f.fdim, frames: f.tdim, fstride: f.fstride, tstride: f.tstride };
}

/** Keys in the order the format documents. */
export function inputToFile(g: InputGeometry): InputGeometryFile {
  return { fdim: g.melBins, tdim: g.frames, fstride: g.fstride, tstride: g.tstride };
}

/** The names public options took before `melBins` / `frames`; still accepted. */
export interface LegacyInputNames {
  /** @deprecated the old name of `melBins` (still accepted; `melBins` wins when both agree) */
  fdim?: number;
  /** @deprecated the old name of `frames` (still accepted) */
  tdim?: number;
}

/** An options type whose `melBins` / `frames` may be given by their deprecated names instead. */
export type WithLegacyInputNames<T extends { melBins: number; frames: number }> = Omit<T, 'melBins' | 'frames'> &
  Partial<Pick<T, 'melBins' | 'frames'>> &
  LegacyInputNames;

/**
 * `o` with the deprecated `fdim` / `tdim` moved to `melBins` / `frames` (removed from the result).
 * Both spellings of one value must agree; an Error names the keys (prefixed by `where`). A value
 * given by neither name stays undefined, for the caller's own check to name.
 */
export function resolveInputNames<T extends { melBins: number; frames: number }>(o: WithLegacyInputNames<T>, where = ''): T {
  const { fdim, tdim, ...rest } = o;
  const one = (now: number | undefined, old: number | undefined, nowKey: string, oldKey: string): number | undefined => {
    if (old === undefined) return now;
    if (now !== undefined && now !== old)
      throw new Error(
        `${where}${oldKey}: ${old} disagrees with ${nowKey} ${now} (${oldKey} is the deprecated name of ${nowKey}; give one)`,
      );
    return old;
  };
  const melBins = one(o.melBins, fdim, 'melBins', 'fdim');
  const frames = one(o.frames, tdim, 'frames', 'tdim');
  return { ...rest, melBins, frames } as unknown as T;
}

/**
 * Adds read-only, non-enumerable getters under the deprecated names (`fdim` -> `melBins`, ...) to an
 * object handed to callers, so JavaScript that read the old names keeps working; JSON and spreads
 * see only the new names.
 */
export function legacyGetters<T extends object>(o: T, names: Readonly<Record<string, keyof T>>): T {
  for (const [old, now] of Object.entries(names)) Object.defineProperty(o, old, { get: () => o[now], enumerable: false });
  return o;
}

export const LEGACY_INPUT_GETTERS = { fdim: 'melBins', tdim: 'frames' } as const;
export const LEGACY_GRID_GETTERS = { fDim: 'gridRows', tDim: 'gridCols' } as const;
