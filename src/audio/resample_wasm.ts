/**
 * The resampler's inner loop (a dot product of each output phase's taps with the input) as one
 * WebAssembly function on f64x2 lanes: V8 runs JavaScript one double at a time, and this loop is
 * nearly all of resampling. It stays float64, as the JavaScript loop is, so the two give the same
 * samples up to the order of the partial sums. The module is a few hundred bytes written out below
 * (no toolchain, nothing to fetch); where WebAssembly or its SIMD is missing, or its memory cannot be
 * reserved (an address-space limit), `wasmResampler()` is null and resample.ts keeps its own loop.
 */

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

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// the opcodes used (WebAssembly core + SIMD)
const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const tee = (i: number): number[] => [0x22, i];
const i32 = (n: number): number[] => [0x41, ...sleb(n)];
const ADD = 0x6a;
const SUB = 0x6b;
const LT_U = 0x49;
const LOOP = [0x03, 0x40];
const END = 0x0b;
const brIf = (depth: number): number[] => [0x0d, depth];
const I32_LOAD = [0x28, 2, 0];
const F32_STORE = [0x38, 2, 0];
const F64_ADD = 0xa0;
const DEMOTE = 0xb6;
const v128Load = (offset: number): number[] => [0xfd, 0x00, 3, ...uleb(offset)];
const F64X2_SPLAT = [0xfd, 0x14];
const lane = (l: number): number[] => [0xfd, 0x21, l];
const F64X2_ADD = [0xfd, 0xf0, 0x01];
const F64X2_MUL = [0xfd, 0xf2, 0x01];
const F64_ZERO = [0x44, 0, 0, 0, 0, 0, 0, 0, 0];

// params: 0 xBase, 1 taps, 2 starts, 3 y, 4 blocks, 5 target, 6 origBytes, 7 strideBytes (byte addresses)
// locals: 8 j, 9 tp, 10 sp, 11 a, 12 tEnd (i32); 13-16 four f64x2 partial sums
const [X_BASE, TAPS, STARTS, Y, BLOCKS, TARGET, ORIG_BYTES, STRIDE_BYTES, J, TP, SP, A, T_END] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const ACC = [13, 14, 15, 16];

/**
 * for each block k (blocks >= 1): for each phase j < target:
 *   y[k * target + j] = f32(sum over the phase's stride taps of x[xBase + k * orig + start[j] + m] * taps[j][m])
 */
function body(): number[] {
  const macs = ACC.flatMap((acc, v) => [...get(acc), ...get(A), ...v128Load(16 * v), ...get(TP), ...v128Load(16 * v), ...F64X2_MUL, ...F64X2_ADD, ...set(acc)]);
  const code = [
    ...LOOP, // blocks
    ...i32(0), ...set(J),
    ...get(TAPS), ...set(TP),
    ...get(STARTS), ...set(SP),
    ...LOOP, // phases
    ...get(X_BASE), ...get(SP), ...I32_LOAD, ADD, ...set(A),
    ...get(TP), ...get(STRIDE_BYTES), ADD, ...set(T_END),
    ...ACC.flatMap((acc) => [...F64_ZERO, ...F64X2_SPLAT, ...set(acc)]),
    ...LOOP, // taps, 8 a step
    ...macs,
    ...get(A), ...i32(64), ADD, ...set(A),
    ...get(TP), ...i32(64), ADD, ...tee(TP), ...get(T_END), LT_U, ...brIf(0),
    END,
    ...get(Y),
    ...get(ACC[0]), ...get(ACC[1]), ...F64X2_ADD, ...get(ACC[2]), ...get(ACC[3]), ...F64X2_ADD, ...F64X2_ADD, ...tee(ACC[0]),
    ...lane(0), ...get(ACC[0]), ...lane(1), F64_ADD, DEMOTE,
    ...F32_STORE,
    ...get(Y), ...i32(4), ADD, ...set(Y),
    ...get(SP), ...i32(4), ADD, ...set(SP),
    ...get(J), ...i32(1), ADD, ...tee(J), ...get(TARGET), LT_U, ...brIf(0),
    END,
    ...get(X_BASE), ...get(ORIG_BYTES), ADD, ...set(X_BASE),
    ...get(BLOCKS), ...i32(1), SUB, ...tee(BLOCKS), ...brIf(0),
    END,
    END,
  ];
  const locals = [...uleb(2), ...uleb(5), 0x7f, ...uleb(4), 0x7b];
  return [...uleb(locals.length + code.length), ...locals, ...code];
}

function moduleBytes(): Uint8Array {
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 8, ...Array<number>(8).fill(0x7f), 0]),
    ...section(2, [1, ...str('env'), ...str('mem'), 0x02, 0x00, 1]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...str('run'), 0x00, 0]),
    ...section(10, [1, ...body()]),
  ]);
}

type Run = (xBase: number, taps: number, starts: number, y: number, blocks: number, target: number, origBytes: number, strideBytes: number) => void;

interface WasmApi {
  Module: new (bytes: Uint8Array) => unknown;
  Instance: new (m: unknown, imports: object) => { exports: { run: Run } };
  Memory: new (d: { initial: number }) => { buffer: ArrayBuffer; grow(pages: number): number };
  validate(bytes: Uint8Array): boolean;
}

const PAGE = 65536;
/** input samples a chunk covers at most (2 MiB of float64) */
const CHUNK = 1 << 18;
/** beyond this (a kernel of many phases: rates with a small gcd) resample.ts keeps its own loop */
const MAX_BYTES = 64 << 20;

export class WasmResampler {
  private readonly memory: { buffer: ArrayBuffer; grow(pages: number): number };
  private readonly run: Run;
  private constructor(wasm: WasmApi, module: unknown) {
    this.memory = new wasm.Memory({ initial: 1 });
    this.run = new wasm.Instance(module, { env: { mem: this.memory } }).exports.run;
  }

  static create(): WasmResampler | null {
    const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
    if (!wasm) return null;
    try {
      const bytes = moduleBytes();
      if (!wasm.validate(bytes)) return null;
      return new WasmResampler(wasm, new wasm.Module(bytes));
    } catch {
      return null; // memory not reservable here
    }
  }

  /**
   * `x` resampled with `k` into `outLen` samples, in chunks of input so the module's memory stays a
   * few MiB whatever the clip's length. Null when that memory cannot be had (the caller then runs its
   * own loop).
   */
  resample(k: FlatKernel, x: Float32Array, outLen: number): Float32Array | null {
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
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        return null;
      }
    }
    const buf = this.memory.buffer;
    new Float64Array(buf, 0, k.taps.length).set(k.taps);
    const starts = new Int32Array(buf, startsAt, target);
    for (let j = 0; j < target; j++) starts[j] = 8 * start[j];
    const xr = new Float64Array(buf, xAt, span);
    const yr = new Float32Array(buf, yAt, per * target);
    const y = new Float32Array(outLen);
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
  if (shared === undefined) shared = WasmResampler.create();
  return shared;
}
