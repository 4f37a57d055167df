/**
 * What a byte buffer holds, from its first bytes (never from the file name), and light walks over the
 * FLAC / Ogg / MPEG framing. The wasm decoders skip damage silently (they resync, or return nothing),
 * so truncation and broken framing are found here first and reported as Errors naming the file.
 */
export type AudioFormat = 'wav' | 'flac' | 'ogg-vorbis' | 'mp3';

export type Sniffed = { format: AudioFormat; offset: number } | { unsupported: string } | null;

function ascii(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = 0; i < len && off + i < buf.byteLength; i++) s += String.fromCharCode(buf[off + i]);
  return s;
}

/** Length of an ID3v2 tag at `off` (header, body and footer), 0 when there is none. */
export function id3v2Length(buf: Uint8Array, off = 0): number {
  if (buf.byteLength < off + 10 || ascii(buf, off, 3) !== 'ID3') return 0;
  const s = buf.subarray(off + 6, off + 10);
  if ((s[0] | s[1] | s[2] | s[3]) & 0x80) return 0;
  const size = (s[0] << 21) | (s[1] << 14) | (s[2] << 7) | s[3];
  return 10 + size + (buf[off + 5] & 0x10 ? 10 : 0);
}

export function sniffAudio(buf: Uint8Array): Sniffed {
  const magic4 = ascii(buf, 0, 4);
  if ((magic4 === 'RIFF' || magic4 === 'RF64') && buf.byteLength >= 12) {
    const form = ascii(buf, 8, 4);
    if (form === 'WAVE') return { format: 'wav', offset: 0 };
    return { unsupported: `RIFF form ${JSON.stringify(form)} (not WAVE)` };
  }
  if (magic4 === 'FORM' && /^AIF[FC]$/.test(ascii(buf, 8, 4))) return { unsupported: 'AIFF' };
  if (magic4 === 'caff') return { unsupported: 'Core Audio (CAF)' };
  if (magic4 === '.snd') return { unsupported: 'Sun/NeXT AU' };
  if (magic4 === 'wvpk') return { unsupported: 'WavPack' };
  if (magic4 === 'MAC ') return { unsupported: "Monkey's Audio" };
  if (ascii(buf, 0, 5) === '#!AMR') return { unsupported: 'AMR' };
  if (ascii(buf, 4, 4) === 'ftyp') return { unsupported: 'MP4/M4A (AAC or ALAC)' };
  if (magic4 === 'OggS') {
    const nseg = buf[26] ?? 0;
    const p = 27 + nseg;
    if (ascii(buf, p, 7) === '\x01vorbis') return { format: 'ogg-vorbis', offset: 0 };
    if (ascii(buf, p, 8) === 'OpusHead') return { unsupported: 'Ogg Opus' };
    if (ascii(buf, p, 5) === '\x7fFLAC') return { unsupported: 'Ogg FLAC' };
    if (ascii(buf, p, 8) === 'Speex   ') return { unsupported: 'Ogg Speex' };
    return { unsupported: 'Ogg stream of an unknown codec' };
  }
  const id3 = id3v2Length(buf);
  if (id3 > buf.byteLength) return null;
  if (ascii(buf, id3, 4) === 'fLaC') return { format: 'flac', offset: id3 };
  if (buf.byteLength >= id3 + 4 && buf[id3] === 0xff && (buf[id3 + 1] & 0xf6) === 0xf0) return { unsupported: 'AAC (ADTS)' };
  const start = findMpegStart(buf, id3, id3 > 0 ? 65536 : 0);
  if (start >= 0) return { format: 'mp3', offset: start };
  return null;
}

// ---------------------------------------------------------------- FLAC

export interface FlacInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** 0 when the encoder did not know it */
  totalSamples: number;
}

/** STREAMINFO of a FLAC stream starting at `off` ("fLaC"); checks the metadata block chain. */
export function flacStreamInfo(buf: Uint8Array, off: number, source: string): FlacInfo {
  const fail = (m: string): never => {
    throw new Error(`${source}: ${m}`);
  };
  let p = off + 4;
  let info: FlacInfo | null = null;
  for (;;) {
    if (p + 4 > buf.byteLength) fail('truncated FLAC file: metadata block header runs past the end');
    const last = buf[p] & 0x80;
    const type = buf[p] & 0x7f;
    const len = (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];
    if (p + 4 + len > buf.byteLength) fail(`truncated FLAC file: metadata block of ${len} bytes runs past the end`);
    if (type === 0) {
      if (len < 34) fail(`FLAC STREAMINFO is ${len} bytes, shorter than 34`);
      const b = buf.subarray(p + 4, p + 4 + 34);
      const sampleRate = (b[10] << 12) | (b[11] << 4) | (b[12] >> 4);
      const channels = ((b[12] >> 1) & 7) + 1;
      const bitsPerSample = (((b[12] & 1) << 4) | (b[13] >> 4)) + 1;
      const totalSamples = (b[13] & 0x0f) * 2 ** 32 + ((b[14] << 24) >>> 0) + (b[15] << 16) + (b[16] << 8) + b[17];
      info = { sampleRate, channels, bitsPerSample, totalSamples };
    } else if (!info) {
      fail('FLAC file does not start with a STREAMINFO block');
    }
    p += 4 + len;
    if (last) break;
  }
  if (!info) return fail('FLAC file has no STREAMINFO block');
  if (p >= buf.byteLength) fail('zero samples: the FLAC file has metadata but no audio frames');
  return info;
}

// ---------------------------------------------------------------- Ogg

/** Walks every Ogg page: none may run past the end, and the last must carry end-of-stream. */
export function checkOggPages(buf: Uint8Array, source: string): void {
  let p = 0;
  let lastFlags = 0;
  let pages = 0;
  while (p < buf.byteLength) {
    if (p + 27 > buf.byteLength) throw new Error(`${source}: truncated Ogg stream: page header at byte ${p} runs past the end`);
    if (ascii(buf, p, 4) !== 'OggS') throw new Error(`${source}: corrupt Ogg stream: no page at byte ${p}`);
    const nseg = buf[p + 26];
    if (p + 27 + nseg > buf.byteLength) throw new Error(`${source}: truncated Ogg stream: segment table at byte ${p} runs past the end`);
    let body = 0;
    for (let i = 0; i < nseg; i++) body += buf[p + 27 + i];
    const next = p + 27 + nseg + body;
    if (next > buf.byteLength) {
      throw new Error(`${source}: truncated Ogg stream: page at byte ${p} needs ${next - p} bytes, ${buf.byteLength - p} are left`);
    }
    lastFlags = buf[p + 5];
    pages++;
    p = next;
  }
  if (pages === 0) throw new Error(`${source}: empty Ogg stream`);
  if (!(lastFlags & 0x04)) throw new Error(`${source}: truncated Ogg stream: the last page does not end the stream`);
}

// ---------------------------------------------------------------- MPEG audio

const BITRATES: Record<string, number[]> = {
  // [version 1 | 2 (and 2.5)][layer]: kbit/s by index 0..14 (0 = free format)
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  '2-3': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const MPEG_RATES = [44100, 48000, 32000];

/** Byte length of the MPEG audio frame whose header is at `p`; 0 for free format; -1 if no header. */
export function mpegFrameLength(buf: Uint8Array, p: number): number {
  if (p + 4 > buf.byteLength || buf[p] !== 0xff || (buf[p + 1] & 0xe0) !== 0xe0) return -1;
  const ver = (buf[p + 1] >> 3) & 3; // 0: 2.5, 2: 2, 3: 1
  const layer = 4 - ((buf[p + 1] >> 1) & 3); // 1..3, 4 = reserved
  const bri = buf[p + 2] >> 4;
  const sri = (buf[p + 2] >> 2) & 3;
  const pad = (buf[p + 2] >> 1) & 1;
  if (ver === 1 || layer === 4 || bri === 15 || sri === 3) return -1;
  const v1 = ver === 3;
  const rate = MPEG_RATES[sri] / (ver === 3 ? 1 : ver === 2 ? 2 : 4);
  const kbps = BITRATES[`${v1 ? 1 : 2}-${layer}`][bri];
  if (kbps === 0) return 0;
  if (layer === 1) return (Math.floor((12 * kbps * 1000) / rate) + pad) * 4;
  const k = layer === 3 && !v1 ? 72 : 144;
  return Math.floor((k * kbps * 1000) / rate) + pad;
}

/** First offset >= `from` (searching `window` bytes on) where two MPEG frames follow each other. */
function findMpegStart(buf: Uint8Array, from: number, window: number): number {
  const stop = Math.min(buf.byteLength - 4, from + window);
  for (let p = from; p <= stop; p++) {
    const len = mpegFrameLength(buf, p);
    if (len < 0) continue;
    if (len === 0) return p; // free format: trust the decoder
    const q = p + len;
    if (q >= buf.byteLength || q + 4 > buf.byteLength || mpegFrameLength(buf, q) >= 0 || trailerAt(buf, q)) return p;
  }
  return -1;
}

/**
 * Index of the last non-zero byte (-1 when all are zero), computed once per buffer: testing "only
 * zeros from here on" by rescanning the rest for every candidate frame made probing quadratic.
 */
const lastNonZeroCache = new WeakMap<Uint8Array, number>();
function lastNonZero(buf: Uint8Array): number {
  let hit = lastNonZeroCache.get(buf);
  if (hit === undefined) {
    hit = buf.byteLength - 1;
    while (hit >= 0 && buf[hit] === 0) hit--;
    lastNonZeroCache.set(buf, hit);
  }
  return hit;
}

function trailerAt(buf: Uint8Array, p: number): boolean {
  const rest = buf.byteLength - p;
  return (
    (rest === 128 && ascii(buf, p, 3) === 'TAG') ||
    ascii(buf, p, 8) === 'APETAGEX' ||
    ascii(buf, p, 6) === 'LYRICS' ||
    id3v2Length(buf, p) > 0 ||
    p > lastNonZero(buf)
  );
}

/**
 * Walks MPEG frames from `start`: framing must hold to the end (tags and zero padding allowed).
 * Returns where the frames end (the end of the buffer for free-format streams), so the decoder is
 * given the frames only, never megabytes of trailing padding to resynchronise over.
 */
export function checkMpegFrames(buf: Uint8Array, start: number, source: string): number {
  let p = start;
  let frames = 0;
  while (p < buf.byteLength) {
    if (trailerAt(buf, p)) break;
    const len = mpegFrameLength(buf, p);
    if (len < 0) throw new Error(`${source}: corrupt MPEG audio stream: no frame header at byte ${p}`);
    if (len === 0) return buf.byteLength; // free-format bitrate: frame sizes are not in the header
    if (p + len > buf.byteLength) {
      throw new Error(`${source}: truncated MPEG audio stream: frame at byte ${p} needs ${len} bytes, ${buf.byteLength - p} are left`);
    }
    frames++;
    p += len;
  }
  if (frames === 0) throw new Error(`${source}: zero samples: no MPEG audio frames`);
  return p;
}
