/**
 * Streamed decoding: a WAV read a piece at a time and resampled a piece at a time gives the samples
 * of the whole-file decode + resample; other formats fall back to the whole decode under its limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAudio } from '../../src/audio/decode.js';
import { resample } from '../../src/audio/resample.js';
import { StreamResampler } from '../../src/audio/resample_stream.js';
import { openAudioStream } from '../../src/audio/stream.js';
import { toMono } from '../../src/audio/types.js';
import { parseWav } from '../../src/audio/wav.js';
import { openWavStream } from '../../src/audio/wav_stream.js';
import { fixture } from '../helpers.js';
import { sectionsFill, writeWavFile, type SampleFormat } from './synth_wav.js';

const dir = mkdtempSync(join(tmpdir(), 'loaa-wavstream-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function collect(it: AsyncIterable<Float32Array> | Iterable<Float32Array>): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for await (const p of it) parts.push(p);
  return concat(parts);
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Pseudo-random piece lengths (0 and 1 included) cut from a signal. */
function pieces(x: Float32Array, seed: number, max: number): Float32Array[] {
  const out: Float32Array[] = [];
  let s = seed;
  for (let i = 0; i < x.length; ) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const n = s % 7 === 0 ? s % 2 : 1 + (s % max);
    out.push(x.slice(i, i + n));
    i += n;
  }
  return out;
}

test('every WAV fixture format streams to exactly the whole-file decode, mixed down to mono, whatever the piece size', () => {
  const files = readdirSync(fixture('audio', 'formats')).filter((f) => f.endsWith('.wav'));
  assert.ok(files.length >= 10, 'the format fixtures are present');
  for (const f of files) {
    const path = fixture('audio', 'formats', f);
    const whole = toMono(parseWav(readFileSync(path), path));
    for (const chunkBytes of [1, 1000, 1 << 20]) {
      const s = openWavStream(path, { chunkBytes });
      const got = concat([...s.chunks()]);
      assert.equal(s.frames, whole.length, f);
      assert.deepEqual(got, whole, `${f} with ${chunkBytes}-byte reads`);
    }
  }
});

test('the streaming resampler gives resample() of the whole signal, for any cut into pieces', () => {
  const x = new Float32Array(20011);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.013) * 0.6 + Math.sin(i * 1.7) * 0.3 + (i % 97 === 0 ? 0.5 : 0);
  for (const [from, to, opts] of [
    [8000, 16000, {}],
    [44100, 16000, {}],
    [22050, 16000, {}],
    [48000, 16000, {}],
    [11025, 16000, {}],
    [16000, 8000, {}],
    [16000, 16000, {}],
    [44100, 16000, { lowpassFilterWidth: 16, rolloff: 0.9 }],
  ] as const) {
    const want = resample(x, from, to, opts);
    for (const [seed, max] of [
      [1, 3],
      [2, 500],
      [3, 9000],
    ]) {
      const rs = new StreamResampler(from, to, opts);
      const got = concat([...pieces(x, seed!, max!).map((p) => rs.push(p)), rs.flush()]);
      const d = maxDiff(got, want);
      assert.ok(d <= 1e-6, `${from} -> ${to} ${JSON.stringify(opts)}, pieces up to ${max}: max difference ${d}`);
    }
  }
  // shorter than one filter length, and empty
  for (const n of [0, 1, 5, 40]) {
    const rs = new StreamResampler(44100, 16000);
    const got = concat([rs.push(x.subarray(0, n)), rs.flush()]);
    assert.ok(maxDiff(got, resample(x.subarray(0, n), 44100, 16000)) <= 1e-6, `${n} samples`);
  }
  assert.throws(() => new StreamResampler(0, 16000), /^Error: resample: original sample rate must be a positive integer/);
  const rs = new StreamResampler(8000, 16000);
  rs.flush();
  assert.throws(() => rs.push(x), /push after flush/);
});

test('a synthetic 20-s 8 kHz recording in every sample format streams at 16 kHz to the whole decode + resample', async () => {
  const formats: [SampleFormat, number][] = [
    ['s16', 1],
    ['s16', 2],
    ['u8', 1],
    ['s24', 2],
    ['s32', 1],
    ['f32', 3],
    ['f64', 1],
  ];
  for (const [fmt, ch] of formats) {
    const path = join(dir, `rec_${fmt}_${ch}.wav`);
    writeWavFile(path, 8000, ch, fmt, 20 * 8000, sectionsFill(8000, ch));
    const audio = await readAudio(path);
    const want = resample(toMono(audio), 8000, 16000);
    const s = await openAudioStream(path, { chunkBytes: 4099 });
    assert.equal(s.streamed, true);
    assert.equal(s.inputRate, 8000);
    const got = await collect(s.chunks());
    assert.equal(got.length, 20 * 16000);
    const d = maxDiff(got, want);
    assert.ok(d <= 1e-6, `${fmt} x${ch}: max difference ${d}`);
  }
  // a 44.1 kHz file: resampling ratio 160/441, blocks far longer than a sample
  const path = join(dir, 'rec_44100.wav');
  writeWavFile(path, 44100, 2, 's16', 3 * 44100 + 17, sectionsFill(44100, 2));
  const want = resample(toMono(await readAudio(path)), 44100, 16000);
  const got = await collect((await openAudioStream(path, { chunkBytes: 10000 })).chunks());
  assert.ok(maxDiff(got, want) <= 1e-6);
});

test('a WAV streams even when it is larger than the whole-file audio limit (it is never read whole)', async () => {
  const path = join(dir, 'limit.wav');
  writeWavFile(path, 8000, 1, 's16', 8000, sectionsFill(8000, 1));
  const old = process.env.LOAA_MAX_AUDIO_BYTES;
  process.env.LOAA_MAX_AUDIO_BYTES = '4096';
  try {
    await assert.rejects(readAudio(path), /more than the 4096-byte limit/);
    const got = await collect((await openAudioStream(path, { chunkBytes: 1024 })).chunks());
    assert.equal(got.length, 16000);
    // FLAC goes through the whole-file decoder: the limit applies, and the error names it
    await assert.rejects(
      openAudioStream(fixture('audio', 'formats', 'tone.flac')),
      /tone\.flac: audio file is \d+ bytes, more than the 4096-byte limit \(raise it with LOAA_MAX_AUDIO_BYTES\)/,
    );
  } finally {
    if (old === undefined) delete process.env.LOAA_MAX_AUDIO_BYTES;
    else process.env.LOAA_MAX_AUDIO_BYTES = old;
  }
});

test('FLAC, Ogg and MP3 fall back to the whole decode and give its samples in pieces', async () => {
  for (const f of ['tone.flac', 'tone.ogg', 'tone.mp3']) {
    const path = fixture('audio', 'formats', f);
    const audio = await readAudio(path);
    const want = audio.sampleRate === 16000 ? toMono(audio) : resample(toMono(audio), audio.sampleRate, 16000);
    const s = await openAudioStream(path, { chunkBytes: 4000 });
    assert.equal(s.streamed, false, f);
    const parts: Float32Array[] = [];
    for await (const p of s.chunks()) parts.push(p);
    assert.ok(parts.length > 1, `${f} comes in pieces`);
    assert.deepEqual(concat(parts), want, f);
  }
});

test('bad WAVs fail naming the file, a bad sample by its place in the whole file; the file is closed after a break', async () => {
  const short = join(dir, 'short.wav');
  writeFileSync(short, Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt ', 'latin1'));
  assert.throws(
    () => openWavStream(short),
    (e: Error) => e.message.startsWith(`${short}: truncated`),
  );
  const nan = join(dir, 'nan.wav');
  writeWavFile(nan, 8000, 1, 'f32', 9000, (first, n) => [
    Float32Array.from({ length: n }, (_, i) => (first + i === 5000 ? Number.NaN : 0.1)),
  ]);
  assert.throws(
    () => [...openWavStream(nan, { chunkBytes: 400 }).chunks()],
    new RegExp(`^Error: ${nan.replace(/[.]/g, '\\.')}: sample 5000 of channel 0 is NaN`),
  );
  assert.equal(statSync(nan).size, 44 + 9000 * 4);
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  const s = openWavStream(join(dir, 'limit.wav'), { chunkBytes: 100 });
  assert.equal(fds(), before + 1);
  for (const _ of s.chunks()) break;
  assert.equal(fds(), before, 'breaking out of chunks() closes the file');
  openWavStream(join(dir, 'limit.wav')).close();
  assert.equal(fds(), before, 'close() closes it');
});

test('mutated and truncated WAV headers: the stream fails with the whole-file reader message, or gives its samples', () => {
  let s = 7;
  const rand = (n: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  let failures = 0;
  for (const f of ['pcm_s16.wav', 'float32.wav', 'ext_s24in32.wav', 'pcm_u8.wav']) {
    const good = readFileSync(fixture('audio', 'formats', f));
    for (let k = 0; k < 60; k++) {
      const bad = Buffer.from(good);
      const edits = 1 + rand(3);
      for (let e = 0; e < edits; e++) bad[rand(72)] = rand(256);
      const cut = k % 5 === 0 ? bad.subarray(0, rand(bad.length)) : bad;
      const path = join(dir, `mut_${k}_${f}`);
      writeFileSync(path, cut);
      let want: Float32Array | Error;
      try {
        want = toMono(parseWav(cut, path));
      } catch (e) {
        want = e as Error;
      }
      let got: Float32Array | Error;
      try {
        got = concat([...openWavStream(path, { chunkBytes: 97 }).chunks()]);
      } catch (e) {
        got = e as Error;
      }
      if (want instanceof Error) {
        failures++;
        assert.ok(got instanceof Error, `${path}: the whole-file reader refused it (${want.message}), the stream did not`);
        assert.equal(got.message, want.message);
      } else {
        assert.deepEqual(got, want, path);
      }
      rmSync(path);
    }
  }
  assert.ok(failures > 20, `enough of the mutations are refused to test the messages (${failures})`);
});
