/**
 * Power / magnitude spectra of real frames, in float64. Power-of-two sizes use the real transform
 * below; any other size (Kaldi frames without round_to_power_of_two) goes through Bluestein's
 * chirp-z algorithm on a power-of-two complex FFT, so every size is O(n log n).
 */
import FFT from 'fft.js';

export interface RealSpectrum {
  readonly n: number;
  /** |X_k|^2 for k = 0..n/2 of the real input x (length n) into out (length >= n/2 + 1) */
  power(x: Float64Array, out: Float64Array): void;
}

/**
 * A real transform of n = 2M points as one complex transform of M points (z_j = x_2j + i x_2j+1)
 * and a split step, with every twiddle and the bit-reversal precomputed and all work in buffers
 * owned by the instance: a frame allocates nothing. The first two radix-2 stages are fused into one
 * multiplication-free radix-4 pass, and each later stage reads its twiddles contiguously.
 */
class Pow2Spectrum implements RealSpectrum {
  private readonly m: number;
  private readonly rev: Int32Array;
  /** stage of length L: twiddle k at L/2 + k, e^{-2 pi i k / L} */
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  /** the split step's e^{-2 pi i k / n}, k = 0..M/2 */
  private readonly spRe: Float64Array;
  private readonly spIm: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(readonly n: number) {
    const m = n >> 1;
    this.m = m;
    this.rev = new Int32Array(m);
    const bits = Math.log2(m);
    for (let j = 0; j < m; j++) {
      let r = 0;
      for (let b = 0, v = j; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
      this.rev[j] = r;
    }
    this.twRe = new Float64Array(m);
    this.twIm = new Float64Array(m);
    for (let len = 8; len <= m; len <<= 1) {
      const h = len >> 1;
      for (let k = 0; k < h; k++) {
        this.twRe[h + k] = Math.cos((2 * Math.PI * k) / len);
        this.twIm[h + k] = -Math.sin((2 * Math.PI * k) / len);
      }
    }
    this.spRe = new Float64Array((m >> 1) + 1);
    this.spIm = new Float64Array((m >> 1) + 1);
    for (let k = 0; k <= m >> 1; k++) {
      this.spRe[k] = Math.cos((2 * Math.PI * k) / n);
      this.spIm[k] = -Math.sin((2 * Math.PI * k) / n);
    }
    this.re = new Float64Array(m);
    this.im = new Float64Array(m);
  }

  power(x: Float64Array, out: Float64Array): void {
    const { m, rev, re, im, twRe, twIm, spRe, spIm } = this;
    // the bit-reversed load and lengths 2 and 4 in one pass: the twiddles there are 1 and -i
    for (let s = 0; s < m; s += 4) {
      const j0 = 2 * rev[s];
      const j1 = 2 * rev[s + 1];
      const j2 = 2 * rev[s + 2];
      const j3 = 2 * rev[s + 3];
      const ar = x[j0] + x[j1];
      const ai = x[j0 + 1] + x[j1 + 1];
      const br = x[j0] - x[j1];
      const bi = x[j0 + 1] - x[j1 + 1];
      const cr = x[j2] + x[j3];
      const ci = x[j2 + 1] + x[j3 + 1];
      const dr = x[j2] - x[j3];
      const di = x[j2 + 1] - x[j3 + 1];
      re[s] = ar + cr;
      im[s] = ai + ci;
      re[s + 2] = ar - cr;
      im[s + 2] = ai - ci;
      // -i * d = (di, -dr)
      re[s + 1] = br + di;
      im[s + 1] = bi - dr;
      re[s + 3] = br - di;
      im[s + 3] = bi + dr;
    }
    // the remaining radix-2 stages two at a time (lengths L and 2L in one pass over four points), so
    // the data goes through memory half as often; an odd stage left over runs alone
    let len = 8;
    for (; 2 * len <= m; len <<= 2) {
      const h = len >> 1;
      for (let s = 0; s < m; s += 2 * len) {
        for (let k = 0; k < h; k++) {
          const w1r = twRe[h + k];
          const w1i = twIm[h + k];
          const w2r = twRe[len + k];
          const w2i = twIm[len + k];
          const p0 = s + k;
          const p1 = p0 + h;
          const p2 = p0 + len;
          const p3 = p2 + h;
          // length L: (p0, p1) and (p2, p3) with w1
          let tr = re[p1] * w1r - im[p1] * w1i;
          let ti = re[p1] * w1i + im[p1] * w1r;
          const ar = re[p0] + tr;
          const ai = im[p0] + ti;
          const br = re[p0] - tr;
          const bi = im[p0] - ti;
          tr = re[p3] * w1r - im[p3] * w1i;
          ti = re[p3] * w1i + im[p3] * w1r;
          const cr = re[p2] + tr;
          const ci = im[p2] + ti;
          const dr = re[p2] - tr;
          const di = im[p2] - ti;
          // length 2L: (p0, p2) with w2, (p1, p3) with w2 * -i
          const ur = cr * w2r - ci * w2i;
          const ui = cr * w2i + ci * w2r;
          const vr = dr * w2i + di * w2r;
          const vi = di * w2i - dr * w2r;
          re[p0] = ar + ur;
          im[p0] = ai + ui;
          re[p2] = ar - ur;
          im[p2] = ai - ui;
          re[p1] = br + vr;
          im[p1] = bi + vi;
          re[p3] = br - vr;
          im[p3] = bi - vi;
        }
      }
    }
    if (len <= m) {
      const h = len >> 1;
      for (let k = 0; k < h; k++) {
        const wr = twRe[h + k];
        const wi = twIm[h + k];
        for (let p = k; p < m; p += len) {
          const q = p + h;
          const tr = re[q] * wr - im[q] * wi;
          const ti = re[q] * wi + im[q] * wr;
          re[q] = re[p] - tr;
          im[q] = im[p] - ti;
          re[p] += tr;
          im[p] += ti;
        }
      }
    }
    // split Z into the spectra of the even and odd samples: X_k = E_k + e^{-2 pi i k / n} O_k, and
    // X_{M-k} from the same two bins (E and O are conjugate-symmetric)
    const dc = re[0] + im[0];
    const ny = re[0] - im[0];
    out[0] = dc * dc;
    out[m] = ny * ny;
    for (let k = 1; k <= m >> 1; k++) {
      const a = re[k];
      const b = im[k];
      const c = re[m - k];
      const d = im[m - k];
      const er = 0.5 * (a + c);
      const ei = 0.5 * (b - d);
      const or = 0.5 * (b + d);
      const oi = -0.5 * (a - c);
      const wr = spRe[k];
      const wi = spIm[k];
      const tr = wr * or - wi * oi;
      const ti = wr * oi + wi * or;
      const xr = er + tr;
      const xi = ei + ti;
      // bin M-k: E_{M-k} = conj(E_k), O_{M-k} = conj(O_k), and its twiddle is -conj(w)
      const yr = er - tr;
      const yi = ti - ei;
      out[k] = xr * xr + xi * xi;
      out[m - k] = yr * yr + yi * yi;
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
