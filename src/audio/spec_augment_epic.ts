/**
 * The EPIC-SOUNDS reference's SpecAugment (epic-kitchens/epic-sounds-annotations,
 * src/slowfast/datasets/spec_augment.py `combined_transforms`), applied to training clips only:
 * time warp (W 5), then two frequency masks (F 27), then two time masks (T 25), each mask filled with
 * the mean of the whole spectrogram as it is at that moment (not 0, as torchaudio's masks are).
 *
 * The reference's draws, kept here exactly (they differ from torchaudio's):
 *   width  w   = randrange(0, F)            an integer in [0, F)
 *   start  s   = randrange(0, size - w)
 *   if w == 0: stop, and skip the masks still to come (the reference returns early)
 *   end    e   = randrange(s, s + w)        so the band [s, e) is narrower than w, possibly empty
 * Random numbers come through `Draws` so that a test can replay the reference's own draws and
 * compare the result with the reference's operation (tools/fixtures/epic_augment_fixtures.py).
 *
 * Time warp: the reference picks the frame to move as `spec[0][F // 2][randrange(W, T - W)]`, the
 * spectrogram's *value* at a random frame, and passes it to a single-point sparse_image_warp; that
 * uses a log-mel value (about -14..4) as a time coordinate, so the "warp" is a shift near frame 0 or
 * none. We warp what SpecAugment describes instead: frame t0 = randrange(W, T - W) moves to
 * t0 + d, d = randrange(-W, W), both sides stretched linearly (interpolated between frames). This is
 * a deliberate difference, stated in docs/paper.md; it cannot be parity-tested against the reference.
 */
import type { Rng } from './rng.js';
import type { Spectrogram } from './types.js';

/** The integer draws of Python's `random.randrange(a, b)`: uniform in [a, b). */
export interface Draws {
  randrange(a: number, b: number): number;
}

/** Draws from loaa's seeded generator (the reference uses Python's global `random`). */
export function rngDraws(rng: Rng): Draws {
  return {
    randrange(a, b) {
      if (!(b > a)) throw new Error(`randrange: empty range [${a}, ${b})`);
      return a + Math.min(b - a - 1, Math.floor(rng.uniform() * (b - a)));
    },
  };
}

/** Replays recorded draws (tests); throws when they run out or a draw falls outside its range. */
export function replayDraws(values: number[]): Draws {
  let i = 0;
  return {
    randrange(a, b) {
      if (i >= values.length) throw new Error(`replay: ran out of draws after ${values.length}`);
      const v = values[i++]!;
      if (!(v >= a && v < b)) throw new Error(`replay: draw ${i} = ${v} is outside [${a}, ${b})`);
      return v;
    },
  };
}

function mean(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return x.length ? s / x.length : 0;
}

/**
 * `num` masks along one axis of the [frames, bins] spectrogram, the reference's draws and fill.
 * `axis` 'freq' masks bins (every frame), 'time' masks frames (every bin).
 */
export function epicMasks(
  spec: Spectrogram,
  axis: 'freq' | 'time',
  param: number,
  num: number,
  draws: Draws,
  fill: 'mean' | 'zero' = 'mean',
): { spec: Spectrogram; bands: [number, number][] } {
  if (!Number.isInteger(param) || param < 1) throw new Error(`${axis} mask: parameter must be a positive integer, got ${param}`);
  const data = new Float32Array(spec.data);
  const size = axis === 'freq' ? spec.bins : spec.frames;
  const bands: [number, number][] = [];
  for (let k = 0; k < num; k++) {
    const w = draws.randrange(0, param);
    const s = draws.randrange(0, size - w);
    if (w === 0) break; // the reference returns here, skipping the masks still to come
    const e = draws.randrange(s, s + w);
    const v = fill === 'mean' ? mean(data) : 0;
    if (axis === 'freq') for (let t = 0; t < spec.frames; t++) data.fill(v, t * spec.bins + s, t * spec.bins + e);
    else data.fill(v, s * spec.bins, e * spec.bins);
    bands.push([s, e]);
  }
  return { spec: { data, frames: spec.frames, bins: spec.bins }, bands };
}

/**
 * Moves frame t0 to t0 + d, stretching [0, t0] onto [0, t0 + d] and [t0, T - 1] onto
 * [t0 + d, T - 1], values interpolated linearly between frames. d = 0 returns a copy.
 */
export function warpFrames(spec: Spectrogram, t0: number, d: number): Spectrogram {
  const { frames: T, bins: F } = spec;
  const data = new Float32Array(spec.data.length);
  const t1 = t0 + d;
  if (!(t0 > 0 && t0 < T - 1 && t1 > 0 && t1 < T - 1)) throw new Error(`time warp: frame ${t0} -> ${t1} must stay inside (0, ${T - 1})`);
  for (let x = 0; x < T; x++) {
    const src = x <= t1 ? (x * t0) / t1 : t0 + ((x - t1) * (T - 1 - t0)) / (T - 1 - t1);
    const a = Math.min(T - 1, Math.floor(src));
    const b = Math.min(T - 1, a + 1);
    const w = src - a;
    for (let f = 0; f < F; f++) data[x * F + f] = spec.data[a * F + f]! * (1 - w) + spec.data[b * F + f]! * w;
  }
  return { data, frames: T, bins: F };
}

/** SpecAugment's time warp with the reference's draws: t0 = randrange(W, T - W), d = randrange(-W, W). */
export function epicTimeWarp(spec: Spectrogram, W: number, draws: Draws): { spec: Spectrogram; from: number; to: number } {
  if (spec.frames <= 2 * W + 2) return { spec: { ...spec, data: new Float32Array(spec.data) }, from: 0, to: 0 };
  const t0 = draws.randrange(W, spec.frames - W);
  const d = draws.randrange(-W, W);
  return { spec: warpFrames(spec, t0, d), from: t0, to: t0 + d };
}

export interface EpicAugmentOptions {
  /** time warp W (0: none) */
  warp?: number;
  freqParam?: number;
  freqMasks?: number;
  timeParam?: number;
  timeMasks?: number;
}

/** The reference's `combined_transforms`: warp, 2 frequency masks (27), 2 time masks (25). */
export function epicSpecAugment(spec: Spectrogram, draws: Draws, o: EpicAugmentOptions = {}): Spectrogram {
  const warp = o.warp ?? 5;
  const warped = warp > 0 ? epicTimeWarp(spec, warp, draws).spec : spec;
  const f = epicMasks(warped, 'freq', o.freqParam ?? 27, o.freqMasks ?? 2, draws).spec;
  return epicMasks(f, 'time', o.timeParam ?? 25, o.timeMasks ?? 2, draws).spec;
}
