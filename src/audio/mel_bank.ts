/**
 * Kaldi's triangular mel filters over FFT bins, as `torchaudio.compliance.kaldi.get_mel_banks` builds
 * them (float32 rounding step by step), kept sparse (each filter's nonzero run), and laid out flat for
 * the fbank's frame loop. Cached per configuration.
 */
const f32 = Math.fround;

export function melScale(freq: number): number {
  return 1127 * Math.log(1 + freq / 700);
}

export function inverseMelScale(mel: number): number {
  return 700 * (Math.exp(mel / 1127) - 1);
}

export interface MelFilter {
  /** first FFT bin with a non-zero weight */
  start: number;
  weights: Float64Array;
}

/** A filter's nonzero run: the weights are zero outside it, so the bank multiplies only that range. */
export function sparseFilter(w: Float64Array): MelFilter {
  let first = -1;
  let last = -1;
  for (let k = 0; k < w.length; k++) {
    if (w[k]! > 0) {
      if (first < 0) first = k;
      last = k;
    }
  }
  return first < 0 ? { start: 0, weights: new Float64Array(0) } : { start: first, weights: w.slice(first, last + 1) };
}

const melCache = new Map<string, MelFilter[]>();

/** Triangular Kaldi mel filters over FFT bins 0..paddedSize/2-1 (Nyquist gets no weight). */
export function kaldiMelBanks(numBins: number, paddedSize: number, sampleFreq: number, lowFreq: number, highFreq: number): MelFilter[] {
  const key = `${numBins}/${paddedSize}/${sampleFreq}/${lowFreq}/${highFreq}`;
  const hit = melCache.get(key);
  if (hit) return hit;
  if (!(numBins > 3)) throw new Error(`fbank: numMelBins must be at least 4, got ${numBins}`);
  const nyquist = 0.5 * sampleFreq;
  const high = highFreq <= 0 ? highFreq + nyquist : highFreq;
  if (!(lowFreq >= 0 && lowFreq < nyquist && high > 0 && high <= nyquist && lowFreq < high)) {
    throw new Error(`fbank: bad lowFreq ${lowFreq} / highFreq ${highFreq} for nyquist ${nyquist} Hz`);
  }
  const numFft = paddedSize / 2;
  const binWidth = sampleFreq / paddedSize;
  const melLow = melScale(lowFreq);
  const melHigh = melScale(high);
  const delta = (melHigh - melLow) / (numBins + 1);
  // torchaudio builds these as float32 tensors: round where it rounds
  const fDelta = f32(delta);
  const fLow = f32(melLow);
  const fWidth = f32(binWidth);
  const mel = new Float64Array(numFft);
  for (let k = 0; k < numFft; k++) {
    const freq = f32(fWidth * k);
    mel[k] = f32(1127 * f32(Math.log(f32(1 + f32(freq / 700)))));
  }
  const filters: MelFilter[] = [];
  for (let b = 0; b < numBins; b++) {
    const left = f32(f32(b * fDelta) + fLow);
    const center = f32(f32((b + 1) * fDelta) + fLow);
    const right = f32(f32((b + 2) * fDelta) + fLow);
    const upDen = f32(center - left);
    const downDen = f32(right - center);
    const w = new Float64Array(numFft);
    for (let k = 0; k < numFft; k++) {
      const up = f32(f32(mel[k] - left) / upDen);
      const down = f32(f32(right - mel[k]) / downDen);
      const v = Math.max(0, Math.min(up, down));
      if (v > 0) w[k] = v;
    }
    filters.push(sparseFilter(w));
  }
  if (melCache.size > 32) melCache.clear();
  melCache.set(key, filters);
  return filters;
}

export interface FlatBank {
  bins: number;
  /** filter b weighs pw[start[b]] .. pw[end[b] - 1] with weights[offset[b]] .. */
  start: Int32Array;
  end: Int32Array;
  offset: Int32Array;
  weights: Float64Array;
}

const flatCache = new Map<string, FlatBank>();

/** `kaldiMelBanks` as flat typed arrays, built once per configuration: the frame loop reads only these. */
export function flatBank(numBins: number, paddedSize: number, sampleFreq: number, lowFreq: number, highFreq: number): FlatBank {
  const key = `${numBins}/${paddedSize}/${sampleFreq}/${lowFreq}/${highFreq}`;
  const hit = flatCache.get(key);
  if (hit) return hit;
  const filters = kaldiMelBanks(numBins, paddedSize, sampleFreq, lowFreq, highFreq);
  const nb = filters.length;
  const start = Int32Array.from(filters, (x) => x.start);
  const end = Int32Array.from(filters, (x) => x.start + x.weights.length);
  const offset = new Int32Array(nb);
  let total = 0;
  for (let b = 0; b < nb; b++) {
    offset[b] = total;
    total += filters[b].weights.length;
  }
  const weights = new Float64Array(total);
  filters.forEach((x, b) => {
    weights.set(x.weights, offset[b]);
  });
  const bank: FlatBank = { bins: nb, start, end, offset, weights };
  if (flatCache.size > 32) flatCache.clear();
  flatCache.set(key, bank);
  return bank;
}
