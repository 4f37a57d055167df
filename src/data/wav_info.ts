import { closeSync, readSync } from 'node:fs';
import { openRegular } from '../util/fs.js';

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Sample frames in the data chunk. */
  frames: number;
}

/**
 * A RIFF/WAVE file's format and length from its chunk headers, without reading the samples
 * (readers cut windows from long files and need only the length).
 */
export function wavInfo(path: string): WavInfo {
  const { fd, size } = openRegular(path, 'WAV file');
  try {
    const head = Buffer.alloc(12);
    if (readSync(fd, head, 0, 12, 0) < 12 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') {
      throw new Error(`${path}: not a RIFF/WAVE file`);
    }
    let pos = 12;
    let fmt: { sampleRate: number; channels: number; bitsPerSample: number; blockAlign: number } | undefined;
    const ch = Buffer.alloc(8);
    while (pos + 8 <= size) {
      readSync(fd, ch, 0, 8, pos);
      const id = ch.toString('latin1', 0, 4);
      const len = ch.readUInt32LE(4);
      if (id === 'fmt ') {
        const b = Buffer.alloc(16);
        if (len < 16 || readSync(fd, b, 0, 16, pos + 8) < 16) throw new Error(`${path}: truncated fmt chunk`);
        fmt = {
          channels: b.readUInt16LE(2),
          sampleRate: b.readUInt32LE(4),
          blockAlign: b.readUInt16LE(12),
          bitsPerSample: b.readUInt16LE(14),
        };
      } else if (id === 'data') {
        if (!fmt) throw new Error(`${path}: data chunk before fmt chunk`);
        if (fmt.blockAlign === 0) throw new Error(`${path}: fmt chunk has block align 0`);
        // streamed writers leave the size at 0 or 0xFFFFFFFF: the data then runs to the end of the file
        const avail = size - (pos + 8);
        const bytes = len === 0 || len > avail ? avail : len;
        return {
          sampleRate: fmt.sampleRate,
          channels: fmt.channels,
          bitsPerSample: fmt.bitsPerSample,
          frames: Math.floor(bytes / fmt.blockAlign),
        };
      }
      pos += 8 + len + (len & 1);
    }
    throw new Error(`${path}: no data chunk`);
  } finally {
    closeSync(fd);
  }
}
