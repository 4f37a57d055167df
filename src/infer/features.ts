/**
 * The model input of one clip, made the way the adapter's training made it: the front end recorded
 * in adapter_config.json (`frontend.type`: AST's Kaldi fbank, or EPIC-SOUNDS' log-mel), padding to
 * its `target_length`, then `(x - mean) / (2 std)` when the config has them. The training loader
 * (src/data/worker.ts) applies the same steps; this is its one-clip, no-augmentation form.
 */
import { readAudio } from '../audio/decode.js';
import { astFbankOfWaveform, astWaveform, normalize, padOrCrop } from '../audio/frontend.js';
import { epicLogMel } from '../audio/epic.js';
import { resample } from '../audio/resample.js';
import { toMono, type DecodedAudio, type Spectrogram } from '../audio/types.js';
import { readSafetensors, type RawTensor } from '../io/safetensors.js';
import { fromRaw, noGrad } from '../tensor/functional.js';
import type { FrontendConfig } from '../peft/checkpoint.js';
import type { FrontendSpec } from '../data/loader.js';

/** The loader's front-end spec of an adapter config's `frontend` (absent type: AST). */
export function frontendSpec(fe: FrontendConfig): FrontendSpec {
  return {
    type: fe.type ?? 'ast',
    sampleRate: fe.sample_rate,
    numMelBins: fe.num_mel_bins,
    targetLength: fe.target_length,
    ...(fe.mean !== undefined && fe.std !== undefined ? { mean: fe.mean, std: fe.std } : {}),
  };
}

export interface ClipFeatures extends Spectrogram {
  /** frames that came from the audio (the rest is padding) */
  validFrames: number;
}

/** The front end on decoded audio (targetLength 0: no padding); `source` names the input in errors. */
export function featuresOfAudio(audio: DecodedAudio, fe: FrontendSpec, source = 'audio'): ClipFeatures {
  let spec: Spectrogram;
  let valid: number;
  try {
    const mono = toMono(audio);
    if (mono.length === 0) throw new Error('zero samples');
    if (fe.type === 'epic') {
      const wave = audio.sampleRate === fe.sampleRate ? mono : resample(mono, audio.sampleRate, fe.sampleRate);
      const bare = epicLogMel(wave, { sampleRate: fe.sampleRate, numMelBins: fe.numMelBins, numFrames: 0 });
      valid = bare.frames;
      spec = epicLogMel(wave, { sampleRate: fe.sampleRate, numMelBins: fe.numMelBins, numFrames: fe.targetLength });
    } else {
      const bare = astFbankOfWaveform(astWaveform(mono, audio.sampleRate, fe.sampleRate), fe.sampleRate, fe.numMelBins);
      valid = bare.frames;
      spec = fe.targetLength > 0 ? padOrCrop(bare, fe.targetLength) : bare;
    }
    if (fe.mean !== undefined && fe.std !== undefined) spec = normalize(spec, fe.mean, fe.std);
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(source) ? msg : `${source}: ${msg}`);
  }
  return { ...spec, validFrames: Math.min(valid, spec.frames) };
}

/** Reads and decodes an audio file, then `featuresOfAudio`. */
export async function featuresOfFile(file: string, fe: FrontendSpec): Promise<ClipFeatures> {
  return featuresOfAudio(await readAudio(file), fe, file);
}

/**
 * Ready model input from a `.safetensors` file (tensor `fbank`, or its only tensor): [frames, mel]
 * or [batch, frames, mel], used as it is. `expect` = [frames, mel] the model takes, when known.
 */
export function readFeaturesFile(file: string, expect?: readonly [number, number]): { name: string; fbank: Float32Array; frames: number; bins: number }[] {
  const tensors: Map<string, RawTensor> = readSafetensors(file).tensors;
  const t = tensors.get('fbank') ?? (tensors.size === 1 ? [...tensors.values()][0] : undefined);
  if (!t) throw new Error(`${file}: no tensor "fbank" (it has ${[...tensors.keys()].slice(0, 4).join(', ') || 'none'})`);
  const s = t.shape;
  if (s.length !== 2 && s.length !== 3) throw new Error(`${file}: fbank: expected [frames, mel bins] or [batch, frames, mel bins], got [${s.join(', ')}]`);
  const [frames, bins] = s.length === 2 ? [s[0]!, s[1]!] : [s[1]!, s[2]!];
  if (expect && (frames !== expect[0] || bins !== expect[1])) {
    throw new Error(`${file}: fbank is [${s.join(', ')}], the adapter's model takes [${expect[0]}, ${expect[1]}] (frames x mel bins; write it with loaa features --target-length ${expect[0]})`);
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
