/** Any supported audio file to channels of float samples, chosen by content, never by file name. */
import { readRegularFile } from '../util/fs.js';
import { parseByteCount } from '../io/budget.js';
import { decodeFlac, decodeMp3, decodeOggVorbis } from './compressed.js';
import { sniffAudio } from './sniff.js';
import { checkDecoded, type DecodedAudio } from './types.js';
import { parseWav } from './wav.js';

export const SUPPORTED_FORMATS = 'WAV (PCM 8/16/24/32-bit, float 32/64-bit), FLAC, Ogg/Vorbis or MP3';

/**
 * Decoders and the libraries under them fail in their own words (a RangeError from an allocation,
 * a wasm trap, "filename.startsWith is not a function" when a wasm module cannot be compiled under a
 * memory limit): whatever escapes is reported as an Error naming the file.
 */
export async function decodeAudio(buf: Uint8Array, source: string): Promise<DecodedAudio> {
  try {
    return await decodeAudioUnchecked(buf, source);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg.startsWith(`${source}:`)) throw e;
    const oom = e instanceof RangeError || /alloc|memory|out of bounds/i.test(msg);
    throw new Error(
      `${source}: cannot decode audio: ${oom ? 'out of memory while decoding (the process memory limit is too low for this file)' : msg}`,
    );
  }
}

async function decodeAudioUnchecked(buf: Uint8Array, source: string): Promise<DecodedAudio> {
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

/** Environment override for the largest audio file read whole (default 2 GiB). */
export const MAX_AUDIO_BYTES_ENV = 'LOAA_MAX_AUDIO_BYTES';
const DEFAULT_MAX_AUDIO_BYTES = 2 * 2 ** 30;

export function maxAudioBytes(env: NodeJS.ProcessEnv = process.env): number {
  const o = env[MAX_AUDIO_BYTES_ENV];
  return o ? parseByteCount(o, MAX_AUDIO_BYTES_ENV) : DEFAULT_MAX_AUDIO_BYTES;
}

/**
 * A whole audio file: regular files only (a FIFO would block forever, /dev/zero never ends), read up
 * to the size fstat gave, and no larger than the audio limit.
 */
export function readFileBytes(path: string): Uint8Array {
  const b = readRegularFile(path, 'audio file', { maxBytes: maxAudioBytes(), override: MAX_AUDIO_BYTES_ENV });
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export async function readAudio(path: string): Promise<DecodedAudio> {
  return decodeAudio(readFileBytes(path), path);
}

/** WAV only, synchronously (worker threads that must not await). */
export function readWavSync(path: string): DecodedAudio {
  return checkDecoded(parseWav(readFileBytes(path), path), path);
}
