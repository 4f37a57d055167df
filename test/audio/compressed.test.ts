/** FLAC, Ogg/Vorbis and MP3 through the wasm decoders, and their failures as clean Errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeAudio, readAudio } from '../../src/audio/decode.js';
import { audioFixture, loadCases } from './golden-util.js';

const { compressed } = loadCases();

function goertzelPower(x: Float32Array, rate: number, freq: number): number {
  const w = (2 * Math.PI * freq) / rate;
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s = x[i] + 2 * Math.cos(w) * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return (s1 * s1 + s2 * s2 - 2 * Math.cos(w) * s1 * s2) / (x.length * x.length);
}

function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

const bytes = (f: string): Uint8Array => new Uint8Array(readFileSync(audioFixture(f)));

test('FLAC decodes losslessly to the int16 source', async () => {
  const a = await readAudio(audioFixture('formats/tone.flac'));
  assert.equal(a.sampleRate, compressed.rate);
  assert.equal(a.channels.length, 2);
  assert.equal(a.channels[0].length, compressed.frames);
  for (let c = 0; c < 2; c++) {
    let worst = 0;
    for (let i = 0; i < compressed.frames; i++) {
      const want = Math.round(compressed.amps[c] * Math.sin((2 * Math.PI * compressed.freqs[c] * i) / compressed.rate) * 32767) / 32768;
      worst = Math.max(worst, Math.abs(a.channels[c][i] - want));
    }
    assert.ok(worst <= 1 / 32768, `channel ${c}: worst ${worst}`);
  }
});

for (const f of ['formats/tone.ogg', 'formats/tone.mp3']) {
  test(`${f} decodes to the source tones (lossy)`, async () => {
    const a = await readAudio(audioFixture(f));
    assert.equal(a.sampleRate, compressed.rate);
    assert.equal(a.channels.length, 2);
    assert.ok(Math.abs(a.channels[0].length - compressed.frames) <= 1152, `length ${a.channels[0].length}`);
    for (let c = 0; c < 2; c++) {
      const x = a.channels[c];
      const own = goertzelPower(x, a.sampleRate, compressed.freqs[c]);
      const other = goertzelPower(x, a.sampleRate, compressed.freqs[1 - c]);
      assert.ok(own > 100 * other, `channel ${c}: tone power ${own} vs ${other}`);
      const want = compressed.amps[c] / Math.SQRT2;
      assert.ok(Math.abs(rms(x) - want) < 0.1 * want, `channel ${c}: rms ${rms(x)} vs ${want}`);
    }
  });
}

test('damaged compressed files are Errors naming the file', async () => {
  const flac = bytes('formats/tone.flac');
  const ogg = bytes('formats/tone.ogg');
  const mp3 = bytes('formats/tone.mp3');
  const bad: [string, Uint8Array, RegExp][] = [
    ['cut.flac', flac.slice(0, flac.length >> 1), /truncated or corrupt FLAC|zero samples/],
    ['head.flac', flac.slice(0, 60), /truncated FLAC|no audio frames/],
    ['cut.ogg', ogg.slice(0, ogg.length - 100), /truncated Ogg stream/],
    ['cut.mp3', mp3.slice(0, mp3.length - 100), /truncated MPEG audio stream/],
  ];
  const smashed = mp3.slice();
  smashed.fill(0x41, 3000, 4000);
  bad.push(['smashed.mp3', smashed, /corrupt MPEG audio stream/]);
  const garbled = flac.slice();
  for (let i = 2000; i < garbled.length; i += 101) garbled[i] ^= 0x5a;
  bad.push(['garbled.flac', garbled, /FLAC|zero samples/]);
  const garbledOgg = ogg.slice();
  for (let i = 200; i < garbledOgg.length; i += 997) garbledOgg[i] ^= 0x5a;
  bad.push(['garbled.ogg', garbledOgg, /Ogg|Vorbis|zero samples/]);
  for (const [name, buf, re] of bad) {
    await assert.rejects(decodeAudio(buf, name), (e: Error) => {
      assert.ok(e.message.startsWith(`${name}: `), e.message);
      assert.match(e.message, re);
      return true;
    });
  }
});

test('Ogg codecs other than Vorbis are reported as unsupported', async () => {
  const page = new Uint8Array(27 + 1 + 19);
  page.set(new TextEncoder().encode('OggS'), 0);
  page[5] = 0x02;
  page[26] = 1;
  page[27] = 19;
  page.set(new TextEncoder().encode('OpusHead'), 28);
  await assert.rejects(decodeAudio(page, 'voice.opus'), /voice\.opus: unsupported audio format: Ogg Opus/);
});

test('property: mutated FLAC / Ogg / MP3 files are clean Errors or consistent audio', async () => {
  const fc = (await import('fast-check')).default;
  const files = ['formats/tone.flac', 'formats/tone.ogg', 'formats/tone.mp3'].map(bytes);
  await fc.assert(
    fc.asyncProperty(
      fc.nat(2),
      fc.array(fc.tuple(fc.nat(4000), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat(40000), { nil: undefined }),
      async (which, edits, cut) => {
        let buf = files[which].slice();
        for (const [at, v] of edits) if (at < buf.length) buf[at] = v;
        if (cut !== undefined) buf = buf.slice(0, cut);
        try {
          const a = await decodeAudio(buf, 'fuzz.bin');
          assert.ok(a.channels.length > 0 && a.channels[0].length > 0);
          for (const ch of a.channels) assert.equal(ch.length, a.channels[0].length);
        } catch (e) {
          if (!(e instanceof Error) || !e.message.startsWith('fuzz.bin: ')) throw new Error(`unclean failure: ${String(e)}`);
        }
      },
    ),
    { numRuns: 300, seed: 99 },
  );
});
