/**
 * Band-limited resampling, the same filter as `torchaudio.functional.resample` with its defaults
 * (sinc_interp_hann: a Hann-windowed sinc, lowpass_filter_width 6, rolloff 0.99, rates reduced by
 * their gcd). torchaudio convolves every output phase with the full `2 * width + orig` taps, most
 * of them (numerically) zero; here each phase keeps only the taps inside the window, which is what
 * makes this faster than the reference while giving the same output.
 */
import { wasmResampler, type FlatKernel } from './resample_wasm.js';

export interface ResampleOptions {
  lowpassFilterWidth?: number;
  rolloff?: number;
}

/**
 * The polyphase filter, flat: phase j's taps are taps[j * stride .. j * stride + stride), zero past
 * its own length, and start at input sample `k * orig - width + start[j]` for output block k. One
 * stride for every phase keeps the inner loop's trip count fixed, which V8 compiles to straight code.
 */
type Kernel = FlatKernel;

const cache = new Map<string, Kernel>();

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function kernelFor(origRate: number, newRate: number, lpw: number, rolloff: number): Kernel {
  const key = `${origRate}/${newRate}/${lpw}/${rolloff}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const g = gcd(origRate, newRate);
  const orig = origRate / g;
  const target = newRate / g;
  const base = Math.min(orig, target) * rolloff;
  const width = Math.ceil((lpw * orig) / base);
  const scale = base / orig;
  const n = 2 * width + orig;
  const dense: Float64Array[] = [];
  const start = new Int32Array(target);
  let stride = 0;
  for (let j = 0; j < target; j++) {
    const w = new Float64Array(n);
    let first = n;
    let last = -1;
    for (let m = 0; m < n; m++) {
      // torchaudio: t = (-j / new + (m - width) / orig) * base, clamped to the window
      const t = (-j / target + (m - width) / orig) * base;
      if (t <= -lpw || t >= lpw) continue; // the window is zero there
      const win = Math.cos((t * Math.PI) / lpw / 2) ** 2;
      const pt = t * Math.PI;
      w[m] = (pt === 0 ? 1 : Math.sin(pt) / pt) * win * scale;
      if (m < first) first = m;
      last = m;
    }
    const taps = last < 0 ? new Float64Array(0) : w.slice(first, last + 1);
    start[j] = last < 0 ? 0 : first;
    stride = Math.max(stride, taps.length);
    dense.push(taps);
  }
  stride = (stride + 7) & ~7; // eight taps a step in the wasm loop, four partial sums in ours
  const taps = new Float64Array(target * stride);
  dense.forEach((t, j) => {
    taps.set(t, j * stride);
  });
  const k: Kernel = { orig, target, width, stride, start, taps };
  if (cache.size > 64) cache.clear();
  cache.set(key, k);
  return k;
}

/** Output length torchaudio gives: ceil(new * n / orig) with gcd-reduced rates. */
export function resampledLength(n: number, origRate: number, newRate: number): number {
  const g = gcd(origRate, newRate);
  return Math.ceil(((newRate / g) * n) / (origRate / g));
}

export function resample(x: Float32Array, origRate: number, newRate: number, opts: ResampleOptions = {}): Float32Array {
  return resampleWith(x, origRate, newRate, opts, true);
}

/**
 * `resample` written into `out` (at least `resampledLength` samples long): the front end's own
 * buffer, reused clip after clip, instead of a new array. Returns the samples written, a view of `out`.
 */
export function resampleInto(x: Float32Array, origRate: number, newRate: number, out: Float32Array): Float32Array {
  return resampleWith(x, origRate, newRate, {}, true, out);
}

/**
 * `resample`, choosing the loop: the WebAssembly one where it runs (`wasm`), else this file's own.
 * Exported so tests can hold the two to each other; callers use `resample`.
 */
export function resampleWith(
  x: Float32Array,
  origRate: number,
  newRate: number,
  opts: ResampleOptions,
  wasm: boolean,
  out?: Float32Array,
): Float32Array {
  for (const [name, r] of [
    ['original', origRate],
    ['new', newRate],
  ] as const) {
    if (!Number.isSafeInteger(r) || r <= 0) throw new Error(`resample: ${name} sample rate must be a positive integer, got ${r}`);
  }
  const lpw = opts.lowpassFilterWidth ?? 6;
  const rolloff = opts.rolloff ?? 0.99;
  if (!(lpw > 0)) throw new Error(`resample: lowpassFilterWidth must be positive, got ${lpw}`);
  if (!(rolloff > 0 && rolloff <= 1)) throw new Error(`resample: rolloff must be in (0, 1], got ${rolloff}`);
  const outLen = origRate === newRate ? x.length : resampledLength(x.length, origRate, newRate);
  if (out && out.length < outLen) throw new Error(`resample: the output holds ${out.length} samples, ${outLen} are needed`);
  const y = out ? out.subarray(0, outLen) : new Float32Array(outLen);
  if (origRate === newRate) {
    y.set(x);
    return y;
  }
  if (outLen === 0) return y;
  const kernel = kernelFor(origRate, newRate, lpw, rolloff);
  return (wasm ? wasmResampler()?.resample(kernel, x, y) : null) ?? scalarLoop(kernel, x, y);
}

function scalarLoop(kernel: Kernel, x: Float32Array, y: Float32Array): Float32Array {
  const outLen = y.length;
  const { orig, target, width, stride, start, taps } = kernel;
  const L = x.length;
  // a float64 copy with zero margins: no bounds tests in the inner loop, no float32 loads
  let reach = 0;
  for (let j = 0; j < target; j++) reach = Math.max(reach, start[j] + stride);
  const margin = width + orig + reach;
  const xp = new Float64Array(L + 2 * margin);
  xp.set(x, margin);
  const blocks = Math.ceil(outLen / target);
  for (let k = 0; k < blocks; k++) {
    const base = k * orig - width + margin;
    const jEnd = Math.min(target, outLen - k * target);
    for (let j = 0; j < jEnd; j++) {
      const i0 = base + start[j];
      const t0 = j * stride;
      // four partial sums break the add dependency chain
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let m = 0; m < stride; m += 4) {
        a0 += xp[i0 + m] * taps[t0 + m];
        a1 += xp[i0 + m + 1] * taps[t0 + m + 1];
        a2 += xp[i0 + m + 2] * taps[t0 + m + 2];
        a3 += xp[i0 + m + 3] * taps[t0 + m + 3];
      }
      y[k * target + j] = a0 + a1 + (a2 + a3);
    }
  }
  return y;
}
