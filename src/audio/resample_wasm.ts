/**
 * The resampler's inner loop (a dot product of each output phase's taps with the input) as one
 * WebAssembly function on f64x2 lanes: V8 runs JavaScript one double at a time, and this loop is
 * nearly all of resampling. It stays float64, as the JavaScript loop is, so the two give the same
 * samples up to the order of the partial sums. The module is a few hundred bytes written out below
 * with wasm_asm.ts; where WebAssembly or its SIMD is missing, or its memory cannot be
 * reserved (an address-space limit), `wasmResampler()` is null and resample.ts keeps its own loop.
 */

import {
  ADD,
  assign,
  countDown,
  addTo,
  type Code,
  DEMOTE,
  ensureBytes,
  F32_STORE,
  F64_ADD,
  F64_ZERO,
  F64X2_ADD,
  F64X2_MUL,
  F64X2_SPLAT,
  get,
  I32,
  I32_LOAD,
  i32,
  instantiate,
  LOOP,
  lane,
  moduleBytes,
  nextWhileBelow,
  set,
  tee,
  V128,
  v128Load,
  wasmKernelsOn,
  type WasmMemory,
} from './wasm_asm.js';

/** What the kernel reads: the layout resample.ts builds (see `Kernel` there). */
export interface FlatKernel {
  orig: number;
  target: number;
  width: number;
  /** taps per phase, a multiple of 8 */
  stride: number;
  start: Int32Array;
  taps: Float64Array;
}

// params: 0 xBase, 1 taps, 2 starts, 3 y, 4 blocks, 5 target, 6 origBytes, 7 strideBytes (byte addresses)
// locals: 8 j, 9 tp, 10 sp, 11 a, 12 tEnd (i32); 13-16 four f64x2 partial sums
const [X_BASE, TAPS, STARTS, Y, BLOCKS, TARGET, ORIG_BYTES, STRIDE_BYTES, J, TP, SP, A, T_END] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const ACC = [13, 14, 15, 16];

/**
 * for each block k (blocks >= 1): for each phase j < target:
 *   y[k * target + j] = f32(sum over the phase's stride taps of x[xBase + k * orig + start[j] + m] * taps[j][m])
 */
function body(): Code {
  const macs = ACC.flatMap((acc, v) => [
    ...get(acc),
    ...get(A),
    ...v128Load(16 * v),
    ...get(TP),
    ...v128Load(16 * v),
    ...F64X2_MUL,
    ...F64X2_ADD,
    ...set(acc),
  ]);
  return [
    ...LOOP, // blocks
    ...assign([J, i32(0)], [TP, get(TAPS)], [SP, get(STARTS)]),
    ...LOOP, // phases
    ...get(X_BASE),
    ...get(SP),
    ...I32_LOAD,
    ADD,
    ...set(A),
    ...get(TP),
    ...get(STRIDE_BYTES),
    ADD,
    ...set(T_END),
    ...ACC.flatMap((acc) => [...F64_ZERO, ...F64X2_SPLAT, ...set(acc)]),
    ...LOOP, // taps, 8 a step
    ...macs,
    ...addTo(A, i32(64)),
    ...nextWhileBelow(TP, i32(64), get(T_END)),
    ...get(Y),
    ...get(ACC[0]),
    ...get(ACC[1]),
    ...F64X2_ADD,
    ...get(ACC[2]),
    ...get(ACC[3]),
    ...F64X2_ADD,
    ...F64X2_ADD,
    ...tee(ACC[0]),
    ...lane(0),
    ...get(ACC[0]),
    ...lane(1),
    F64_ADD,
    DEMOTE,
    ...F32_STORE,
    ...addTo(Y, i32(4)),
    ...addTo(SP, i32(4)),
    ...nextWhileBelow(J, i32(1), get(TARGET)),
    ...addTo(X_BASE, get(ORIG_BYTES)),
    ...countDown(BLOCKS),
  ];
}

type Run = (
  xBase: number,
  taps: number,
  starts: number,
  y: number,
  blocks: number,
  target: number,
  origBytes: number,
  strideBytes: number,
) => void;

/** input samples a chunk covers at most (2 MiB of float64) */
const CHUNK = 1 << 18;
/** beyond this (a kernel of many phases: rates with a small gcd) resample.ts keeps its own loop */
const MAX_BYTES = 64 << 20;

export class WasmResampler {
  private constructor(
    private readonly run: Run,
    private readonly memory: WasmMemory,
  ) {}

  static create(): WasmResampler | null {
    const m = instantiate(
      moduleBytes([
        {
          name: 'run',
          params: 8,
          locals: [
            [5, I32],
            [4, V128],
          ],
          code: body(),
        },
      ]),
    );
    return m && new WasmResampler(m.exports.run as Run, m.memory);
  }

  /** the kernel whose taps and starts are in memory now, and where */
  private laidOut: { k: FlatKernel; startsAt: number; buffer: ArrayBufferLike } | null = null;

  /**
   * `x` resampled with `k` into `y` (all of it), in chunks of input so the module's memory stays a
   * few MiB whatever the clip's length. Null when that memory cannot be had (the caller then runs its
   * own loop). The kernel's tables are copied in only when they change: a batch of clips at one
   * rate pair costs its samples.
   */
  resample(k: FlatKernel, x: Float32Array, y: Float32Array): Float32Array | null {
    const outLen = y.length;
    const { orig, target, width, stride, start } = k;
    const L = x.length;
    let reach = 0;
    for (let j = 0; j < target; j++) reach = Math.max(reach, start[j] + stride);
    const blocks = Math.ceil(outLen / target);
    const per = Math.max(1, Math.floor(CHUNK / Math.max(orig, target)));
    const span = (per - 1) * orig + reach; // input samples one chunk reads
    // layout: taps | x | starts | y, each 16-byte aligned
    const align = (n: number): number => (n + 15) & ~15;
    const xAt = align(k.taps.byteLength);
    const startsAt = align(xAt + 8 * span);
    const yAt = align(startsAt + 4 * target);
    const end = yAt + 4 * per * target;
    if (end > MAX_BYTES) return null;
    if (!ensureBytes(this.memory, end)) return null;
    const buf = this.memory.buffer;
    const had = this.laidOut;
    if (!had || had.k !== k || had.startsAt !== startsAt || had.buffer !== buf) {
      new Float64Array(buf, 0, k.taps.length).set(k.taps);
      const starts = new Int32Array(buf, startsAt, target);
      for (let j = 0; j < target; j++) starts[j] = 8 * start[j];
      this.laidOut = { k, startsAt, buffer: buf };
    }
    const xr = new Float64Array(buf, xAt, span);
    const yr = new Float32Array(buf, yAt, per * target);
    for (let k0 = 0; k0 < blocks; k0 += per) {
      const n = Math.min(per, blocks - k0);
      // xr[i] = x[lo + i], zero outside the clip
      const lo = k0 * orig - width;
      const cnt = (n - 1) * orig + reach;
      const a = Math.min(Math.max(0, -lo), cnt);
      const b = Math.max(a, Math.min(cnt, L - lo));
      xr.fill(0, 0, a);
      if (b > a) xr.set(x.subarray(lo + a, lo + b), a);
      xr.fill(0, b, cnt);
      this.run(xAt, 0, startsAt, yAt, n, target, 8 * orig, 8 * stride);
      y.set(yr.subarray(0, Math.min(n * target, outLen - k0 * target)), k0 * target);
    }
    return y;
  }
}

let shared: WasmResampler | null | undefined;

/** The process's (or worker's) one instance, made on first use; null where WebAssembly cannot run it. */
export function wasmResampler(): WasmResampler | null {
  if (!wasmKernelsOn()) return null;
  if (shared === undefined) shared = WasmResampler.create();
  return shared;
}
