/**
 * The sliding-window timeline: segments tile the recording, adjacent windows with one label merge,
 * the last window is padded and clipped, an energy scorer finds the sections of a synthetic recording
 * within a hop, and an hour of audio is processed in bounded memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAudioStream } from '../../src/audio/stream.js';
import { timeline, topSoftmax, type Segment, type TimelineOptions } from '../../src/infer/timeline.js';
import { SECTIONS, sectionsFill, writeWavFile } from '../audio/synth_wav.js';

const dir = mkdtempSync(join(tmpdir(), 'loaa-timeline-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function* cut(x: Float32Array, size: number): Generator<Float32Array> {
  for (let i = 0; i < x.length; i += size) yield x.slice(i, i + size);
}

function assertTiles(segs: Segment[], duration: number, what: string): void {
  assert.ok(segs.length > 0, what);
  assert.equal(segs[0]!.start, 0, `${what}: starts at 0`);
  assert.equal(segs.at(-1)!.end, duration, `${what}: ends at the duration`);
  segs.forEach((s, i) => {
    assert.ok(s.start < s.end, `${what}: segment ${i} is not empty (${s.start}..${s.end})`);
    if (i > 0) assert.equal(s.start, segs[i - 1]!.end, `${what}: no gap or overlap before segment ${i}`);
    if (i > 0) assert.notEqual(s.label, segs[i - 1]!.label, `${what}: neighbours with one label are merged`);
    assert.ok(s.score > 0 && s.score <= 1, `${what}: score ${s.score}`);
  });
}

const labels = ['a', 'b', 'c'];

test('segments tile [0, duration] for every length, window and hop; the window count is the one that covers the end', async () => {
  const sr = 100;
  for (const [window, hop] of [
    [1, 1],
    [1, 0.25],
    [0.5, 0.3],
    [2, 0.7],
  ]) {
    for (const n of [1, 37, 49, 50, 51, 99, 100, 101, 250, 1013]) {
      const x = Float32Array.from({ length: n }, (_, i) => i + 1);
      let calls = 0;
      const r = await timeline(cut(x, 23), {
        window: window!,
        hop: hop!,
        labels,
        sampleRate: sr,
        batchSize: 3,
        // a label from the window's first sample: changes often, so many boundaries are exercised
        scoreWindows: async (ws) => {
          calls++;
          assert.ok(ws.length <= 3, 'batches are at most batchSize windows');
          return ws.map((w) => [0, 0, 0].map((_, k) => (Math.floor(w[0]! / 40) % 3 === k ? 2 : 0)));
        },
      });
      const W = Math.round(window! * sr);
      const H = Math.round(hop! * sr);
      const expected = 1 + Math.max(0, Math.ceil((n - W) / H));
      const what = `n=${n} window=${window} hop=${hop}`;
      assert.equal(r.windows, expected, what);
      assert.equal(calls, Math.ceil(expected / 3), what);
      assert.equal(r.duration, n / sr);
      assertTiles(r.segments, n / sr, what);
    }
  }
});

test('windows hold consecutive hop-spaced slices; the last is zero-padded and its segment clipped to the end', async () => {
  const sr = 10;
  const x = Float32Array.from({ length: 47 }, (_, i) => i + 1);
  const seen: Float32Array[] = [];
  const r = await timeline(cut(x, 5), {
    window: 2,
    hop: 1,
    labels,
    sampleRate: sr,
    scoreWindows: async (ws) => {
      seen.push(...ws);
      return ws.map(() => [1, 0, 0]);
    },
  });
  // starts 0, 10, 20, 30 (ends at 40 < 47), then 40 (padded: 7 samples and 13 zeros)
  assert.equal(seen.length, 4);
  seen.slice(0, 3).forEach((w, i) => {
    assert.deepEqual(w, x.slice(i * 10, i * 10 + 20));
  });
  assert.equal(seen.length, r.windows);
  const r2 = await timeline(cut(x, 5), { window: 2, hop: 1, labels, sampleRate: sr, scoreWindows: async (ws) => ws.map(() => [1, 0, 0]) });
  assert.deepEqual(r2.segments, [{ start: 0, end: 4.7, label: 'a', score: topSoftmax([1, 0, 0]).score }]);
  const last: Float32Array[] = [];
  await timeline([x.slice(0, 25), x.slice(25)], {
    window: 2,
    hop: 1,
    labels,
    sampleRate: sr,
    scoreWindows: async (ws) => {
      last.push(...ws);
      return ws.map(() => [0, 1, 0]);
    },
  });
  const pad = new Float32Array(20);
  pad.set(x.slice(30, 47));
  assert.deepEqual(last.at(-1), pad);
  // shorter than one window: one padded window, one segment over the whole clip
  const tiny = await timeline([x.slice(0, 3)], {
    window: 2,
    hop: 1,
    labels,
    sampleRate: sr,
    scoreWindows: async (ws) => ws.map(() => [0, 0, 5]),
  });
  assert.equal(tiny.windows, 1);
  assert.deepEqual(
    tiny.segments.map((s) => [s.start, s.end, s.label]),
    [[0, 0.3, 'c']],
  );
});

test('adjacent windows with one label merge; boundaries fall halfway between window centres; scores are the mean over the windows', async () => {
  const sr = 10;
  const pattern = ['a', 'a', 'b', 'b', 'b', 'a', 'c', 'c'];
  const logits: Record<string, number[]> = { a: [3, 0, 0], b: [0, 1, 0], c: [0, 0, 2] };
  // window i starts at 5i (hop 0.5 s) and is 1 s long; 8 windows: the last starts at 35 and ends at 45 >= 42
  const x = Float32Array.from({ length: 42 }, (_, i) => i);
  let i = 0;
  const r = await timeline(cut(x, 4), {
    window: 1,
    hop: 0.5,
    labels,
    sampleRate: sr,
    batchSize: 8,
    scoreWindows: async (ws) => ws.map(() => logits[pattern[i++]!]!),
  });
  assert.equal(r.windows, 8);
  const sa = topSoftmax(logits.a!).score;
  const sb = topSoftmax(logits.b!).score;
  const sc = topSoftmax(logits.c!).score;
  // centres at 0.5, 1.0, 1.5, ...; the boundary after window i is at (5i + 7.5) / 10 s
  assert.deepEqual(r.segments, [
    { start: 0, end: 1.25, label: 'a', score: sa },
    { start: 1.25, end: 2.75, label: 'b', score: sb },
    { start: 2.75, end: 3.25, label: 'a', score: sa },
    { start: 3.25, end: 4.2, label: 'c', score: sc },
  ]);
  // a segment's score averages its windows' top-label probabilities
  let j = 0;
  const mixed = await timeline([x], {
    window: 1,
    hop: 0.5,
    labels,
    sampleRate: sr,
    scoreWindows: async (ws) => ws.map(() => (j++ % 2 ? [2, 0, 0] : [1, 0, 0])),
  });
  assert.equal(mixed.segments.length, 1);
  const want = (4 * topSoftmax([1, 0, 0]).score + 4 * topSoftmax([2, 0, 0]).score) / 8;
  assert.ok(Math.abs(mixed.segments[0]!.score - want) < 1e-12);
});

test('bad options and bad scorer output are Errors naming what is wrong', async () => {
  const x = [new Float32Array(100)];
  const base: TimelineOptions = { window: 1, hop: 0.5, labels, sampleRate: 10, scoreWindows: async (ws) => ws.map(() => [0, 0, 1]) };
  await assert.rejects(timeline(x, { ...base, window: 0 }), /^Error: window: must be a positive number/);
  await assert.rejects(timeline(x, { ...base, hop: Number.NaN }), /^Error: hop: must be a positive number/);
  await assert.rejects(timeline(x, { ...base, hop: 2 }), /^Error: hop: 2 s is longer than the 1 s window/);
  await assert.rejects(timeline(x, { ...base, hop: 0.01 }), /^Error: hop: 0.01 s is less than one sample at 10 Hz/);
  await assert.rejects(timeline(x, { ...base, batchSize: 0 }), /^Error: batchSize: must be a positive integer/);
  await assert.rejects(timeline(x, { ...base, labels: [] }), /^Error: labels: empty/);
  await assert.rejects(timeline([], base), /^Error: timeline: the audio has no samples/);
  await assert.rejects(timeline(x, { ...base, scoreWindows: async () => [] }), /^Error: scoreWindows: returned 0 rows for 8 windows/);
  await assert.rejects(
    timeline(x, { ...base, scoreWindows: async (ws) => ws.map(() => [1, 2]) }),
    /^Error: scoreWindows: row 0 has 2 logits, expected one per label \(3\)/,
  );
  await assert.rejects(timeline(x, { ...base, scoreWindows: async (ws) => ws.map(() => [1, Number.NaN, 0]) }), /NaN or infinite logit/);
});

/** Labels a window by its mean square: silence, tone (0.5 sine: 0.125) or noise (0.9 uniform: 0.27), nearest wins. */
const ENERGY: [string, number][] = [
  ['silence', 0],
  ['tone', 0.125],
  ['noise', 0.27],
];
async function energyScorer(ws: Float32Array[]): Promise<number[][]> {
  return ws.map((w) => {
    let e = 0;
    for (let i = 0; i < w.length; i++) e += w[i]! * w[i]!;
    e /= w.length;
    return ENERGY.map(([, c]) => -100 * Math.abs(e - c));
  });
}

test('an energy scorer over the streamed 20-s recording finds its five sections, boundaries within a hop', async () => {
  const path = join(dir, 'sections.wav');
  writeWavFile(path, 8000, 1, 's16', 20 * 8000, sectionsFill(8000, 1));
  for (const [window, hop] of [
    [1, 0.25],
    [0.96, 0.48],
    [2, 2],
  ]) {
    const s = await openAudioStream(path, { chunkBytes: 30000 });
    const r = await timeline(s.chunks(), { window: window!, hop: hop!, labels: ENERGY.map(([l]) => l), scoreWindows: energyScorer });
    const what = `window ${window}, hop ${hop}`;
    assert.equal(r.duration, 20);
    assertTiles(r.segments, 20, what);
    assert.deepEqual(
      r.segments.map((g) => g.label),
      SECTIONS.map(([, , k]) => k),
      what,
    );
    r.segments.forEach((g, i) => {
      const [a, b] = SECTIONS[i]!;
      assert.ok(Math.abs(g.start - a) <= hop!, `${what}: segment ${i} starts at ${g.start}, the section at ${a}`);
      assert.ok(Math.abs(g.end - b) <= hop!, `${what}: segment ${i} ends at ${g.end}, the section at ${b}`);
    });
  }
});

test('an hour of 8 kHz audio (57.6 MB) streams through the timeline with peak memory growth far below its size', async () => {
  const path = join(dir, 'hour.wav');
  const rate = 8000;
  const frames = 3600 * rate;
  // a tone minute, a silent minute, ...: 60 sections
  writeWavFile(
    path,
    rate,
    1,
    's16',
    frames,
    (first, n) => [
      Float32Array.from({ length: n }, (_, i) =>
        Math.floor((first + i) / (60 * rate)) % 2 ? 0 : 0.5 * Math.sin((2 * Math.PI * 440 * (first + i)) / rate),
      ),
    ],
    rate * 10,
  );
  const size = statSync(path).size;
  assert.equal(size, 44 + frames * 2);
  // V8 collects dead typed arrays only after tens of MB of them pile up (its external-memory trigger),
  // whatever the file's length; collecting before a sample measures what the pipeline keeps alive
  // (every 8th batch: a full collection per batch would triple the test's time). Backing stores are
  // freed by a background sweeper, so the baseline waits for it.
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, 'the test runner passes --expose-gc (scripts/test.mjs)');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((res) => setTimeout(res, 50));
  }
  const base = process.memoryUsage();
  let peakRss = 0;
  let peakBuffers = 0;
  let calls = 0;
  const sample = (): void => {
    if (calls++ % 8) return;
    gc();
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss - base.rss);
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers - base.arrayBuffers);
  };
  const s = await openAudioStream(path);
  assert.equal(s.streamed, true);
  const t0 = Date.now();
  const r = await timeline(s.chunks(), {
    window: 1,
    hop: 1,
    labels: ENERGY.map(([l]) => l),
    scoreWindows: async (ws) => {
      sample();
      return energyScorer(ws);
    },
  });
  calls = 0;
  sample();
  const secs = (Date.now() - t0) / 1000;
  const MB = 2 ** 20;
  console.log(
    `# hour: ${(size / MB).toFixed(1)} MB file (${((frames * 2 * 4) / MB).toFixed(0)} MB as 16 kHz float32) in ${secs.toFixed(1)} s; ` +
      `peak growth: rss ${(peakRss / MB).toFixed(1)} MB, live array buffers ${(peakBuffers / MB).toFixed(1)} MB`,
  );
  assert.equal(r.duration, 3600);
  assert.equal(r.windows, 3600);
  assert.equal(r.segments.length, 60);
  r.segments.forEach((g, i) => {
    assert.equal(g.label, i % 2 ? 'silence' : 'tone');
    assert.ok(Math.abs(g.start - 60 * i) <= 1, `segment ${i} starts at ${g.start}`);
  });
  assert.ok(peakRss < 64 * MB, `rss grew ${(peakRss / MB).toFixed(1)} MB while reading a ${(size / MB).toFixed(1)} MB file`);
  assert.ok(peakBuffers < 32 * MB, `live array buffers grew ${(peakBuffers / MB).toFixed(1)} MB`);
});
