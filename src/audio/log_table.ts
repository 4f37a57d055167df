/**
 * Natural logs of a row of filterbank energies, the 128 logs a frame takes. Math.log is a call into
 * V8's port of the C library, as long per frame as the FFT; here the exponent and the top 7 mantissa
 * bits come from the doubles' own bits (read through a Uint32Array over the row after it is written:
 * reading back a value just stored through another view would stall the store buffer), a 128-entry
 * table gives the log of the mantissa's top bits, and a series on 0 <= r < 2^-7 the rest. The result
 * is within about 1e-13 of Math.log (exact at powers of two), far below the float32 it is stored in.
 */
export const TABLE_BITS = 7;
const TABLE = 1 << TABLE_BITS;
/** table entry j covers mantissas [1 + j / TABLE, 1 + (j + 1) / TABLE): its start, 1 / start, log(start) */
const START = new Float64Array(TABLE);
const INV_START = new Float64Array(TABLE);
const LOG_START = new Float64Array(TABLE);
for (let j = 0; j < TABLE; j++) {
  START[j] = 1 + j / TABLE;
  INV_START[j] = 1 / START[j];
  LOG_START[j] = Math.log(START[j]);
}
/** by biased exponent: 2^-e and e ln 2 (e = biased - 1023); 0 and 2047 (subnormal, Inf/NaN) go to Math.log */
const SCALE = new Float64Array(2048);
const EXP_LOG = new Float64Array(2048);
for (let b = 1; b < 2047; b++) {
  SCALE[b] = 2 ** (1023 - b);
  EXP_LOG[b] = (b - 1023) * Math.LN2;
}
/**
 * The tables laid end to end for fft_wasm.ts's copy of `logsInto`: SCALE, EXP_LOG (2048 each), START,
 * INV_START, LOG_START (128 each).
 */
export function logTables(): Float64Array {
  const t = new Float64Array(2 * 2048 + 3 * TABLE);
  t.set(SCALE, 0);
  t.set(EXP_LOG, 2048);
  t.set(START, 4096);
  t.set(INV_START, 4096 + TABLE);
  t.set(LOG_START, 4096 + 2 * TABLE);
  return t;
}

/** which 32-bit word of a double holds its sign, exponent and top mantissa bits */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * out[off + i] = ln(values[first + stride * i]) for i < count (negative, zero and NaN values as
 * Math.log gives them); `words` views the same memory as `values` from the same byte offset.
 */
export function logsInto(
  values: Float64Array,
  words: Uint32Array,
  first: number,
  stride: number,
  count: number,
  out: Float32Array,
  off: number,
): void {
  for (let i = 0; i < count; i++) {
    const v = first + stride * i;
    const x = values[v];
    const hi = words[2 * v + HI];
    const be = hi >>> 20; // a sign bit makes this >= 2048: negatives go to Math.log too
    if (be === 0 || be >= 2047) {
      out[off + i] = Math.log(x);
      continue;
    }
    const j = (hi >>> (20 - TABLE_BITS)) & (TABLE - 1);
    const r = (x * SCALE[be] - START[j]) * INV_START[j];
    // log(1 + r) to r^6: the next term is below 2^-51
    out[off + i] = EXP_LOG[be] + LOG_START[j] + (r - r * r * (0.5 - r * (1 / 3 - r * (0.25 - r * (0.2 - r / 6)))));
  }
}

/** A row of doubles and the 32-bit view of the same memory that `logsInto` reads. */
export class LogRow {
  readonly values: Float64Array;
  readonly words: Uint32Array;
  constructor(readonly length: number) {
    this.values = new Float64Array(length);
    this.words = new Uint32Array(this.values.buffer);
  }

  /** out[off + i] = ln(values[i]) for i < length */
  logInto(out: Float32Array, off: number): void {
    logsInto(this.values, this.words, 0, 1, this.length, out, off);
  }
}
