/**
 * The EPIC-SOUNDS front end (epic-kitchens/epic-sounds-annotations, audio_loader_epicsounds.py):
 * 24 kHz samples -> STFT (n_fft 2048, a 240-sample periodic Hann window centred in the 2048 frame,
 * hop 120, center=True) -> magnitude -> 128 HTK mel filters without normalisation (librosa
 * `filters.mel(htk=True, norm=None)`) -> log(mel + 1e-6) -> 400 frames, the last frame repeated when
 * short (np.pad 'edge'), the first 400 kept when long.
 *
 * The reference pads the signal for center=True with zeros (`librosa.stft(pad_mode='constant')`),
 * not torch.stft's default reflect; `padMode: 'reflect'` gives the torch default instead.
 */
import { realSpectrum } from './fft.js';
import { padEdgeOrCrop } from './frontend.js';
import { sparseFilter, type MelFilter } from './mel_bank.js';
import type { Spectrogram } from './types.js';

export interface EpicOptions {
  sampleRate?: number;
  nFft?: number;
  winLength?: number;
  hopLength?: number;
  numMelBins?: number;
  eps?: number;
  /** frames after edge padding / cropping; 0 keeps the STFT's own count */
  numFrames?: number;
  padMode?: 'constant' | 'reflect';
}

export const EPIC_DEFAULTS: Required<EpicOptions> = {
  sampleRate: 24000,
  nFft: 2048,
  winLength: 240,
  hopLength: 120,
  numMelBins: 128,
  eps: 1e-6,
  numFrames: 400,
  padMode: 'constant',
};

const melCache = new Map<string, MelFilter[]>();

/** librosa.filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2, htk=True, norm=None), float32 weights. */
export function htkMelFilters(sampleRate: number, nFft: number, numMels: number, fmin = 0, fmax = sampleRate / 2): MelFilter[] {
  const key = `${sampleRate}/${nFft}/${numMels}/${fmin}/${fmax}`;
  const hit = melCache.get(key);
  if (hit) return hit;
  const hzToMel = (f: number): number => 2595 * Math.log10(1 + f / 700);
  const melToHz = (m: number): number => 700 * (10 ** (m / 2595) - 1);
  const nBins = 1 + Math.floor(nFft / 2);
  const mLow = hzToMel(fmin);
  const mHigh = hzToMel(fmax);
  const melF = new Float64Array(numMels + 2);
  // np.linspace: start + i * step, the last point exactly the stop
  const step = (mHigh - mLow) / (numMels + 1);
  for (let i = 0; i < numMels + 2; i++) melF[i] = melToHz(i === numMels + 1 ? mHigh : mLow + i * step);
  const filters: MelFilter[] = [];
  for (let m = 0; m < numMels; m++) {
    const d0 = melF[m + 1] - melF[m];
    const d1 = melF[m + 2] - melF[m + 1];
    const w = new Float64Array(nBins);
    for (let k = 0; k < nBins; k++) {
      const fk = (k * sampleRate) / nFft;
      const lower = -(melF[m] - fk) / d0;
      const upper = (melF[m + 2] - fk) / d1;
      const v = Math.fround(Math.max(0, Math.min(lower, upper)));
      if (v > 0) w[k] = v;
    }
    filters.push(sparseFilter(w));
  }
  if (melCache.size > 16) melCache.clear();
  melCache.set(key, filters);
  return filters;
}

/** log-mel spectrogram `[frames, numMelBins]` of one clip, EPIC-SOUNDS style. */
export function epicLogMel(samples: ArrayLike<number>, options: EpicOptions = {}): Spectrogram {
  const o = {
    ...EPIC_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Required<EpicOptions>;
  const L = samples.length;
  if (L === 0) throw new Error('epicLogMel: zero samples');
  if (!(o.winLength > 0 && o.winLength <= o.nFft)) throw new Error(`epicLogMel: winLength ${o.winLength} must be in [1, nFft ${o.nFft}]`);
  if (!(o.hopLength > 0)) throw new Error(`epicLogMel: hopLength must be positive, got ${o.hopLength}`);
  if (o.padMode === 'reflect' && L < 2) throw new Error('epicLogMel: reflect padding needs at least 2 samples');
  const { nFft, winLength, hopLength } = o;
  const half = Math.floor(nFft / 2);
  const winOff = Math.floor((nFft - winLength) / 2);
  const win = new Float64Array(winLength);
  for (let i = 0; i < winLength; i++) win[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / winLength);
  // frames past numFrames would be cropped: never computed (a long clip costs what 400 frames cost)
  const all = 1 + Math.floor(L / hopLength);
  const frames = o.numFrames > 0 ? Math.min(all, o.numFrames) : all;
  const filters = htkMelFilters(o.sampleRate, nFft, o.numMelBins);
  const spec = realSpectrum(nFft);
  const buf = new Float64Array(nFft);
  const pw = new Float64Array(half + 1);
  const out = new Float32Array(frames * o.numMelBins);
  const at = (idx: number): number => {
    if (idx >= 0 && idx < L) return samples[idx];
    if (o.padMode === 'constant') return 0;
    // reflect without repeating the edge sample, folding again for very short clips
    const period = 2 * (L - 1);
    let r = ((idx % period) + period) % period;
    if (r >= L) r = period - r;
    return samples[r];
  };
  for (let t = 0; t < frames; t++) {
    // frame t covers padded[t * hop, t * hop + nFft); padded[i] = x[i - half]
    const s0 = t * hopLength - half + winOff;
    for (let i = 0; i < winLength; i++) buf[winOff + i] = at(s0 + i) * win[i];
    spec.power(buf, pw);
    const row = t * o.numMelBins;
    for (let b = 0; b < filters.length; b++) {
      const { start, weights } = filters[b];
      let e = 0;
      for (let k = 0; k < weights.length; k++) e += weights[k] * Math.sqrt(pw[start + k]);
      out[row + b] = Math.log(e + o.eps);
    }
  }
  const s: Spectrogram = { data: out, frames, bins: o.numMelBins };
  return o.numFrames > 0 ? padEdgeOrCrop(s, o.numFrames) : s;
}
