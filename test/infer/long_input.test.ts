import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readAudio } from '../../src/audio/decode.js';
import { encodeWav } from '../../src/audio/wav.js';
import { features, type FrontendSpec } from '../../src/audio/frontend.js';
import { featuresOfFile } from '../../src/infer/features.js';
import { repoRoot } from '../helpers.js';
import { freshDir } from '../models/model_cases.js';

const AST: FrontendSpec = { type: 'ast', sampleRate: 16000, numMelBins: 64, targetLength: 256, mean: -5, std: 4 };
const EPIC: FrontendSpec = { type: 'epic', sampleRate: 24000, numMelBins: 32, targetLength: 100, mean: -4, std: 3 };

/** A valid mono 8-bit PCM WAV of `n` samples at `rate`: a tone with some noise. */
function wav8(n: number, rate: number): Buffer {
  const b = Buffer.alloc(44 + n);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + n, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate, 28); // bytes per second
  b.writeUInt16LE(1, 32); // block align
  b.writeUInt16LE(8, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(n, 40);
  let s = 1;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    b[44 + i] = 128 + Math.round(60 * Math.sin((2 * Math.PI * 110 * i) / rate) + ((s >>> 24) % 16) - 8);
  }
  return b;
}

const tone = (n: number, rate: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / rate) + 0.1 * Math.sin(i * 0.37));

test('a 20 MB 1 kHz 8-bit WAV goes through the inference features in bounded memory (issue 25)', () => {
  const dir = freshDir('long-input');
  const file = join(dir, 'long.wav');
  writeFileSync(file, wav8(20_000_000, 1000));
  try {
    // in a child, so its peak RSS is this input's alone: maxRSS before and after the features
    const url = pathToFileURL(join(repoRoot, 'dist', 'src', 'infer', 'features.js')).href;
    const script = `
      const { featuresOfFile } = await import(${JSON.stringify(url)});
      const before = process.resourceUsage().maxRSS;
      const t0 = performance.now();
      const x = await featuresOfFile(${JSON.stringify(file)}, ${JSON.stringify(AST)});
      const ms = performance.now() - t0;
      console.log(JSON.stringify({ grewMiB: (process.resourceUsage().maxRSS - before) / 1024, frames: x.frames, valid: x.validFrames, ms }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as { grewMiB: number; frames: number; valid: number; ms: number };
    assert.equal(got.frames, AST.targetLength);
    assert.equal(got.valid, AST.targetLength);
    // the whole file resampled to 16 kHz alone would be 320M floats (1.2 GiB); the kept 2.6 s are ~40 KB
    assert.ok(got.grewMiB < 64, `peak RSS grew by ${got.grewMiB.toFixed(0)} MiB for ${AST.targetLength} frames`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the front end cuts a long clip before the spectrogram: the kept frames equal the whole clip's (AST and EPIC)", () => {
  for (const [spec, rate] of [
    [AST, 44100],
    [AST, 8000],
    [EPIC, 16000],
    [EPIC, 24000],
  ] as const) {
    const n = rate * 20;
    const long = tone(n, rate);
    const got = features({ sampleRate: rate, channels: [long, long] }, spec);
    // the reference: the whole clip through the uncut pipeline, cropped afterwards
    const whole = features({ sampleRate: rate, channels: [long] }, { ...spec, targetLength: 0 });
    assert.equal(got.frames, spec.targetLength);
    assert.equal(got.validFrames, spec.targetLength);
    const per = spec.numMelBins;
    let worst = 0;
    for (let i = 0; i < spec.targetLength * per; i++) worst = Math.max(worst, Math.abs(got.data[i]! - whole.data[i]!));
    assert.ok(worst < 2e-3, `${spec.type} at ${rate} Hz: the cut clip's frames differ by ${worst}`);
  }
});

test('featuresOfFile reads a long WAV only as far as the frames reach, with the features of the whole file', async () => {
  const dir = freshDir('wav-prefix');
  const file = join(dir, 'a.wav');
  const rate = 22050;
  writeFileSync(file, encodeWav({ sampleRate: rate, channels: [tone(rate * 30, rate)] }));
  try {
    const got = await featuresOfFile(file, AST);
    const want = features(await readAudio(file), AST, { source: file });
    assert.deepEqual(got.data, want.data);
    assert.equal(got.validFrames, want.validFrames);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a clip shorter than one analysis window is padded with silence and a warning, not refused', () => {
  const warnings: string[] = [];
  const got = features({ sampleRate: 16000, channels: [tone(100, 16000)] }, AST, { source: 'tiny.wav', warn: (m) => warnings.push(m) });
  assert.equal(got.frames, AST.targetLength);
  assert.equal(got.validFrames, 1);
  assert.ok(got.data.every((v) => Number.isFinite(v)));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^tiny\.wav: 6\.3 ms of audio is shorter than one 25 ms analysis window: padded with silence$/);
  // zero samples stay an error naming the input
  assert.throws(
    () => features({ sampleRate: 16000, channels: [new Float32Array(0)] }, AST, { source: 'empty.wav' }),
    /^Error: empty\.wav: zero samples/,
  );
});
