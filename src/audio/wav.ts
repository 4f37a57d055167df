/**
 * RIFF/WAVE (and RF64) reader: PCM integer 8/16/24/32-bit (and narrower valid bits in those
 * containers), IEEE float 32/64-bit, WAVE_FORMAT_EXTENSIBLE, any channel count and sample rate.
 * Integers are scaled the way torchaudio.load(normalize=True) does (divide by 2^(bits-1); 8-bit is
 * unsigned, centred on 128). Every size field is checked against the file before it is used, so a
 * lying header is an Error naming the file, never a crash, a hang, or zero-filled audio.
 */
import { checkSampleRate, MAX_CHANNELS, type DecodedAudio } from './types.js';

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;
/** KSDATAFORMAT_SUBTYPE_* GUIDs end in these 14 bytes; the first 2 hold the format tag */
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

const CODEC_NAMES: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0006: 'A-law',
  0x0007: 'mu-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MPEG layer 3',
  0x00ff: 'AAC',
  0x1610: 'HE-AAC',
  0xf1ac: 'FLAC',
};

/** A fmt chunk, checked: what the streaming reader (wav_stream.ts) needs to decode frames too. */
export interface WavFormat {
  tag: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bits: number;
}

export function isWav(buf: Uint8Array): boolean {
  return buf.byteLength >= 12 && (ascii(buf, 0, 4) === 'RIFF' || ascii(buf, 0, 4) === 'RF64') && ascii(buf, 8, 4) === 'WAVE';
}

export function parseWav(buf: Uint8Array, source: string): DecodedAudio {
  const { fmt, dataOff, frames } = wavLayout((pos, len) => buf.subarray(pos, pos + len), buf.byteLength, source);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { sampleRate: fmt.sampleRate, channels: decodeSamples(dv, dataOff, frames, fmt, source) };
}

/** Where a WAV file's samples are: its checked format and the data chunk's first byte and frame count. */
export interface WavLayout {
  fmt: WavFormat;
  dataOff: number;
  frames: number;
}

/**
 * Walks the RIFF chunks of a `length`-byte WAV through `read(pos, len)`, which returns those bytes
 * (all of them: every position and length asked for is inside the file). A buffer's reader is a
 * subarray; the streaming reader (wav_stream.ts) reads only the chunk headers from the file this way.
 */
export function wavLayout(read: (pos: number, len: number) => Uint8Array, length: number, source: string): WavLayout {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (length < 12) fail(`not a WAV file: ${length} bytes, shorter than the 12-byte RIFF header`);
  const head = read(0, 12);
  const magic = ascii(head, 0, 4);
  if (magic !== 'RIFF' && magic !== 'RF64') fail('not a WAV file: no RIFF header');
  if (ascii(head, 8, 4) !== 'WAVE') fail(`not a WAV file: RIFF form type is ${JSON.stringify(ascii(head, 8, 4))}, not "WAVE"`);
  const rf64 = magic === 'RF64';

  let end = length;
  if (!rf64) {
    const riffEnd = 8 + view(head).getUint32(4, true);
    // a missing pad byte after an odd-sized last chunk loses nothing; anything shorter is truncation
    if (riffEnd > length + 1) {
      fail(`truncated RIFF chunk: the header says ${riffEnd} bytes, the file has ${length}`);
    }
    end = Math.min(riffEnd, length);
  }

  let fmt: WavFormat | null = null;
  let dataOff = -1;
  let dataLen = 0;
  let ds64Data = -1;
  let pos = 12;
  while (pos < end) {
    if (pos + 8 > end) fail(`truncated chunk header at byte ${pos} (${end - pos} bytes left)`);
    const header = read(pos, 8);
    const id = ascii(header, 0, 4);
    let size = view(header).getUint32(4, true);
    const body = pos + 8;
    if (rf64 && id === 'data' && size === 0xffffffff) {
      if (ds64Data < 0) fail('RF64 data chunk without a ds64 chunk giving its size');
      size = ds64Data;
    }
    if (size > end - body) {
      if (id === 'data') fail(`data chunk size ${size} runs past the end of the file (${end - body} bytes left)`);
      fail(`truncated ${JSON.stringify(id)} chunk: size ${size} runs past the end of the file (${end - body} bytes left)`);
    }
    if (id === 'ds64' && rf64) {
      if (size < 24) fail(`ds64 chunk is ${size} bytes, shorter than 24`);
      const dv = view(read(body, 24));
      ds64Data = dv.getUint32(12, true) * 2 ** 32 + dv.getUint32(8, true);
    } else if (id === 'fmt ') {
      if (fmt) fail('more than one fmt chunk');
      // parseFmt reads at most 40 bytes of the body: a long (extended) fmt chunk is not read whole
      fmt = parseFmt(view(read(body, Math.min(size, 64))), 0, size, fail);
    } else if (id === 'data') {
      if (dataOff >= 0) fail('more than one data chunk');
      dataOff = body;
      dataLen = size;
    }
    pos = body + size + (size & 1);
  }
  if (!fmt) return fail('no fmt chunk');
  if (dataOff < 0) fail('no data chunk');
  if (dataLen % fmt.blockAlign !== 0) {
    fail(`data chunk size ${dataLen} is not a whole number of ${fmt.blockAlign}-byte sample frames (truncated?)`);
  }
  const frames = dataLen / fmt.blockAlign;
  if (frames === 0) fail('zero samples: the data chunk is empty');
  return { fmt, dataOff, frames };
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function parseFmt(dv: DataView, off: number, size: number, fail: (m: string) => never): WavFormat {
  if (size < 16) fail(`fmt chunk is ${size} bytes, shorter than 16`);
  let tag = dv.getUint16(off, true);
  const channels = dv.getUint16(off + 2, true);
  const sampleRate = dv.getUint32(off + 4, true);
  const blockAlign = dv.getUint16(off + 12, true);
  const bits = dv.getUint16(off + 14, true);
  if (tag === FORMAT_EXTENSIBLE) {
    if (size < 40) fail(`WAVE_FORMAT_EXTENSIBLE fmt chunk is ${size} bytes, shorter than 40`);
    const validBits = dv.getUint16(off + 18, true);
    if (validBits > bits) fail(`WAVE_FORMAT_EXTENSIBLE valid bits ${validBits} exceed the ${bits}-bit container`);
    tag = dv.getUint16(off + 24, true);
    for (let i = 0; i < GUID_TAIL.length; i++) {
      if (dv.getUint8(off + 26 + i) !== GUID_TAIL[i])
        fail('unsupported codec: WAVE_FORMAT_EXTENSIBLE sub-format GUID is not a standard one');
    }
  }
  if (tag !== FORMAT_PCM && tag !== FORMAT_FLOAT) {
    const name = CODEC_NAMES[tag] ? ` (${CODEC_NAMES[tag]})` : '';
    fail(`unsupported codec: WAV format tag 0x${tag.toString(16).padStart(4, '0')}${name}; only PCM integer and IEEE float are read`);
  }
  if (channels === 0) fail('fmt chunk says 0 channels');
  if (channels > MAX_CHANNELS) fail(`fmt chunk says ${channels} channels, above the ${MAX_CHANNELS}-channel limit`);
  try {
    checkSampleRate(sampleRate, 'fmt chunk');
  } catch (e) {
    fail((e as Error).message);
  }
  const bytes = Math.ceil(bits / 8);
  if (tag === FORMAT_PCM && (bits < 1 || bytes > 4)) fail(`unsupported PCM sample size: ${bits} bits`);
  if (tag === FORMAT_FLOAT && bits !== 32 && bits !== 64) fail(`unsupported float sample size: ${bits} bits (32 or 64 are read)`);
  if (blockAlign !== channels * bytes) {
    fail(`fmt block align ${blockAlign} does not match ${channels} channels of ${bytes}-byte samples`);
  }
  return { tag, channels, sampleRate, blockAlign, bits };
}

/** `frames` frames at byte `off`, one array per channel; `firstFrame` numbers the frames in errors (a streamed chunk's place in the file). */
export function decodeSamples(dv: DataView, off: number, frames: number, fmt: WavFormat, source: string, firstFrame = 0): Float32Array[] {
  const C = fmt.channels;
  const bytes = fmt.blockAlign / C;
  const out: Float32Array[] = [];
  for (let c = 0; c < C; c++) out.push(new Float32Array(frames));
  if (fmt.tag === FORMAT_FLOAT) {
    for (let c = 0; c < C; c++) {
      const ch = out[c];
      let p = off + c * bytes;
      for (let i = 0; i < frames; i++, p += fmt.blockAlign) {
        const v = bytes === 4 ? dv.getFloat32(p, true) : dv.getFloat64(p, true);
        ch[i] = v;
        // a float64 beyond float32's range would become Inf: as bad as a stored Inf
        if (ch[i] - ch[i] !== 0) {
          const what = Number.isNaN(v) ? 'NaN' : Number.isFinite(v) ? `${v}, beyond float32 range` : v > 0 ? '+Inf' : '-Inf';
          throw new Error(`${source}: sample ${firstFrame + i} of channel ${c} is ${what}`);
        }
      }
    }
    return out;
  }
  // integers are left-justified in their container: dividing by the container's full scale is right
  for (let c = 0; c < C; c++) {
    const ch = out[c];
    let p = off + c * bytes;
    const step = fmt.blockAlign;
    switch (bytes) {
      case 1:
        for (let i = 0; i < frames; i++, p += step) ch[i] = (dv.getUint8(p) - 128) / 128;
        break;
      case 2:
        for (let i = 0; i < frames; i++, p += step) ch[i] = dv.getInt16(p, true) / 32768;
        break;
      case 3:
        for (let i = 0; i < frames; i++, p += step) {
          const v = dv.getUint8(p) | (dv.getUint8(p + 1) << 8) | (dv.getInt8(p + 2) << 16);
          ch[i] = v / 8388608;
        }
        break;
      default:
        for (let i = 0; i < frames; i++, p += step) ch[i] = dv.getInt32(p, true) / 2147483648;
    }
  }
  return out;
}

/** Serialise float audio as a 16-bit PCM (values clipped to the int16 range) or 32-bit float WAV: a writer for tests and tools. */
export function encodeWav(audio: DecodedAudio, format: 'int16' | 'float32' = 'int16'): Uint8Array {
  const C = audio.channels.length;
  const n = C ? audio.channels[0].length : 0;
  const bytes = format === 'int16' ? 2 : 4;
  const dataLen = n * C * bytes;
  const buf = new Uint8Array(44 + dataLen + (dataLen & 1));
  const dv = new DataView(buf.buffer);
  const put = (o: number, s: string): void => {
    for (let i = 0; i < 4; i++) buf[o + i] = s.charCodeAt(i);
  };
  put(0, 'RIFF');
  dv.setUint32(4, buf.byteLength - 8, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, format === 'int16' ? FORMAT_PCM : FORMAT_FLOAT, true);
  dv.setUint16(22, C, true);
  dv.setUint32(24, audio.sampleRate, true);
  dv.setUint32(28, audio.sampleRate * C * bytes, true);
  dv.setUint16(32, C * bytes, true);
  dv.setUint16(34, bytes * 8, true);
  put(36, 'data');
  dv.setUint32(40, dataLen, true);
  let p = 44;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++, p += bytes) {
      const v = audio.channels[c][i];
      if (format === 'int16') dv.setInt16(p, Math.max(-32768, Math.min(32767, Math.round(v * 32768))), true);
      else dv.setFloat32(p, v, true);
    }
  }
  return buf;
}

function ascii(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(buf[off + i]);
  return s;
}
