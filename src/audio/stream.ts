/**
 * An audio file as mono pieces at one sample rate (16 kHz, the model's), for inputs longer than
 * memory: WAV is read and resampled a piece at a time (wav_stream.ts, resample_stream.ts); FLAC,
 * Ogg/Vorbis and MP3 go through the wasm decoders, which take the whole file, so those are decoded
 * whole under the audio size limit (`maxAudioBytes`, LOAA_MAX_AUDIO_BYTES) and handed out in pieces.
 * Either way the samples equal `resample(toMono(readAudio(path)), rate, sampleRate)`.
 */
import { closeSync } from 'node:fs';
import { openRegular, preadExact } from '../util/fs.js';
import { readAudio } from './decode.js';
import { resample } from './resample.js';
import { StreamResampler } from './resample_stream.js';
import { toMono } from './types.js';
import { isWav } from './wav.js';
import { DEFAULT_CHUNK_BYTES, openWavStream } from './wav_stream.js';

export interface AudioStreamOptions {
  /** output rate (default 16000) */
  sampleRate?: number;
  /** bytes of a WAV file read at once (default 1 MiB); the pieces of a whole decode are as many samples as a quarter of this */
  chunkBytes?: number;
}

export interface AudioStream {
  source: string;
  /** the file's own rate */
  inputRate: number;
  /** the rate of the samples `chunks()` yields */
  sampleRate: number;
  /** true when the file is read a piece at a time (WAV); false when it was decoded whole */
  streamed: boolean;
  /** Mono pieces at `sampleRate`, in order; call once. The file is closed when the loop ends, breaks or throws. */
  chunks(): AsyncGenerator<Float32Array>;
  /** Close the file if `chunks()` will not be read (idempotent). */
  close(): void;
}

export async function openAudioStream(path: string, opts: AudioStreamOptions = {}): Promise<AudioStream> {
  const sampleRate = opts.sampleRate ?? 16000;
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (startsLikeWav(path)) {
    const wav = openWavStream(path, { chunkBytes });
    let rs: StreamResampler;
    try {
      rs = new StreamResampler(wav.sampleRate, sampleRate);
    } catch (e) {
      wav.close();
      throw e;
    }
    async function* chunks(): AsyncGenerator<Float32Array> {
      for (const piece of wav.chunks()) {
        const y = rs.push(piece);
        if (y.length) yield y;
      }
      const tail = rs.flush();
      if (tail.length) yield tail;
    }
    return { source: path, inputRate: wav.sampleRate, sampleRate, streamed: true, chunks, close: wav.close };
  }
  const audio = await readAudio(path);
  const mono = toMono(audio);
  const all = audio.sampleRate === sampleRate ? mono : resample(mono, audio.sampleRate, sampleRate);
  const step = Math.max(1, Math.floor(chunkBytes / 4));
  async function* chunks(): AsyncGenerator<Float32Array> {
    for (let i = 0; i < all.length; i += step) yield all.slice(i, i + step);
  }
  return { source: path, inputRate: audio.sampleRate, sampleRate, streamed: false, chunks, close: () => {} };
}

/** The first 12 bytes say RIFF/RF64 ... WAVE; anything else (or too short) goes to the whole-file decoder and its messages. */
function startsLikeWav(path: string): boolean {
  const { fd, size } = openRegular(path, 'audio file');
  try {
    return size >= 12 && isWav(preadExact(fd, path, 0, 12));
  } finally {
    closeSync(fd);
  }
}
