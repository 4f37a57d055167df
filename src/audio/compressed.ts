/**
 * FLAC, Ogg/Vorbis and MP3 through the wasm decoders shipped inside their npm packages
 * (@wasm-audio-decoders/flac, @wasm-audio-decoders/ogg-vorbis, mpg123-decoder): no native build, no
 * system libraries. They are loaded on first use so WAV-only work never compiles their wasm. One
 * decoder instance per file: after an error an instance may keep stale state, and making one costs
 * well under a millisecond once the module is compiled.
 */
import { checkMpegFrames, checkOggPages, flacStreamInfo } from './sniff.js';
import { checkDecoded, type DecodedAudio } from './types.js';
import { requireWasmMemory } from './wasm_probe.js';

interface WasmDecoded {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: { message: string; frameNumber?: number }[];
}

interface WasmDecoder {
  ready: Promise<void>;
  free(): void;
}

async function run<D extends WasmDecoder>(
  make: () => D,
  decode: (d: D) => WasmDecoded | Promise<WasmDecoded>,
  what: string,
  source: string,
): Promise<DecodedAudio> {
  const dec = make();
  let out: WasmDecoded;
  try {
    await dec.ready;
    out = await decode(dec);
  } catch (e) {
    throw new Error(`${source}: ${what} decoder failed: ${(e as Error).message}`);
  } finally {
    dec.free();
  }
  if (out.errors.length) {
    const e = out.errors[0];
    const at = e.frameNumber !== undefined ? ` (frame ${e.frameNumber})` : '';
    throw new Error(
      `${source}: corrupt ${what} stream${at}: ${e.message}${out.errors.length > 1 ? ` and ${out.errors.length - 1} more errors` : ''}`,
    );
  }
  if (!Array.isArray(out.channelData) || out.samplesDecoded === 0 || out.channelData.length === 0) {
    throw new Error(`${source}: zero samples: the ${what} decoder produced no audio (corrupt or truncated file?)`);
  }
  for (const ch of out.channelData) {
    if (!(ch instanceof Float32Array) || ch.length !== out.samplesDecoded) {
      throw new Error(`${source}: ${what} decoder returned inconsistent channel data`);
    }
  }
  return checkDecoded({ sampleRate: out.sampleRate, channels: out.channelData }, source);
}

export async function decodeFlac(buf: Uint8Array, offset: number, source: string): Promise<DecodedAudio> {
  const info = flacStreamInfo(buf, offset, source);
  requireWasmMemory(source, 'decode FLAC');
  const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
  const audio = await run(
    () => new FLACDecoder(),
    (d) => d.decodeFile(buf.subarray(offset)),
    'FLAC',
    source,
  );
  if (info.totalSamples > 0 && audio.channels[0].length !== info.totalSamples) {
    throw new Error(`${source}: truncated or corrupt FLAC stream: decoded ${audio.channels[0].length} of ${info.totalSamples} samples`);
  }
  if (audio.channels.length !== info.channels || audio.sampleRate !== info.sampleRate) {
    throw new Error(`${source}: corrupt FLAC stream: frames disagree with STREAMINFO (${info.channels} channels at ${info.sampleRate} Hz)`);
  }
  return audio;
}

export async function decodeOggVorbis(buf: Uint8Array, source: string): Promise<DecodedAudio> {
  checkOggPages(buf, source);
  requireWasmMemory(source, 'decode Ogg/Vorbis');
  const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis');
  return run(
    () => new OggVorbisDecoder(),
    (d) => d.decodeFile(buf),
    'Ogg/Vorbis',
    source,
  );
}

export async function decodeMp3(buf: Uint8Array, offset: number, source: string): Promise<DecodedAudio> {
  const end = checkMpegFrames(buf, offset, source);
  requireWasmMemory(source, 'decode MPEG audio');
  const { MPEGDecoder } = await import('mpg123-decoder');
  return run(
    () => new MPEGDecoder({ enableGapless: true }),
    (d) => d.decode(buf.subarray(offset, end)),
    'MPEG audio',
    source,
  );
}
