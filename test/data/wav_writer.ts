import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface WavOptions {
  sampleRate?: number;
  channels?: number;
}

/**
 * A minimal 16-bit PCM WAV: `samples` are interleaved floats in [-1, 1] (clipped), or a frame
 * count for silence.
 */
export function wavBytes(samples: ArrayLike<number> | number, opts: WavOptions = {}): Buffer {
  const sampleRate = opts.sampleRate ?? 16000;
  const channels = opts.channels ?? 1;
  const n = typeof samples === 'number' ? samples * channels : samples.length;
  const data = 2 * n;
  const b = Buffer.alloc(44 + data);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + data, 4);
  b.write('WAVE', 8, 'latin1');
  b.write('fmt ', 12, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * channels * 2, 28);
  b.writeUInt16LE(channels * 2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(data, 40);
  if (typeof samples !== 'number') {
    for (let i = 0; i < n; i++) {
      const v = Math.max(-1, Math.min(1, samples[i]!));
      b.writeInt16LE(Math.round(v < 0 ? v * 32768 : v * 32767), 44 + 2 * i);
    }
  }
  return b;
}

export function writeWav(path: string, samples: ArrayLike<number> | number, opts: WavOptions = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, wavBytes(samples, opts));
}
