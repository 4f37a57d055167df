/** The WAV reader on bad input: every failure an Error naming the file; mutated headers never crash or hang. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeAudio } from '../../src/audio/decode.js';
import { encodeWav, parseWav } from '../../src/audio/wav.js';
import type { DecodedAudio } from '../../src/audio/types.js';

const SRC = 'clip.wav';

function tone(n = 64, channels = 2, rate = 8000): DecodedAudio {
  const chs: Float32Array[] = [];
  for (let c = 0; c < channels; c++) chs.push(Float32Array.from({ length: n }, (_, i) => 0.5 * Math.sin(i * (0.3 + c * 0.1))));
  return { sampleRate: rate, channels: chs };
}

function fails(buf: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => parseWav(buf, SRC),
    (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.ok(e.message.startsWith(`${SRC}: `), e.message);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

/** a fmt chunk + data chunk WAV from raw parts, for hand-made bad files */
function wavOf(
  fmt: { tag: number; ch: number; rate: number; bits: number; align?: number; extra?: Uint8Array },
  data: Uint8Array,
  riffSize?: number,
  dataSize?: number,
): Uint8Array {
  const extra = fmt.extra ?? new Uint8Array(0);
  const fmtLen = 16 + extra.length;
  const buf = new Uint8Array(12 + 8 + fmtLen + 8 + data.length);
  const dv = new DataView(buf.buffer);
  const put = (o: number, s: string): void =>
    s.split('').forEach((c, i) => {
      buf[o + i] = c.charCodeAt(0);
    });
  put(0, 'RIFF');
  dv.setUint32(4, riffSize ?? buf.length - 8, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  dv.setUint32(16, fmtLen, true);
  const align = fmt.align ?? fmt.ch * Math.ceil(fmt.bits / 8);
  dv.setUint16(20, fmt.tag, true);
  dv.setUint16(22, fmt.ch, true);
  dv.setUint32(24, fmt.rate, true);
  dv.setUint32(28, fmt.rate * align, true);
  dv.setUint16(32, align, true);
  dv.setUint16(34, fmt.bits, true);
  buf.set(extra, 36);
  const d = 20 + fmtLen;
  put(d, 'data');
  dv.setUint32(d + 4, dataSize ?? data.length, true);
  buf.set(data, d + 8);
  return buf;
}

test('encodeWav round-trips through parseWav (int16 and float32)', () => {
  const a = tone(100, 3, 22050);
  const f = parseWav(encodeWav(a, 'float32'), SRC);
  assert.equal(f.sampleRate, 22050);
  assert.deepEqual(f.channels, a.channels);
  const i = parseWav(encodeWav(a, 'int16'), SRC);
  for (let c = 0; c < 3; c++) for (let k = 0; k < 100; k++) assert.ok(Math.abs(i.channels[c][k] - a.channels[c][k]) <= 1 / 32768);
});

test('bad WAV files are Errors naming the file and the problem', () => {
  const pcm = new Uint8Array(8);
  fails(new Uint8Array(0), /shorter than the 12-byte RIFF header/);
  fails(new TextEncoder().encode('hello world, not audio at all'), /no RIFF header/);
  const good = wavOf({ tag: 1, ch: 1, rate: 8000, bits: 16 }, pcm);
  fails(good.slice(0, good.length - 3), /truncated RIFF chunk/);
  fails(wavOf({ tag: 1, ch: 1, rate: 8000, bits: 16 }, pcm, undefined, 4000), /data chunk size 4000 runs past the end/);
  fails(wavOf({ tag: 1, ch: 1, rate: 8000, bits: 16 }, new Uint8Array(0)), /zero samples/);
  fails(wavOf({ tag: 1, ch: 1, rate: 0, bits: 16 }, pcm), /invalid sample rate 0/);
  fails(wavOf({ tag: 1, ch: 1, rate: 400000, bits: 16 }, pcm), /sample rate 400000 Hz is above/);
  fails(wavOf({ tag: 2, ch: 1, rate: 8000, bits: 4, align: 256 }, pcm), /unsupported codec.*0x0002 \(Microsoft ADPCM\)/);
  fails(wavOf({ tag: 7, ch: 1, rate: 8000, bits: 8 }, pcm), /unsupported codec.*mu-law/);
  fails(wavOf({ tag: 3, ch: 1, rate: 8000, bits: 16 }, pcm), /unsupported float sample size: 16/);
  fails(wavOf({ tag: 1, ch: 0, rate: 8000, bits: 16, align: 0 }, pcm), /0 channels/);
  fails(wavOf({ tag: 1, ch: 2, rate: 8000, bits: 16, align: 3 }, pcm), /block align 3/);
  fails(wavOf({ tag: 1, ch: 1, rate: 8000, bits: 16 }, new Uint8Array(7)), /not a whole number of 2-byte sample frames/);
  const nan = new Uint8Array(8);
  new DataView(nan.buffer).setFloat32(4, NaN, true);
  fails(wavOf({ tag: 3, ch: 1, rate: 8000, bits: 32 }, nan), /sample 1 of channel 0 is NaN/);
  const inf = new Uint8Array(16);
  new DataView(inf.buffer).setFloat64(8, -Infinity, true);
  fails(wavOf({ tag: 3, ch: 1, rate: 8000, bits: 64 }, inf), /sample 1 of channel 0 is -Inf/);
  const big = new Uint8Array(8);
  new DataView(big.buffer).setFloat64(0, 1e300, true);
  fails(wavOf({ tag: 3, ch: 1, rate: 8000, bits: 64 }, big), /beyond float32 range/);
  // a fmt chunk that claims more bytes than the file has
  const trunc = wavOf({ tag: 1, ch: 1, rate: 8000, bits: 16 }, pcm);
  new DataView(trunc.buffer).setUint32(16, 1000, true);
  fails(trunc, /truncated "fmt " chunk/);
  // no data chunk
  const nodata = good.slice();
  nodata.set([0x6a, 0x75, 0x6e, 0x6b], 36); // 'junk'
  fails(nodata, /no data chunk/);
});

test('values are not clipped: float samples beyond [-1, 1] survive', () => {
  const a: DecodedAudio = { sampleRate: 16000, channels: [Float32Array.from([2.5, -3, 0])] };
  assert.deepEqual(parseWav(encodeWav(a, 'float32'), SRC).channels[0], a.channels[0]);
});

test('decodeAudio rejects non-audio and unsupported containers by content', async () => {
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(0), /empty file/],
    [new TextEncoder().encode('{"not": "audio"}'), /not an audio file/],
    [new TextEncoder().encode('FORM\0\0\0\x10AIFFCOMM'), /unsupported audio format: AIFF/],
    [new TextEncoder().encode('\0\0\0\x20ftypM4A isom'), /unsupported audio format: MP4/],
    [new TextEncoder().encode('RIFF\x04\0\0\0AVI '), /unsupported audio format: RIFF form "AVI "/],
  ];
  for (const [buf, re] of cases) {
    await assert.rejects(decodeAudio(buf, 'x.bin'), (e: Error) => e.message.startsWith('x.bin: ') && re.test(e.message));
  }
});

/** Any outcome but a clean Error naming the file, or a consistent decode, fails the property. */
function checkOutcome(buf: Uint8Array): void {
  let out: DecodedAudio;
  try {
    out = parseWav(buf, SRC);
  } catch (e) {
    if (!(e instanceof Error) || !e.message.startsWith(`${SRC}: `)) throw new Error(`unclean failure: ${String(e)}`);
    return;
  }
  assert.ok(out.sampleRate > 0 && out.sampleRate <= 384000);
  assert.ok(out.channels.length > 0);
  const n = out.channels[0].length;
  assert.ok(n > 0);
  for (const ch of out.channels) {
    assert.equal(ch.length, n);
    for (const v of ch) assert.ok(Number.isFinite(v));
  }
}

const base16 = encodeWav(tone(48, 2, 8000), 'int16');
const baseF32 = encodeWav(tone(16, 3, 44100), 'float32');
const extensible = (() => {
  // 24-bit in 32-bit containers, WAVE_FORMAT_EXTENSIBLE
  const extra = new Uint8Array(24);
  const dv = new DataView(extra.buffer);
  dv.setUint16(0, 22, true);
  dv.setUint16(2, 24, true);
  dv.setUint32(4, 3, true);
  extra.set([1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71], 8);
  return wavOf({ tag: 0xfffe, ch: 2, rate: 48000, bits: 32, extra }, new Uint8Array(64));
})();

test('extensible 24-in-32 WAV decodes', () => {
  const a = parseWav(extensible, SRC);
  assert.equal(a.channels.length, 2);
  assert.equal(a.channels[0].length, 8);
});

test('property: mutated WAV headers never crash, hang or return inconsistent audio', () => {
  const bases = [base16, baseF32, extensible];
  const interesting = [0, 1, 2, 3, 4, 7, 8, 15, 16, 24, 32, 0x7f, 0x80, 0xfe, 0xff];
  const mutation = fc.oneof(
    // overwrite a header byte (first 64 bytes) with anything
    fc.record({ kind: fc.constant('byte' as const), at: fc.nat(63), value: fc.integer({ min: 0, max: 255 }) }),
    // a 32-bit field set to an extreme value
    fc.record({
      kind: fc.constant('u32' as const),
      at: fc.nat(60),
      value: fc.constantFrom(0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 384001),
    }),
    // a 16-bit field set to an interesting value
    fc.record({
      kind: fc.constant('u16' as const),
      at: fc.nat(62),
      value: fc.oneof(fc.constantFrom(...interesting), fc.constantFrom(0xfffe, 0xffff, 3, 6, 7)),
    }),
    // cut the file
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(200), value: fc.constant(0) }),
  );
  fc.assert(
    fc.property(fc.nat(bases.length - 1), fc.array(mutation, { minLength: 1, maxLength: 6 }), (which, muts) => {
      let buf = bases[which].slice();
      for (const m of muts) {
        const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        if (m.kind === 'cut') buf = buf.slice(0, Math.min(buf.length, m.at));
        else if (m.kind === 'byte' && m.at < buf.length) buf[m.at] = m.value;
        else if (m.kind === 'u32' && m.at + 4 <= buf.length) dv.setUint32(m.at, m.value, true);
        else if (m.kind === 'u16' && m.at + 2 <= buf.length) dv.setUint16(m.at, m.value, true);
      }
      const t0 = performance.now();
      checkOutcome(buf);
      assert.ok(performance.now() - t0 < 2000, 'took over 2 s: a hang, not a slow machine');
    }),
    { numRuns: 4000, seed: 20240601 },
  );
});

test('property: random bytes after a RIFF/WAVE header are clean Errors or consistent audio', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.boolean(), (body, rf64) => {
      const buf = new Uint8Array(12 + body.length);
      buf.set(new TextEncoder().encode(rf64 ? 'RF64' : 'RIFF'), 0);
      new DataView(buf.buffer).setUint32(4, rf64 ? 0xffffffff : body.length + 4, true);
      buf.set(new TextEncoder().encode('WAVE'), 8);
      buf.set(body, 12);
      checkOutcome(buf);
    }),
    { numRuns: 2000, seed: 7 },
  );
});
