/** Any supported audio file to channels of float samples, chosen by content, never by file name. */
import { readFileSync } from 'node:fs';
import { decodeFlac, decodeMp3, decodeOggVorbis } from './compressed.js';
import { sniffAudio } from './sniff.js';
import { checkDecoded, type DecodedAudio } from './types.js';
import { parseWav } from './wav.js';

export const SUPPORTED_FORMATS = 'WAV (PCM 8/16/24/32-bit, float 32/64-bit), FLAC, Ogg/Vorbis or MP3';

export async function decodeAudio(buf: Uint8Array, source: string): Promise<DecodedAudio> {
  const kind = sniffAudio(buf);
  if (kind === null) {
    if (buf.byteLength === 0) throw new Error(`${source}: empty file`);
    throw new Error(`${source}: not an audio file (expected ${SUPPORTED_FORMATS})`);
  }
  if ('unsupported' in kind) throw new Error(`${source}: unsupported audio format: ${kind.unsupported} (supported: ${SUPPORTED_FORMATS})`);
  switch (kind.format) {
    case 'wav':
      return checkDecoded(parseWav(buf, source), source);
    case 'flac':
      return decodeFlac(buf, kind.offset, source);
    case 'ogg-vorbis':
      return decodeOggVorbis(buf, source);
    case 'mp3':
      return decodeMp3(buf, kind.offset, source);
  }
}

export function readFileBytes(path: string): Uint8Array {
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new Error(`${path}: cannot read audio file: ${why}`);
  }
}

export async function readAudio(path: string): Promise<DecodedAudio> {
  return decodeAudio(readFileBytes(path), path);
}

/** WAV only, synchronously (worker threads that must not await). */
export function readWavSync(path: string): DecodedAudio {
  return checkDecoded(parseWav(readFileBytes(path), path), path);
}
