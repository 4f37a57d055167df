import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmt, gemmFraction, markdownTable, roundRatios, stats, summarise, type RowSamples } from '../../src/bench/summary.js';

test('stats: median of odd and even counts, min and max, unsorted input', () => {
  assert.deepEqual(stats([5, 1, 3]), { median: 3, min: 1, max: 5, n: 3 });
  assert.deepEqual(stats([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, n: 4 });
  assert.throws(() => stats([]), /^Error: stats: no samples/);
});

test('roundRatios pairs rounds; the advantage is PyTorch/loaa for times and loaa/PyTorch for rates', () => {
  assert.deepEqual(roundRatios({ loaa: [100, 200], pytorch: [150, 100], lowerIsBetter: true }), [1.5, 0.5]);
  assert.deepEqual(roundRatios({ loaa: [3, 4], pytorch: [2, 8], lowerIsBetter: false }), [1.5, 0.5]);
  // a side with fewer rounds (it failed half-way) pairs only what both have
  assert.deepEqual(roundRatios({ loaa: [10, 10, 10], pytorch: [20], lowerIsBetter: true }), [2]);
});

const row = (over: Partial<RowSamples> = {}): RowSamples => ({
  work: 'step',
  unit: 'ms/step',
  lowerIsBetter: true,
  // round 3 is slowed for both sides (load): the per-round ratio stays 2
  loaa: [100, 110, 300, 105, 95],
  pytorch: [200, 220, 600, 210, 190],
  goal: 1.3,
  flops: { loaa: 50e9, pytorch: 50e9 },
  peakGflops: 1000,
  timeMs: true,
  ...over,
});

test('summarise: median/min/max per side, ratio as the median of per-round ratios, goal and GEMM fraction', () => {
  const s = summarise(row());
  assert.deepEqual(s.loaa, { median: 105, min: 95, max: 300, n: 5 });
  assert.deepEqual(s.pytorch, { median: 210, min: 190, max: 600, n: 5 });
  assert.equal(s.ratio!.median, 2);
  assert.equal(s.goalMet, true);
  // 50 GFLOP at 1000 GFLOP/s is 50 ms of pure GEMM: 50/105 of loaa's median, 50/210 of PyTorch's
  assert.ok(Math.abs(s.gemmFraction!.loaa - 50 / 105) < 1e-12);
  assert.ok(Math.abs(s.gemmFraction!.pytorch! - 50 / 210) < 1e-12);
  assert.equal(gemmFraction(1e9, 1, 1000), 1);
  const slow = summarise(row({ loaa: [200, 220, 600, 210, 190], pytorch: [200, 220, 600, 210, 190] }));
  assert.equal(slow.ratio!.median, 1);
  assert.equal(slow.goalMet, false);
});

test('summarise without a PyTorch side: no ratio, no goal verdict, the note kept', () => {
  const s = summarise(row({ pytorch: [], pytorchNote: 'PyTorch not found', flops: undefined }));
  assert.equal(s.pytorch, null);
  assert.equal(s.ratio, null);
  assert.equal(s.goalMet, null);
  assert.equal(s.gemmFraction, null);
  assert.equal(s.pytorchNote, 'PyTorch not found');
});

test('markdownTable: one line per row with median (min-max), ratio, goal, verdict and fractions', () => {
  const rows = [
    summarise(row()),
    summarise(row({ work: 'rss', unit: 'MiB', loaa: [900], pytorch: [1000], goal: 1, flops: undefined, timeMs: false })),
  ];
  const lines = markdownTable(rows).split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^\| work \| loaa \| PyTorch \| loaa advantage \| goal \| met \|/);
  assert.equal(lines[2], '| step | 105 ms/step (95.0-300) | 210 ms/step (190-600) | 2.00x (2.00-2.00) | >= 1.3x | yes | 48% | 24% |');
  // one round: no range; no FLOPs: no fraction
  assert.equal(lines[3], '| rss | 900 MiB | 1,000 MiB | 1.11x | >= 1x | yes | - | - |');
});

test('fmt keeps about three significant digits', () => {
  assert.equal(fmt(4455.4), '4,455');
  assert.equal(fmt(12.345), '12.3');
  assert.equal(fmt(1.2345), '1.23');
  assert.equal(fmt(0.12345), '0.123');
});
