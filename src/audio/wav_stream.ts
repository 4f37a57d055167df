/**
 * A WAV file read in bounded pieces: the chunk headers are walked with the same code as `parseWav`
 * (`wavLayout`), then the data chunk is read a piece at a time and each piece is decoded and mixed
 * down to mono the way the whole-file path does (`decodeSamples`, `toMono`), so the samples are
 * identical; memory is one piece, whatever the file's length.
 */
import { closeSync } from 'node:fs';
import { openRegular, preadExact } from '../util/fs.js';
import { toMono } from './types.js';
import { decodeSamples, wavLayout, type WavFormat } from './wav.js';

/**
 * Bytes of sample data read at once (rounded down to whole frames; at least one frame). Each piece
 * leaves a few times its size in short-lived arrays (decoded, resampled); 256 KiB keeps what waits
 * for the garbage collector small while the per-piece overhead stays negligible.
 */
export const DEFAULT_CHUNK_BYTES = 1 << 18;

export interface WavStreamOptions {
  chunkBytes?: number;
}

export interface WavStream {
  source: string;
  sampleRate: number;
  channels: number;
  /** sample frames in the file (per channel) */
  frames: number;
  /**
   * Mono pieces of the file in order, each a fresh array; the file is closed when the loop ends,
   * breaks or throws (a second call reads from the start again while the file is still open).
   */
  chunks(): Generator<Float32Array>;
  /** Close the file without reading it (idempotent). */
  close(): void;
}

/** Open a WAV file and read its header; the samples are read only by `chunks()`. */
export function openWavStream(path: string, opts: WavStreamOptions = {}): WavStream {
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) throw new Error(`chunkBytes: must be a positive integer, got ${chunkBytes}`);
  const { fd, size } = openRegular(path, 'audio file');
  let open = true;
  const close = (): void => {
    if (open) closeSync(fd);
    open = false;
  };
  let fmt: WavFormat;
  let dataOff: number;
  let frames: number;
  try {
    ({ fmt, dataOff, frames } = wavLayout((pos, len) => preadExact(fd, path, pos, len), size, path));
  } catch (e) {
    close();
    throw e;
  }
  const perRead = Math.max(1, Math.floor(chunkBytes / fmt.blockAlign));
  function* chunks(): Generator<Float32Array> {
    try {
      for (let first = 0; first < frames; first += perRead) {
        if (!open) throw new Error(`${path}: the WAV stream was closed`);
        const n = Math.min(perRead, frames - first);
        const bytes = preadExact(fd, path, dataOff + first * fmt.blockAlign, n * fmt.blockAlign);
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const channels = decodeSamples(dv, 0, n, fmt, path, first);
        yield toMono({ sampleRate: fmt.sampleRate, channels });
      }
    } finally {
      close();
    }
  }
  return { source: path, sampleRate: fmt.sampleRate, channels: fmt.channels, frames, chunks, close };
}
