/** One clip to load: a whole file, or a `[start, end)` sample range of a long file. */
export interface ClipRef {
  /** Unique within its split; stable across runs (a relative path or the dataset's own id). */
  id: string;
  /** The audio file (absolute, or as the user gave it); for EPIC-SOUNDS the HDF5 file. */
  path: string;
  /** Class index, or indices for multi-label data; `UNLABELED` (-1) where the split has no labels. */
  label: number | number[];
  /** Sample offsets into `path` at the file's own rate (EPIC-SOUNDS: 24 kHz), end exclusive. */
  start?: number;
  end?: number;
  /** Reader that produced it (`esc50`, `speechcommands`, `epic-sounds`, ...). */
  dataset?: string;
  /** Where it came from within the dataset: ESC-50 `src_file`, FSDD speaker, EPIC video_id (the HDF5 key). */
  source?: string;
}

/** The label of clips whose annotations carry none (the EPIC-SOUNDS recognition test set). */
export const UNLABELED = -1;

/** What `skipMissing` dropped: how many, and the first few (up to 5). */
export interface Skipped {
  count: number;
  examples: string[];
}

export interface Dataset {
  name: string;
  /** Class names, index = class index. */
  labels: string[];
  multiLabel: boolean;
  /** e.g. `train` / `validation` / `test`, `fold1`..`fold5`, or `all` for data without splits. */
  splits: Record<string, ClipRef[]>;
  /** Native rate of the files, when the dataset has one. */
  sampleRate?: number;
  /** Entries dropped by `skipMissing` (count 0 when none). */
  skipped?: Skipped;
}

/** Options every reader takes. */
export interface ReaderOptions {
  /** Drop clips whose audio file is missing (reported in `Dataset.skipped`) instead of failing. */
  skipMissing?: boolean;
  /** Check that the audio files exist (default true); false lists clips from the annotations alone. */
  verifyFiles?: boolean;
}
