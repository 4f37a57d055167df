/** Augmentation semantics (AST's), each with a seeded Rng. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addNoiseAndRoll, drawMask, frequencyMask, mixLabels, mixup, mixWaveforms, rollTime, timeMask } from '../../src/audio/augment.js';
import { Rng } from '../../src/audio/rng.js';
import type { Spectrogram } from '../../src/audio/types.js';

function ramp(frames: number, bins: number): Spectrogram {
  return { data: Float32Array.from({ length: frames * bins }, (_, i) => -5 + (i % 97) / 10), frames, bins };
}

test('drawMask: width uniform in [0, param), start in [0, size - width), as torchaudio draws them', () => {
  const rng = new Rng(1);
  const widths = new Map<number, number>();
  for (let i = 0; i < 20000; i++) {
    const { start, end } = drawMask(100, 24, rng);
    const w = end - start;
    assert.ok(w >= 0 && w < 24, `width ${w}`);
    assert.ok(start >= 0 && end <= 100, `[${start}, ${end})`);
    widths.set(w, (widths.get(w) ?? 0) + 1);
  }
  assert.equal(widths.size, 24); // every width 0..23 occurs
  for (const c of widths.values()) assert.ok(Math.abs(c - 20000 / 24) < 200, `width count ${c}`);
  // the torchaudio formula itself
  const a = new Rng(5);
  const b = new Rng(5);
  const value = b.uniform() * 48;
  const min = b.uniform() * (128 - value);
  assert.deepEqual(drawMask(128, 48, a), { start: Math.trunc(min), end: Math.trunc(min) + Math.floor(value) });
});

test('frequencyMask zeroes one band of bins in every frame; timeMask one run of frames', () => {
  const spec = ramp(50, 32);
  const f = frequencyMask(spec, 10, new Rng(3));
  const { start: fs, end: fe } = drawMask(32, 10, new Rng(3));
  assert.ok(fe > fs, 'seed chosen to give a non-empty mask');
  for (let t = 0; t < 50; t++) {
    for (let b = 0; b < 32; b++) {
      const want = b >= fs && b < fe ? 0 : spec.data[t * 32 + b];
      assert.equal(f.data[t * 32 + b], want);
    }
  }
  const tm = timeMask(spec, 20, new Rng(4));
  const { start: ts, end: te } = drawMask(50, 20, new Rng(4));
  assert.ok(te > ts);
  for (let t = 0; t < 50; t++)
    for (let b = 0; b < 32; b++) assert.equal(tm.data[t * 32 + b], t >= ts && t < te ? 0 : spec.data[t * 32 + b]);
  assert.notEqual(spec.data[ts * 32], 0, 'input untouched');
  // param 0 masks nothing
  assert.deepEqual(frequencyMask(spec, 0, new Rng(9)).data, spec.data);
});

test('mixWaveforms: centre, pad/cut the partner, mix, centre again', () => {
  const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const short = Float32Array.from([10, 20]);
  const long = Float32Array.from([1, -1, 1, -1, 1, -1, 100, 100]);
  const lam = 0.3;
  const check = (b: Float32Array): void => {
    const ca = Array.from(a, (v) => v - 3.5);
    const mb = b.reduce((s, v) => s + v, 0) / b.length;
    const cb = Array.from(b, (v) => v - mb);
    const mix = ca.map((v, i) => lam * v + (1 - lam) * (i < cb.length ? cb[i] : 0));
    const mm = mix.reduce((s, v) => s + v, 0) / mix.length;
    const got = mixWaveforms(a, b, lam);
    assert.equal(got.length, a.length);
    mix.forEach((v, i) => {
      assert.ok(Math.abs(got[i] - (v - mm)) < 1e-6);
    });
    assert.ok(Math.abs(got.reduce((s, v) => s + v, 0)) < 1e-5, 'zero mean');
  };
  check(short);
  check(long);
});

test('mixup: lambda ~ Beta(10, 10), soft labels lambda*y1 + (1-lambda)*y2', () => {
  const rng = new Rng(11);
  const lams: number[] = [];
  const a = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: 16 }, (_, i) => Math.cos(i));
  for (let i = 0; i < 4000; i++) {
    const r = mixup(a, b, [1, 0, 0], [0, 0, 1], rng);
    lams.push(r.lambda);
    assert.deepEqual(r.labels, mixLabels([1, 0, 0], [0, 0, 1], r.lambda));
    assert.ok(Math.abs(r.labels[0] + r.labels[2] - 1) < 1e-6);
  }
  const mean = lams.reduce((s, v) => s + v, 0) / lams.length;
  const v = lams.reduce((s, x) => s + (x - mean) ** 2, 0) / lams.length;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(v - 0.25 / 21) < 0.0015, `var ${v} vs ${0.25 / 21}`); // Beta(10,10): ab/((a+b)^2 (a+b+1))
  const again = mixup(a, b, [1], [0], new Rng(11));
  assert.equal(again.lambda, lams[0], 'same seed, same lambda');
});

test('rollTime is torch.roll along frames', () => {
  const s = ramp(5, 2);
  const r = rollTime(s, 2);
  for (let t = 0; t < 5; t++) for (let b = 0; b < 2; b++) assert.equal(r.data[t * 2 + b], s.data[((t - 2 + 5) % 5) * 2 + b]);
  assert.deepEqual(rollTime(s, -3).data, rollTime(s, 2).data);
  assert.deepEqual(rollTime(s, 0).data, s.data);
});

test('addNoiseAndRoll: x + U * u/10, then roll by randint(-10, 10)', () => {
  const s = ramp(40, 8);
  const shifts = new Set<number>();
  const rng = new Rng(21);
  for (let k = 0; k < 300; k++) {
    const seed = rng.nextUint32();
    const { spec, amplitude, shift } = addNoiseAndRoll(s, new Rng(seed));
    assert.ok(amplitude >= 0 && amplitude < 0.1);
    assert.ok(shift >= -10 && shift <= 9 && Number.isInteger(shift));
    shifts.add(shift);
    const back = rollTime(spec, -shift);
    for (let i = 0; i < s.data.length; i++) {
      const d = back.data[i] - s.data[i];
      assert.ok(d >= -1e-6 && d <= amplitude + 1e-6, `noise ${d} outside [0, ${amplitude}]`);
    }
    // replay the draws: matrix, then amplitude, then shift
    const r = new Rng(seed);
    for (let i = 0; i < s.data.length; i++) r.uniform();
    assert.equal(r.uniform() / 10, amplitude);
    assert.equal(r.randint(-10, 10), shift);
  }
  assert.equal(shifts.size, 20, 'every shift -10..9 occurs');
});
