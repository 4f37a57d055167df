/** The audio front end: decoding, resampling, Kaldi fbank, EPIC-SOUNDS log-mel, augmentations. */
export * from './types.js';
export { Rng } from './rng.js';
export { parseWav, encodeWav, isWav } from './wav.js';
export { decodeAudio, readAudio, readWavSync, readFileBytes, SUPPORTED_FORMATS } from './decode.js';
export { sniffAudio, type AudioFormat } from './sniff.js';
export { AudioHdf5 } from './hdf5.js';
export { resample, resampledLength, type ResampleOptions } from './resample.js';
export { realSpectrum, type RealSpectrum } from './fft.js';
export {
  fbank,
  featureWindow,
  frameLayout,
  numFrames,
  AST_FBANK,
  KALDI_DEFAULTS,
  EPSILON,
  WINDOW_TYPES,
  type FbankOptions,
  type WindowType,
} from './kaldi.js';
export { kaldiMelBanks, melScale, inverseMelScale, type MelFilter } from './mel_bank.js';
export {
  features,
  specFromFile,
  specToFile,
  SAMPLE_RATE,
  type FrontendSpec,
  type FrontendFile,
  type ClipFeatures,
  type FeatureOptions,
  astFeatures,
  astWaveform,
  astFbankOfWaveform,
  padOrCrop,
  padEdgeOrCrop,
  normalize,
  normStats,
  clipStats,
  NORM_STATS,
  type NormStatsName,
} from './frontend.js';
export { epicLogMel, htkMelFilters, EPIC_DEFAULTS, type EpicOptions } from './epic.js';
export { drawMask, frequencyMask, timeMask, mixWaveforms, mixLabels, mixup, rollTime, addNoiseAndRoll } from './augment.js';
