/**
 * The start of a RIFF/WAVE file without reading the rest: inference keeps only the first seconds
 * the model's frames need, so an hour-long (or a 20 MB, 1 kHz) WAV costs what those seconds cost.
 * Anything this does not recognise (RF64, data before fmt, not a WAV) returns null and the caller
 * reads the whole file, whose decoder then reports what is wrong.
 */
import { closeSync, readSync } from 'node:fs';
import { openRegular } from '../util/fs.js';

/** Header + at most `frames(sampleRate)` sample frames of a WAV file, as a smaller WAV file; null: read it whole. */
export function readWavPrefix(path: string, frames: (sampleRate: number) => number): Uint8Array | null {
  const { fd, size } = openRegular(path, 'audio file');
  try {
    const at = (pos: number, n: number): Buffer => {
      const b = Buffer.alloc(n);
      return b.subarray(0, readSync(fd, b, 0, n, pos));
    };
    const head = at(0, 12);
    if (head.length < 12 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return null;
    let rate = 0;
    let blockAlign = 0;
    // chunk headers before the data are small; a file whose header chunks are not is read whole
    for (let pos = 12, chunks = 0; pos + 8 <= size && chunks < 64; chunks++) {
      const ch = at(pos, 8);
      if (ch.length < 8) return null;
      const id = ch.toString('latin1', 0, 4);
      const len = ch.readUInt32LE(4);
      const body = pos + 8;
      if (id === 'fmt ') {
        if (len < 16 || len > 4096) return null;
        const f = at(body, 16);
        if (f.length < 16) return null;
        rate = f.readUInt32LE(4);
        blockAlign = f.readUInt16LE(12);
      } else if (id === 'data') {
        if (!(rate > 0 && blockAlign > 0) || len > size - body) return null;
        const want = Math.max(1, Math.ceil(frames(rate))) * blockAlign;
        if (want >= len) return null; // nothing to gain
        if (body > 1 << 20) return null;
        const out = Buffer.concat([at(0, body), at(body, want)]);
        if (out.length !== body + want) return null;
        out.writeUInt32LE(out.length - 8, 4); // the RIFF size
        out.writeUInt32LE(want, body - 4); // the data chunk's size
        return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      }
      pos = body + len + (len & 1);
    }
    return null;
  } finally {
    closeSync(fd);
  }
}
