/**
 * Power / magnitude spectra of real frames, in float64. Power-of-two sizes use fft.js's radix-4 real
 * transform; any other size (Kaldi frames without round_to_power_of_two) goes through Bluestein's
 * chirp-z algorithm on a power-of-two complex FFT, so every size is O(n log n).
 */
import FFT from 'fft.js';

export interface RealSpectrum {
  readonly n: number;
  /** |X_k|^2 for k = 0..n/2 of the real input x (length n) into out (length >= n/2 + 1) */
  power(x: Float64Array, out: Float64Array): void;
}

class Pow2Spectrum implements RealSpectrum {
  private readonly fft: FFT;
  private readonly out: Float64Array;
  constructor(readonly n: number) {
    this.fft = new FFT(n);
    this.out = new Float64Array(2 * n);
  }
  power(x: Float64Array, out: Float64Array): void {
    this.fft.realTransform(this.out, x);
    const o = this.out;
    const half = this.n >> 1;
    for (let k = 0; k <= half; k++) {
      const re = o[2 * k];
      const im = o[2 * k + 1];
      out[k] = re * re + im * im;
    }
  }
}

class NaiveSpectrum implements RealSpectrum {
  constructor(readonly n: number) {}
  power(x: Float64Array, out: Float64Array): void {
    const n = this.n;
    for (let k = 0; k <= n >> 1; k++) {
      let re = 0;
      let im = 0;
      for (let t = 0; t < n; t++) {
        const a = (-2 * Math.PI * ((k * t) % n)) / n;
        re += x[t] * Math.cos(a);
        im += x[t] * Math.sin(a);
      }
      out[k] = re * re + im * im;
    }
  }
}

class BluesteinSpectrum implements RealSpectrum {
  private readonly m: number;
  private readonly fft: FFT;
  /** e^{-i pi t^2 / n}, interleaved re/im */
  private readonly chirp: Float64Array;
  /** FFT of the conjugate chirp laid out for a circular convolution */
  private readonly bHat: Float64Array;
  private readonly a: Float64Array;
  private readonly aHat: Float64Array;
  private readonly conv: Float64Array;

  constructor(readonly n: number) {
    let m = 1;
    while (m < 2 * n - 1) m <<= 1;
    this.m = m;
    this.fft = new FFT(m);
    this.chirp = new Float64Array(2 * n);
    for (let t = 0; t < n; t++) {
      // t^2 mod 2n keeps the angle small, so it stays exact for long frames
      const ang = (Math.PI * ((t * t) % (2 * n))) / n;
      this.chirp[2 * t] = Math.cos(ang);
      this.chirp[2 * t + 1] = -Math.sin(ang);
    }
    const b = new Float64Array(2 * m);
    for (let t = 0; t < n; t++) {
      const re = this.chirp[2 * t];
      const im = -this.chirp[2 * t + 1];
      b[2 * t] = re;
      b[2 * t + 1] = im;
      if (t > 0) {
        b[2 * (m - t)] = re;
        b[2 * (m - t) + 1] = im;
      }
    }
    this.bHat = new Float64Array(2 * m);
    this.fft.transform(this.bHat, b);
    this.a = new Float64Array(2 * m);
    this.aHat = new Float64Array(2 * m);
    this.conv = new Float64Array(2 * m);
  }

  power(x: Float64Array, out: Float64Array): void {
    const { n, m, chirp, a, aHat, bHat, conv } = this;
    a.fill(0);
    for (let t = 0; t < n; t++) {
      a[2 * t] = x[t] * chirp[2 * t];
      a[2 * t + 1] = x[t] * chirp[2 * t + 1];
    }
    this.fft.transform(aHat, a);
    for (let k = 0; k < m; k++) {
      const ar = aHat[2 * k];
      const ai = aHat[2 * k + 1];
      const br = bHat[2 * k];
      const bi = bHat[2 * k + 1];
      aHat[2 * k] = ar * br - ai * bi;
      aHat[2 * k + 1] = ar * bi + ai * br;
    }
    this.fft.inverseTransform(conv, aHat);
    // |chirp| = 1, so the final chirp multiplication does not change the power
    for (let k = 0; k <= n >> 1; k++) {
      const re = conv[2 * k];
      const im = conv[2 * k + 1];
      out[k] = re * re + im * im;
    }
  }
}

const cache = new Map<number, RealSpectrum>();

export function realSpectrum(n: number): RealSpectrum {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`fft: size must be a positive integer, got ${n}`);
  let s = cache.get(n);
  if (!s) {
    s = n < 8 ? new NaiveSpectrum(n) : (n & (n - 1)) === 0 ? new Pow2Spectrum(n) : new BluesteinSpectrum(n);
    if (cache.size > 32) cache.clear();
    cache.set(n, s);
  }
  return s;
}
