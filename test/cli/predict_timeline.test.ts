import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeWav } from '../../src/audio/wav.js';
import { AudioClassifier } from '../../src/api/classifier.js';
import { adapterDir, backbonePath, caseNamed } from '../models/model_cases.js';
import { loaa, tempDir } from '../helpers.js';

const C = caseNamed('loaa_attn_1x3_s10');
const backbone = backbonePath(C.backbone);
const adapter = adapterDir(C)!; // target_length 100 frames: a 1-s clip
const labels = ['class0', 'class1', 'class2', 'class3', 'class4'];

interface Seg {
  start: number;
  end: number;
  label: string;
  score: number;
}
interface Out {
  file: string;
  duration: number;
  window: number;
  hop: number;
  windows: number;
  segments: Seg[];
}

/** 20 s at 16 kHz: tones of changing pitch, a stretch of noise, silence, so the windows disagree. */
function recording(dir: string): string {
  const sr = 16000;
  const x = new Float32Array(20 * sr);
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed / 2 ** 32) * 2 - 1;
  };
  for (let i = 0; i < x.length; i++) {
    const t = i / sr;
    if (t < 6) x[i] = 0.4 * Math.sin(2 * Math.PI * 220 * t);
    else if (t < 11) x[i] = 0.3 * rnd();
    else if (t < 13) x[i] = 0;
    else x[i] = 0.4 * Math.sin(2 * Math.PI * (500 + 300 * (t - 13)) * t);
  }
  const p = join(dir, 'long.wav');
  writeFileSync(p, encodeWav({ sampleRate: sr, channels: [x] }));
  return p;
}

function checkTiling(segs: Seg[], duration: number): void {
  assert.ok(segs.length >= 1);
  assert.equal(segs[0]!.start, 0);
  assert.equal(segs.at(-1)!.end, duration);
  segs.forEach((s, i) => {
    assert.ok(s.end > s.start, `segment ${i} is empty`);
    if (i > 0) {
      assert.equal(s.start, segs[i - 1]!.end, `gap or overlap before segment ${i}`);
      assert.notEqual(s.label, segs[i - 1]!.label, 'adjacent segments with one label are merged');
    }
    assert.ok(labels.includes(s.label));
    assert.ok(s.score > 0 && s.score <= 1);
  });
}

test('predict --timeline --json: segments tile a 20-s recording; the API gives the same segments', async () => {
  const dir = tempDir('tl-cli');
  const wav = recording(dir);
  const r = loaa(['predict', wav, '--timeline', '--adapter', adapter, '--backbone', backbone, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Out;
  assert.equal(out.file, wav);
  assert.equal(out.duration, 20);
  // defaults: the model's clip (100 frames of 10 ms) and half of it
  assert.equal(out.window, 1);
  assert.equal(out.hop, 0.5);
  assert.equal(out.windows, 39);
  checkTiling(out.segments, 20);

  const clf = await AudioClassifier.fromPretrained(adapter, { backbone });
  try {
    const t = await clf.timeline(wav);
    assert.equal(t.duration, out.duration);
    assert.equal(t.windows, out.windows);
    assert.deepEqual(
      t.segments.map(({ start, end, label }) => ({ start, end, label })),
      out.segments.map(({ start, end, label }) => ({ start, end, label })),
    );
    t.segments.forEach((s, i) => {
      assert.ok(Math.abs(s.score - out.segments[i]!.score) < 1e-5);
    });
  } finally {
    clf.dispose();
  }

  // the text form: one line per segment
  const text = loaa(['predict', wav, '--timeline', '--adapter', adapter, '--backbone', backbone, '--window', '2', '--hop', '1']);
  assert.equal(text.status, 0, text.stderr);
  const lines = text.stdout.trimEnd().split('\n');
  for (const l of lines) assert.match(l, /^\d+\.\d\d-\d+\.\d\d s {2}class\d {2}[01]\.\d\d$/);
  assert.match(lines[0]!, /^0\.00-/);
  assert.match(lines.at(-1)!, /-20\.00 s /);
});

test('predict --timeline: a bad --window or --hop is a usage error naming the flag', () => {
  const dir = tempDir('tl-bad');
  const wav = join(dir, 'short.wav');
  writeFileSync(wav, encodeWav({ sampleRate: 16000, channels: [new Float32Array(16000)] }));
  const base = ['predict', wav, '--timeline', '--adapter', adapter, '--backbone', backbone];
  const cases: [string[], RegExp][] = [
    [['--window', '0'], /--window: /],
    [['--window', '-1'], /--window: /],
    [['--window', 'abc'], /--window: /],
    [['--window', '0.01'], /--window: 0\.01 s is shorter than one 25 ms analysis frame/],
    [['--hop', '0'], /--hop: /],
    [['--window', '1', '--hop', '1.5'], /--hop: 1\.5 s is longer than the 1 s window/],
  ];
  for (const [args, want] of cases) {
    const r = loaa([...base, ...args]);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, want, args.join(' '));
    assert.equal(r.stdout, '');
  }
  const two = loaa([...base, wav]);
  assert.notEqual(two.status, 0);
  assert.match(two.stderr, /--timeline takes one file, got 2/);
});
