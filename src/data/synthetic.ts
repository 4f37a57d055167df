/**
 * A small labelled audio set made on the spot, for the demo when no real data is around, for the
 * training benchmark and for tests: tones, chirps, noise bursts and click trains with random
 * pitch, timing, loudness and background noise, written as 16-bit WAV files in
 * `root/<split>/<class>/<n>.wav` (the folder layout `openDataset({type: 'folder'})` reads).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../audio/rng.js';
import { encodeWav } from '../audio/wav.js';
import { writeFileNew } from '../util/guarded_fs.js';
import { SAMPLE_RATE } from '../audio/frontend.js';

export const SYNTHETIC_CLASSES = ['low-tone', 'high-tone', 'chirp-up', 'chirp-down', 'noise-burst', 'clicks'] as const;
export type SyntheticClass = (typeof SYNTHETIC_CLASSES)[number];

/** One clip of class `cls`: `seconds` long at `rate`, the event somewhere inside, noise throughout. */
export function synthClip(cls: SyntheticClass | number, rng: Rng, rate = SAMPLE_RATE, seconds = 1): Float32Array {
  const name = typeof cls === 'number' ? SYNTHETIC_CLASSES[cls % SYNTHETIC_CLASSES.length]! : cls;
  const n = Math.round(rate * seconds);
  const x = new Float32Array(n);
  const noise = 0.005 + 0.02 * rng.uniform();
  for (let i = 0; i < n; i++) x[i] = noise * rng.normal();
  const len = Math.round(n * (0.35 + 0.4 * rng.uniform()));
  const start = rng.randint(0, n - len + 1);
  const amp = 0.2 + 0.5 * rng.uniform();
  const nyq = rate / 2;
  let phase = 0;
  const f0 = (lo: number, hi: number): number => Math.min(nyq * 0.9, lo + (hi - lo) * rng.uniform());
  const a =
    name === 'low-tone' ? f0(200, 500) : name === 'high-tone' ? f0(1500, 3000) : name === 'chirp-up' ? f0(250, 600) : f0(2000, 3500);
  const b = name === 'chirp-up' ? f0(2000, 3500) : name === 'chirp-down' ? f0(250, 600) : a;
  const clickEvery = Math.round(rate / (8 + 12 * rng.uniform()));
  for (let i = 0; i < len; i++) {
    const t = i / len;
    // raised-cosine fade in and out over 10 % of the event
    const env = amp * Math.min(1, t / 0.1, (1 - t) / 0.1);
    let v: number;
    if (name === 'noise-burst') v = rng.normal() * 0.5;
    else if (name === 'clicks') v = i % clickEvery < rate / 2000 ? 1 : 0;
    else {
      const f = a + (b - a) * t;
      phase += (2 * Math.PI * f) / rate;
      v = Math.sin(phase) + 0.3 * Math.sin(2 * phase);
    }
    x[start + i]! += env * v;
  }
  for (let i = 0; i < n; i++) x[i] = Math.max(-1, Math.min(1, x[i]!));
  return x;
}

export interface SyntheticOptions {
  /** clips per class and split */
  perClass?: Partial<Record<string, number>>;
  classes?: number;
  rate?: number;
  seconds?: number;
  seed?: number;
}

/** Writes the set; returns the class names. Default: 6 classes, train 40 / validation 10 / test 10 per class, 1 s at 16 kHz. */
export function writeSyntheticSet(root: string, o: SyntheticOptions = {}): string[] {
  const classes = SYNTHETIC_CLASSES.slice(0, Math.min(o.classes ?? SYNTHETIC_CLASSES.length, SYNTHETIC_CLASSES.length));
  const per = { train: 40, validation: 10, test: 10, ...o.perClass };
  const rate = o.rate ?? SAMPLE_RATE;
  const rng = new Rng(o.seed ?? 0);
  for (const [split, count] of Object.entries(per)) {
    if (!count) continue;
    for (const cls of classes) {
      const dir = join(root, split, cls);
      mkdirSync(dir, { recursive: true });
      for (let k = 0; k < count; k++) {
        const x = synthClip(cls, rng, rate, o.seconds ?? 1);
        writeFileNew(join(dir, `${String(k).padStart(3, '0')}.wav`), 'synthetic clip', encodeWav({ sampleRate: rate, channels: [x] }));
      }
    }
  }
  return [...classes];
}
