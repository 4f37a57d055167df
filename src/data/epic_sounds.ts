import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readCsv, parseIndex } from './csv.js';
import { denseLabels, readLabelFile } from './label_file.js';
import { checkSplits, failIfAny } from './problems.js';
import { UNLABELED, type ClipRef, type Dataset, type ReaderOptions } from './types.js';
import { checkCount, LIMITS } from '../util/bounds.js';

export const EPIC_SOUNDS_SAMPLE_RATE = 24000;
export const EPIC_SOUNDS_CLASSES = 44;
/** Longest clip span read (an hour at 24 kHz, 346 MB as float32): a row spanning 400M samples is an error, not 5 GB. */
export const MAX_CLIP_SAMPLES = 3600 * EPIC_SOUNDS_SAMPLE_RATE;
export const EPIC_SOUNDS_FILES = {
  train: 'EPIC_Sounds_train.csv',
  validation: 'EPIC_Sounds_validation.csv',
  test: 'EPIC_Sounds_recognition_test_timestamps.csv',
  hdf5: 'EPIC-KITCHENS-100_audio.hdf5',
} as const;

export interface EpicSoundsOptions extends ReaderOptions {
  /**
   * Annotation CSVs per split. Default: the files named in `EPIC_SOUNDS_FILES` under `root`, each
   * used when present. A path given here must exist; `null` leaves the split out.
   */
  train?: string | null;
  validation?: string | null;
  test?: string | null;
  /** The audio HDF5 (one dataset per video_id); default `root/EPIC-KITCHENS-100_audio.hdf5`. */
  hdf5?: string;
  /** Class names (a file for `readLabelFile`, or the list); default: the CSVs' class/class_id pairs. */
  labels?: string | string[];
  /** Default 44. */
  numClasses?: number;
}

const REQUIRED = ['annotation_id', 'video_id', 'start_sample', 'stop_sample'];

/**
 * EPIC-SOUNDS: clips cut by `[start_sample, stop_sample)` (24 kHz) from the video's audio in the HDF5
 * file (`path` = the HDF5, `source` = video_id, its key there). CSVs without `class_id` (the
 * recognition test timestamps) give `UNLABELED` clips.
 */
export function readEpicSounds(root: string, opts: EpicSoundsOptions = {}): Dataset {
  const numClasses = checkCount(opts.numClasses ?? EPIC_SOUNDS_CLASSES, 'numClasses', 1, LIMITS.classes);
  const files: [string, string][] = [];
  for (const split of ['train', 'validation', 'test'] as const) {
    const given = opts[split];
    if (given === null) continue;
    if (given !== undefined) {
      if (!existsSync(given)) throw new Error(`${split}: ${given} not found`);
      files.push([split, given]);
    } else if (existsSync(join(root, EPIC_SOUNDS_FILES[split]))) {
      files.push([split, join(root, EPIC_SOUNDS_FILES[split])]);
    }
  }
  if (files.length === 0) {
    const names = [EPIC_SOUNDS_FILES.train, EPIC_SOUNDS_FILES.validation, EPIC_SOUNDS_FILES.test];
    throw new Error(`${root}: no EPIC-SOUNDS annotation CSV found (looked for ${names.join(', ')})`);
  }
  const hdf5 = opts.hdf5 ?? join(root, EPIC_SOUNDS_FILES.hdf5);
  if (opts.verifyFiles !== false && !existsSync(hdf5)) {
    throw new Error(`${hdf5}: audio HDF5 not found (set hdf5, or verifyFiles: false to list the clips without audio)`);
  }

  const names = new Map<number, string>();
  const conflicts: string[] = [];
  const splits: Record<string, ClipRef[]> = {};
  for (const [split, path] of files) {
    const t = readCsv(path, REQUIRED);
    const labelled = t.header.includes('class_id');
    const bad: string[] = [];
    const unknown: string[] = [];
    const long: string[] = [];
    const clips: ClipRef[] = [];
    t.rows.forEach((r, k) => {
      const id = r.annotation_id!.trim();
      const where = `line ${t.lines[k]} (${id || 'no id'})`;
      const start = parseIndex(r.start_sample);
      const end = parseIndex(r.stop_sample);
      const video = r.video_id!.trim();
      if (!id || !video || start === undefined || end === undefined || end <= start) {
        bad.push(where);
        return;
      }
      if (end - start > MAX_CLIP_SAMPLES) {
        long.push(`${where}: ${end - start} samples`);
        return;
      }
      let label = UNLABELED;
      if (labelled) {
        const c = parseIndex(r.class_id);
        if (c === undefined || c >= numClasses) {
          unknown.push(`${where}: class_id ${r.class_id}`);
          return;
        }
        label = c;
        const name = r.class?.trim();
        if (name) {
          const prev = names.get(c);
          if (prev === undefined) names.set(c, name);
          else if (prev !== name) conflicts.push(`class_id ${c} is both ${prev} and ${name} (${path} ${where})`);
        }
      }
      clips.push({ id, path: hdf5, label, start, end, dataset: 'epic-sounds', source: video });
    });
    failIfAny(path, 'rows without annotation_id, video_id and integer start_sample < stop_sample', bad);
    failIfAny(path, `rows with a class_id outside 0..${numClasses - 1}`, unknown);
    failIfAny(path, `rows spanning more than ${MAX_CLIP_SAMPLES} samples (one hour at 24 kHz)`, long);
    splits[split] = clips;
  }
  failIfAny(root, 'class ids with two names', conflicts);

  let labels: string[];
  if (opts.labels !== undefined) {
    labels = typeof opts.labels === 'string' ? readLabelFile(opts.labels) : [...opts.labels];
    const where = typeof opts.labels === 'string' ? opts.labels : 'labels';
    if (labels.length !== numClasses) throw new Error(`${where}: ${labels.length} class names, expected ${numClasses}`);
    const differ = [...names].filter(([i, n]) => labels[i] !== n).map(([i, n]) => `${i}: ${labels[i]} vs the CSV's ${n}`);
    failIfAny(where, 'names differ from the CSVs', differ);
  } else {
    const where = `${files.map((f) => f[1]).join(', ')}`;
    try {
      labels = denseLabels(where, names, numClasses);
    } catch (e) {
      throw new Error(`${(e as Error).message} (pass labels: a file or list of the ${numClasses} names)`);
    }
  }
  checkSplits(root, splits);
  return {
    name: 'epic-sounds',
    labels,
    multiLabel: false,
    splits,
    sampleRate: EPIC_SOUNDS_SAMPLE_RATE,
    skipped: { count: 0, examples: [] },
  };
}

// ---------------------------------------------------------------- the reference's 2-s windows

/** AUDIO_DATA.CLIP_SECS of the SSAST EPIC-SOUNDS config: 1.999 s (400 frames at hop 120 / 24 kHz). */
export const EPIC_CLIP_SECONDS = 1.999;
/** TEST.NUM_ENSEMBLE_VIEWS of the same config. */
export const EPIC_TEST_VIEWS = 5;

/**
 * The samples [start, end) that the reference reads for one view of an annotation
 * (audio_loader_epicsounds.py `pack_audio` / `get_start_end_idx` / `_extract_sound_feature`):
 * clip = round(rate x 1.999); delta = max(length - clip, 0); the window starts at
 * `u x delta` for training (`{ random: u }`, u uniform in [0, 1): `random.uniform(0, delta)`) or
 * at `linspace(0, delta, views)[view]` for test view `view`; it ends clip - 1 samples later, both
 * truncated to integers after adding the annotation's start (Python's int()). An annotation
 * shorter than the clip is read whole.
 */
export function epicWindow(
  start: number,
  stop: number,
  view: number | { random: number },
  o: { sampleRate?: number; views?: number; seconds?: number } = {},
): [number, number] {
  const rate = o.sampleRate ?? EPIC_SOUNDS_SAMPLE_RATE;
  const views = o.views ?? EPIC_TEST_VIEWS;
  const seconds = o.seconds ?? EPIC_CLIP_SECONDS;
  if (!(Number.isInteger(start) && Number.isInteger(stop) && stop > start && start >= 0))
    throw new Error(`epic window: expected integer samples 0 <= start < stop, got ${start}, ${stop}`);
  if (!(seconds > 0)) throw new Error(`epic window: seconds must be positive, got ${seconds}`);
  const clip = Math.round(rate * seconds);
  const length = stop - start;
  if (length < clip) return [start, stop];
  const delta = Math.max(length - clip, 0);
  let offset: number;
  if (typeof view === 'number') {
    if (!Number.isInteger(view) || view < 0 || view >= views) throw new Error(`epic window: view ${view} outside 0..${views - 1}`);
    // numpy.linspace: i * step, the last one exactly `stop`
    offset = views === 1 ? 0 : view === views - 1 ? delta : view * (delta / (views - 1));
  } else {
    if (!(view.random >= 0 && view.random < 1)) throw new Error(`epic window: random position must be in [0, 1), got ${view.random}`);
    offset = view.random * delta;
  }
  return [Math.trunc(start + offset), Math.trunc(start + offset + clip - 1)];
}

/** The test views of a clip as clips of their own (`<id>#view<k>`), to be scored and averaged. */
export function epicTestViews(clip: ClipRef, views = EPIC_TEST_VIEWS): ClipRef[] {
  if (clip.start === undefined || clip.end === undefined) throw new Error(`${clip.id}: an EPIC-SOUNDS clip needs start and end samples`);
  return Array.from({ length: views }, (_, k) => {
    const [start, end] = epicWindow(clip.start!, clip.end!, k, { views });
    return { ...clip, id: `${clip.id}#view${k}`, start, end };
  });
}
