/**
 * The model input of one clip at inference, made by the front end the adapter recorded
 * (src/audio/frontend.ts `features`, the one training's loader calls too), and ready-made features
 * read from a `.safetensors` file.
 */
import { decodeAudio, readAudio } from '../audio/decode.js';
import {
  features,
  samplesForFrames,
  specFromFile,
  type ClipFeatures,
  type FeatureOptions,
  type FrontendFile,
  type FrontendSpec,
} from '../audio/frontend.js';
import { readWavPrefix } from '../audio/wav_prefix.js';
import type { DecodedAudio } from '../audio/types.js';
import { readSafetensors, type RawTensor } from '../io/safetensors.js';
import { fromRaw, noGrad } from '../tensor/functional.js';

export type { ClipFeatures, FrontendSpec } from '../audio/frontend.js';

/** The front-end spec of an adapter config's `frontend` (absent type: AST). */
export const frontendSpec = (fe: FrontendFile): FrontendSpec => specFromFile(fe);

/** The front end on decoded audio (targetLength 0: no padding); `source` names the input in errors. */
export function featuresOfAudio(
  audio: DecodedAudio,
  fe: FrontendSpec,
  source = 'audio',
  opts: Omit<FeatureOptions, 'source'> = {},
): ClipFeatures {
  return features(audio, fe, { ...opts, source });
}

/**
 * Reads and decodes an audio file, then `featuresOfAudio`. A WAV file is read only as far as the
 * model's frames reach (the other decoders need the whole file).
 */
export async function featuresOfFile(file: string, fe: FrontendSpec, opts: Omit<FeatureOptions, 'source'> = {}): Promise<ClipFeatures> {
  const prefix =
    fe.targetLength > 0 ? readWavPrefix(file, (rate) => samplesForFrames(fe.targetLength, rate, fe.sampleRate, fe.type)) : null;
  const audio = prefix ? await decodeAudio(prefix, file) : await readAudio(file);
  return featuresOfAudio(audio, fe, file, opts);
}

/**
 * Ready model input from a `.safetensors` file (tensor `fbank`, or its only tensor): [frames, mel]
 * or [batch, frames, mel], used as it is. `expect` = [frames, mel] the model takes, when known.
 */
export function readFeaturesFile(
  file: string,
  expect?: readonly [number, number],
): { name: string; fbank: Float32Array; frames: number; bins: number }[] {
  const tensors: Map<string, RawTensor> = readSafetensors(file).tensors;
  const t = tensors.get('fbank') ?? (tensors.size === 1 ? [...tensors.values()][0] : undefined);
  if (!t) throw new Error(`${file}: no tensor "fbank" (it has ${[...tensors.keys()].slice(0, 4).join(', ') || 'none'})`);
  const s = t.shape;
  if (s.length !== 2 && s.length !== 3)
    throw new Error(`${file}: fbank: expected [frames, mel bins] or [batch, frames, mel bins], got [${s.join(', ')}]`);
  const [frames, bins] = s.length === 2 ? [s[0]!, s[1]!] : [s[1]!, s[2]!];
  if (expect && (frames !== expect[0] || bins !== expect[1])) {
    throw new Error(
      `${file}: fbank is [${s.join(', ')}], the adapter's model takes [${expect[0]}, ${expect[1]}] (frames x mel bins; write it with loaa features --target-length ${expect[0]})`,
    );
  }
  // through a tensor, so float64 / half files read too
  const data = noGrad(() => {
    const x = fromRaw(t);
    const x32 = x.to('float32');
    const out = x32.toFloat32();
    if (x32 !== x) x32.dispose();
    x.dispose();
    return out;
  });
  const per = frames * bins;
  if (s.length === 2) return [{ name: file, fbank: data, frames, bins }];
  return Array.from({ length: s[0]! }, (_, i) => ({ name: `${file}[${i}]`, fbank: data.subarray(i * per, (i + 1) * per), frames, bins }));
}
