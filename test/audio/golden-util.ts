/** Shared helpers for the golden tests against tools/fixtures/audio_fixtures.py's outputs. */
import { readFileSync } from 'node:fs';
import { readSafetensors, rawToFloat32 } from '../../src/io/safetensors.js';
import { fixture } from '../helpers.js';

export const audioFixture = (...p: string[]): string => fixture('audio', ...p);

export interface Cases {
  inputs: Record<string, { file: string; rate: number; channels: number; format: string }>;
  fbank: { name: string; input: string; kwargs: Record<string, unknown>; shape: number[] }[];
  resample: { name: string; input: string; input_frames: number; orig: number; new: number; length: number }[];
  ast: { name: string; input: string; sample_rate: number; num_mel_bins: number; shape: number[] }[];
  decode: { name: string; file: string; rate: number; channels: number; frames: number }[];
  compressed: { rate: number; channels: number; frames: number; freqs: number[]; amps: number[]; files: string[] };
  fsdd: { file: string; shape: number[] }[];
  epic: { name: string; video: string; start: number; stop: number; raw_frames: number }[];
}

export function loadCases(): Cases {
  return JSON.parse(readFileSync(audioFixture('cases.json'), 'utf8')) as Cases;
}

export function loadExpected(file: string): Map<string, { data: Float32Array; shape: number[] }> {
  const st = readSafetensors(audioFixture(file));
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const [k, t] of st.tensors) out.set(k, { data: rawToFloat32(t, k), shape: t.shape });
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}

/** Largest |a - b| / max(|b|, floor): for linear-domain outputs spanning many decades. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor);
    if (!(d <= m)) m = d;
  }
  return m;
}

export function snakeToCamel(kw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kw)) out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out;
}

/** Parity figures gathered while the tests run (the largest difference per kind, and how many comparisons). */
export const parity: Record<string, number> = {};
export const comparisons: Record<string, number> = {};
export function record(key: string, v: number): void {
  parity[key] = Math.max(parity[key] ?? 0, v);
  comparisons[key] = (comparisons[key] ?? 0) + 1;
}
