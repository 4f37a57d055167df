/**
 * Model input of one clip through the front end an adapter config records (AST fbank, or EPIC
 * log-mel), padded to its target length and normalised as training did. Mirrors the training
 * loader's no-augmentation path; to be folded into src/infer/features.ts once that lands on main.
 */
import { astFeatures, normalize, padOrCrop } from '../audio/frontend.js';
import { epicLogMel } from '../audio/epic.js';
import { resample } from '../audio/resample.js';
import { checkFinite, checkSampleRate, type DecodedAudio, toMono } from '../audio/types.js';
import type { FrontendConfig } from '../peft/checkpoint.js';

export function featuresOf(audio: DecodedAudio, fe: FrontendConfig, source: string): Float32Array {
  checkSampleRate(audio.sampleRate, source);
  const mono = toMono(audio);
  if (mono.length === 0) throw new Error(`${source}: zero samples`);
  checkFinite(mono, source);
  if (fe.type === 'epic') {
    try {
      const wave = audio.sampleRate === fe.sample_rate ? mono : resample(mono, audio.sampleRate, fe.sample_rate);
      let spec = padOrCrop(epicLogMel(wave, { sampleRate: fe.sample_rate, numMelBins: fe.num_mel_bins, numFrames: fe.target_length }), fe.target_length);
      if (fe.mean !== undefined && fe.std !== undefined) spec = normalize(spec, fe.mean, fe.std);
      return spec.data;
    } catch (e) {
      const m = (e as Error).message;
      throw new Error(m.startsWith(source) ? m : `${source}: ${m}`);
    }
  }
  return astFeatures(audio, { sampleRate: fe.sample_rate, numMelBins: fe.num_mel_bins, targetLength: fe.target_length, mean: fe.mean, std: fe.std }, source).data;
}
