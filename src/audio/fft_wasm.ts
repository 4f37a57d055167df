/**
 * fft.ts's power-of-two real power spectrum for two frames at once, one in each f64x2 lane, as
 * WebAssembly: the same operations in the same order on the same float64 values (WebAssembly SIMD
 * fuses nothing), so each lane's spectrum equals the JavaScript transform's bit for bit, at a
 * fraction of its time (JavaScript runs one double at a time and checks every index). fbank feeds it
 * pairs of frames; where WebAssembly cannot run, `pairSpectrum` is null and fbank uses fft.ts.
 */
import { logTables } from './log_table.js';
import { ensureBytes, instantiate, wasmKernelsOn, type Exported, type WasmMemory } from './wasm_asm.js';
import { pairSpectrumModule } from './fft_wasm_code.js';

const LOG_TABLES = logTables();

/** A mel filterbank as kaldi.ts flattens it: filter b weighs bins start[b] .. end[b] - 1 with weights[offset[b]] .. */
export interface MelBank {
  bins: number;
  start: Int32Array;
  end: Int32Array;
  offset: Int32Array;
  weights: Float64Array;
}

/** The power spectra of two real frames of n samples (n a power of two, >= 8), interleaved. */
export class PairSpectrum {
  /** frame a at x[2t], frame b at x[2t + 1], t < n; valid until the next `pairSpectrum` call */
  x!: Float64Array;
  /** |A_k|^2 at pw[2k], |B_k|^2 at pw[2k + 1], k <= n / 2 */
  pw!: Float64Array;
  /** after `mel()`: frame a's filter b at energies[2b], frame b's at energies[2b + 1] */
  energies!: Float64Array;
  /** after `logs()`: the log energies of frame a, then of frame b */
  logRows!: [Float32Array, Float32Array];
  private addr = { x: 0, rev: 0, twr: 0, twi: 0, spr: 0, spi: 0, re: 0, im: 0, pw: 0 };
  private bankAddr = { starts: 0, ends: 0, weights: 0, out: 0, bins: 0, floor: 0, logs: 0, tables: 0 };
  private windowAddr = { window: 0, consts: 0, clip: 0, size: 0 };
  private consts!: Float64Array;
  /** samples that `windowPair` reads, as float64 */
  clip!: Float64Array;
  private n = 0;
  private last: { n: number; bank: MelBank; window: Float64Array; clipSamples: number } | null = null;
  constructor(
    private readonly fns: Record<string, Exported>,
    private readonly memory: WasmMemory,
  ) {}

  /**
   * Lays out size n (tables and buffers) and the filterbank in the module's memory; false when it
   * cannot grow.
   */
  prepare(n: number, bank: MelBank, window: Float64Array, clipSamples: number): boolean {
    // the same configuration as the last call (kaldi.ts caches its bank and window): all in place
    const last = this.last;
    if (
      last &&
      last.n === n &&
      last.bank === bank &&
      last.window === window &&
      last.clipSamples === clipSamples &&
      this.x.buffer === this.memory.buffer
    )
      return true;
    this.last = null;
    const m = n >> 1;
    let at = 0;
    const take = (bytes: number): number => {
      const a = at;
      at += (bytes + 15) & ~15;
      return a;
    };
    const a = {
      x: take(16 * n),
      rev: take(4 * m),
      twr: take(8 * m),
      twi: take(8 * m),
      spr: take(8 * (m / 2 + 1)),
      spi: take(8 * (m / 2 + 1)),
      re: take(16 * m),
      im: take(16 * m),
      pw: take(16 * (m + 1)),
    };
    const b = {
      starts: take(4 * bank.bins),
      ends: take(4 * bank.bins),
      weights: take(bank.weights.byteLength),
      out: take(16 * bank.bins),
      bins: bank.bins,
      floor: take(8),
      logs: take(8 * bank.bins),
      tables: take(LOG_TABLES.byteLength),
    };
    const w = { window: take(window.byteLength), consts: take(32), clip: take(8 * clipSamples), size: window.length };
    if (!ensureBytes(this.memory, at)) return false;
    const buf = this.memory.buffer;
    const starts = new Int32Array(buf, b.starts, bank.bins);
    const ends = new Int32Array(buf, b.ends, bank.bins);
    for (let i = 0; i < bank.bins; i++) {
      starts[i] = 16 * bank.start[i];
      ends[i] = 16 * bank.end[i];
    }
    new Float64Array(buf, b.weights, bank.weights.length).set(bank.weights);
    this.energies = new Float64Array(buf, b.out, 2 * bank.bins);
    this.logRows = [new Float32Array(buf, b.logs, bank.bins), new Float32Array(buf, b.logs + 4 * bank.bins, bank.bins)];
    new Float64Array(buf, b.tables, LOG_TABLES.length).set(LOG_TABLES);
    new Float64Array(buf, w.window, window.length).set(window);
    this.consts = new Float64Array(buf, w.consts, 4);
    this.clip = new Float64Array(buf, w.clip, clipSamples);
    this.windowAddr = w;
    this.bankAddr = b;
    if (this.n !== n || this.x?.buffer !== buf) {
      const bits = Math.log2(m);
      const rev = new Int32Array(buf, a.rev, m);
      for (let j = 0; j < m; j++) {
        let r = 0;
        for (let b = 0, v = j; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
        rev[j] = 32 * r; // x[2r] of the pair array, in bytes
      }
      const twr = new Float64Array(buf, a.twr, m);
      const twi = new Float64Array(buf, a.twi, m);
      for (let len = 8; len <= m; len <<= 1) {
        const h = len >> 1;
        for (let k = 0; k < h; k++) {
          twr[h + k] = Math.cos((2 * Math.PI * k) / len);
          twi[h + k] = -Math.sin((2 * Math.PI * k) / len);
        }
      }
      const spr = new Float64Array(buf, a.spr, m / 2 + 1);
      const spi = new Float64Array(buf, a.spi, m / 2 + 1);
      for (let k = 0; k <= m >> 1; k++) {
        spr[k] = Math.cos((2 * Math.PI * k) / n);
        spi[k] = -Math.sin((2 * Math.PI * k) / n);
      }
      this.x = new Float64Array(buf, a.x, 2 * n);
      this.pw = new Float64Array(buf, a.pw, 2 * (m + 1));
      this.addr = a;
      this.n = n;
    }
    this.last = { n, bank, window, clipSamples };
    return true;
  }

  /** pw from x */
  power(): void {
    const a = this.addr;
    this.fns.power(a.x, a.rev, a.twr, a.twi, a.spr, a.spi, a.re, a.im, a.pw, this.n >> 1);
  }

  /** energies from pw, each at least `floor` (-Infinity: NaN stays NaN, as melInto) */
  mel(floor: number): void {
    const b = this.bankAddr;
    new Float64Array(this.memory.buffer, b.floor, 1)[0] = floor;
    this.fns.mel(this.addr.pw, b.starts, b.ends, b.weights, b.out, b.bins, b.floor);
  }

  /**
   * x from two frames of `clip` starting at samples a and b, with means ma and mb: kaldi.ts's
   * windowInto for both at once (preemphasis p).
   */
  windowPair(a: number, b: number, ma: number, mb: number, p: number): void {
    const w = this.windowAddr;
    const c = this.consts;
    c[0] = ma;
    c[1] = mb;
    c[2] = p;
    c[3] = 1 - p;
    this.fns.window(w.clip + 8 * a, w.clip + 8 * b, w.consts, w.window, w.size, this.addr.x);
  }

  /** logRows from energies (after `mel` with a positive floor) */
  logs(): void {
    const b = this.bankAddr;
    this.fns.logs(b.out, b.logs, b.bins, b.tables);
  }
}

let shared: PairSpectrum | null | undefined;

/** The process's (or worker's) instance laid out for size n, or null where WebAssembly cannot run it. */
export function pairSpectrum(n: number, bank: MelBank, window: Float64Array, clipSamples: number): PairSpectrum | null {
  if (!wasmKernelsOn() || !(n >= 16 && (n & (n - 1)) === 0)) return null;
  if (shared === undefined) {
    const m = instantiate(pairSpectrumModule());
    shared = m && new PairSpectrum(m.exports, m.memory);
  }
  return shared?.prepare(n, bank, window, clipSamples) ? shared : null;
}
