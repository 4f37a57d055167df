/**
 * The per-clip window: which `seconds` of a clip the front end sees. EPIC-SOUNDS' reference
 * (audio_loader_epicsounds.py) reads a 1.999-s window of every annotation: at a random position in
 * training and validation, at `views` evenly spaced positions at test (their logits averaged by
 * src/train/views.ts). The window is cut from the clip's samples after reading, at the file's own
 * rate, so any dataset with clips longer than the window can use it; the arithmetic is
 * `epicWindow`'s (checked against the reference's numpy).
 *
 * A random position is a function of the item's seed (seed, epoch, clip): a new window every epoch,
 * the same one on a rerun.
 */
import { Rng } from '../audio/rng.js';
import { epicWindow } from './epic_sounds.js';

export const WINDOW_POSITIONS = ['random', 'start', 'center'] as const;
export type WindowPosition = (typeof WINDOW_POSITIONS)[number];

export interface WindowSpec {
  seconds: number;
  /** where one window sits in the clip (unused when `views` > 1) */
  position: WindowPosition;
  /** > 1: an item's `view` (0 .. views - 1) picks one of `views` evenly spaced windows */
  views: number;
}

/** What of a loader item the window depends on. */
export interface WindowItem {
  seed: number;
  view?: number;
}

/** The position in [0, 1) of a random window, from the item's seed (its own stream). */
export function windowDraw(seed: number): number {
  return new Rng((seed ^ 0x2f6b1d3a) >>> 0).uniform();
}

/** The samples [start, end) of a clip of `length` samples at `rate` that the item reads. */
export function windowRange(length: number, rate: number, spec: WindowSpec, item: WindowItem): [number, number] {
  if (!(length > 0)) throw new Error('window: the clip has no samples');
  const o = { sampleRate: rate, seconds: spec.seconds };
  if (spec.views > 1) {
    if (item.view === undefined) throw new Error(`window: ${spec.views} views, but the item names none`);
    return epicWindow(0, length, item.view, { ...o, views: spec.views });
  }
  switch (spec.position) {
    case 'start':
      return epicWindow(0, length, 0, { ...o, views: 1 });
    case 'center':
      return epicWindow(0, length, { random: 0.5 }, o);
    case 'random':
      return epicWindow(0, length, { random: windowDraw(item.seed) }, o);
  }
}

/** The item's window of a clip's samples (a view, no copy); the whole clip when it is shorter. */
export function cutWindow(samples: Float32Array, rate: number, spec: WindowSpec | null | undefined, item: WindowItem): Float32Array {
  if (!spec || samples.length === 0) return samples;
  const [s, e] = windowRange(samples.length, rate, spec, item);
  return samples.subarray(s, e);
}

/** A clip list with each clip repeated `views` times (`<id>#view<k>`), the order evaluation averages in. */
export function viewIds(id: string, views: number): string[] {
  return Array.from({ length: views }, (_, k) => `${id}#view${k}`);
}
