/**
 * The EPIC-SOUNDS reference's training masks, replayed with the reference's own draws against a
 * torch run of the same operation (fixtures/audio/epic_augment.json from
 * tools/fixtures/epic_augment_fixtures.py), and the time warp's properties (it has no reference
 * to compare with: see src/audio/spec_augment_epic.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fixture } from '../helpers.js';
import { Rng } from '../../src/audio/rng.js';
import { epicMasks, epicSpecAugment, epicTimeWarp, replayDraws, rngDraws, warpFrames } from '../../src/audio/spec_augment_epic.js';

interface MaskCase {
  frames: number;
  bins: number;
  freq_param: number;
  time_param: number;
  freq_masks: number;
  time_masks: number;
  /** float32 little-endian [frames, bins], base64 */
  input: string;
  draws: number[];
  after_freq: string;
  output: string;
}

function f32(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

const file = fixture('audio', 'epic_augment.json');
const fx = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { masks: MaskCase[] }) : null;

function close(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  assert.ok(worst <= tol, `${what}: max difference ${worst}`);
}

test('frequency then time masks match the reference (torch, its draws replayed): bands, mean fill, early stop', {
  skip: fx ? false : `${file} missing (run tools/fixtures/epic_augment_fixtures.py)`,
}, () => {
  for (const [k, c] of fx!.masks.entries()) {
    const input = f32(c.input);
    const spec = { data: Float32Array.from(input), frames: c.frames, bins: c.bins };
    const draws = replayDraws(c.draws);
    const f = epicMasks(spec, 'freq', c.freq_param, c.freq_masks, draws);
    close(f.spec.data, f32(c.after_freq), 1e-6, `case ${k} after the frequency masks`);
    const t = epicMasks(f.spec, 'time', c.time_param, c.time_masks, draws);
    close(t.spec.data, f32(c.output), 1e-6, `case ${k} after the time masks`);
    // every draw was used, no more
    assert.throws(() => draws.randrange(0, 2), /ran out/);
    assert.ok(f.bands.length + t.bands.length > 0, `case ${k} masked nothing: a weak case`);
    // the input is never modified
    assert.deepEqual(spec.data, input);
  }
});

test('masks with seeded draws: bands narrower than the parameter, filled with the running mean', () => {
  const rng = new Rng(3);
  const spec = { data: Float32Array.from({ length: 100 * 128 }, () => rng.uniform() * 10 - 8), frames: 100, bins: 128 };
  for (let trial = 0; trial < 20; trial++) {
    const { spec: out, bands } = epicMasks(spec, 'time', 25, 2, rngDraws(new Rng(trial)));
    for (const [s, e] of bands) {
      assert.ok(e - s < 25 && s >= 0 && e <= 100 && e >= s);
      if (e > s) {
        const v = out.data[s * 128]!;
        for (let i = s * 128; i < e * 128; i++) assert.equal(out.data[i], v);
      }
    }
  }
  assert.throws(() => epicMasks(spec, 'freq', 0, 2, rngDraws(new Rng(0))), /positive integer/);
});

test('time warp: d = 0 is the identity, the ends stay, frame t0 lands on t0 + d, time order is kept', () => {
  const T = 50;
  const F = 3;
  // a ramp in time: value = frame index, so a warped frame's value is its source coordinate
  const spec = { data: Float32Array.from({ length: T * F }, (_, i) => Math.floor(i / F)), frames: T, bins: F };
  assert.deepEqual(warpFrames(spec, 20, 0).data, spec.data);
  for (const [t0, d] of [
    [20, 4],
    [20, -5],
    [7, 3],
    [42, -2],
  ] as const) {
    const w = warpFrames(spec, t0, d);
    assert.equal(w.data[0], 0);
    assert.equal(w.data[(T - 1) * F], T - 1);
    assert.ok(Math.abs(w.data[(t0 + d) * F]! - t0) < 1e-5, `${t0} ${d}`);
    for (let x = 1; x < T; x++) assert.ok(w.data[x * F]! >= w.data[(x - 1) * F]!, `monotone at ${x}`);
  }
  const r = epicTimeWarp(spec, 5, replayDraws([30, -5]));
  assert.deepEqual([r.from, r.to], [30, 25]);
  assert.throws(() => epicTimeWarp(spec, 5, replayDraws([3, 0])), /outside \[5, 45\)/);
  assert.throws(() => warpFrames(spec, 0, 2), /inside/);
});

test('the combined transform draws in the reference order: warp (2), freq masks (3 each), time masks (3 each)', () => {
  const rng = new Rng(9);
  const spec = { data: Float32Array.from({ length: 400 * 128 }, () => rng.uniform()), frames: 400, bins: 128 };
  const seen: [number, number][] = [];
  const base = rngDraws(new Rng(1));
  const out = epicSpecAugment(spec, {
    randrange: (a, b) => {
      seen.push([a, b]);
      return base.randrange(a, b);
    },
  });
  assert.equal(out.frames, 400);
  assert.deepEqual(seen.slice(0, 2), [
    [5, 395],
    [-5, 5],
  ]);
  assert.deepEqual(seen[2], [0, 27]);
  assert.ok(
    seen.some(([a, b]) => a === 0 && b === 25),
    'a time mask was drawn',
  );
});
