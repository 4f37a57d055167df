/**
 * WAV files written a piece at a time (so an hour of audio never sits in memory), in every sample
 * format the reader takes, and the 20-second test recording: silence, a tone, noise, a tone, silence.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export type SampleFormat = 'u8' | 's16' | 's24' | 's32' | 'f32' | 'f64';

const BYTES: Record<SampleFormat, number> = { u8: 1, s16: 2, s24: 3, s32: 4, f32: 4, f64: 8 };

/** `fill(first, n)` gives frames [first, first + n) of each channel. */
export function writeWavFile(
  path: string,
  sampleRate: number,
  channels: number,
  format: SampleFormat,
  frames: number,
  fill: (first: number, n: number) => Float32Array[],
  piece = 65536,
): void {
  const b = BYTES[format];
  const dataLen = frames * channels * b;
  const head = Buffer.alloc(44);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(36 + dataLen + (dataLen & 1), 4);
  head.write('WAVEfmt ', 8, 'latin1');
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(format[0] === 'f' ? 3 : 1, 20);
  head.writeUInt16LE(channels, 22);
  head.writeUInt32LE(sampleRate, 24);
  head.writeUInt32LE(sampleRate * channels * b, 28);
  head.writeUInt16LE(channels * b, 32);
  head.writeUInt16LE(b * 8, 34);
  head.write('data', 36, 'latin1');
  head.writeUInt32LE(dataLen, 40);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    for (let first = 0; first < frames; first += piece) {
      const n = Math.min(piece, frames - first);
      const chs = fill(first, n);
      const out = Buffer.alloc(n * channels * b);
      let p = 0;
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < channels; c++, p += b) {
          const v = chs[c]![i]!;
          const clip = (s: number): number => Math.max(-s, Math.min(s - 1, Math.round(v * s)));
          if (format === 'u8') out.writeUInt8(clip(128) + 128, p);
          else if (format === 's16') out.writeInt16LE(clip(32768), p);
          else if (format === 's24') out.writeIntLE(clip(8388608), p, 3);
          else if (format === 's32') out.writeInt32LE(clip(2147483648), p);
          else if (format === 'f32') out.writeFloatLE(v, p);
          else out.writeDoubleLE(v, p);
        }
      }
      writeSync(fd, out);
    }
    if (dataLen & 1) writeSync(fd, Buffer.alloc(1));
  } finally {
    closeSync(fd);
  }
}

/** The 20-s recording's sections: [start s, end s, kind]; kinds differ in energy (silence < tone < noise). */
export const SECTIONS: readonly [number, number, 'silence' | 'tone' | 'noise'][] = [
  [0, 5.3, 'silence'],
  [5.3, 9.1, 'tone'],
  [9.1, 14.7, 'noise'],
  [14.7, 17.2, 'tone'],
  [17.2, 20, 'silence'],
];

/** Deterministic uniform noise in [-1, 1) from a sample index (no state: any piece can be made alone). */
function noiseAt(i: number): number {
  let h = (i * 2654435761) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 2246822519) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  return h / 2 ** 31 - 1;
}

/** The recording at `rate`, `channels` channels (the second one a little quieter, so the mixdown matters). */
export function sectionsFill(rate: number, channels: number): (first: number, n: number) => Float32Array[] {
  return (first, n) => {
    const out = Array.from({ length: channels }, () => new Float32Array(n));
    for (let i = 0; i < n; i++) {
      const t = (first + i) / rate;
      const kind = SECTIONS.find(([a, b]) => t >= a && t < b)?.[2] ?? 'silence';
      const v = kind === 'tone' ? 0.5 * Math.sin(2 * Math.PI * 440 * t) : kind === 'noise' ? 0.9 * noiseAt(first + i) : 0;
      for (let c = 0; c < channels; c++) out[c]![i] = v * (1 - 0.1 * c);
    }
    return out;
  };
}
