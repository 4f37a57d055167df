/**
 * Just enough of a WebAssembly assembler for the front end's two kernels (resample_wasm.ts,
 * fft_wasm.ts): opcodes as byte arrays, and a module of exported functions over an imported
 * memory. Writing the few hundred bytes out here keeps the kernels readable next to the JavaScript
 * they replace, with no toolchain and nothing fetched.
 */
export type Code = number[];

export const uleb = (n: number): Code => {
  const out: Code = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};

const sleb = (n: number): Code => {
  const out: Code = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};

const str = (s: string): Code => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: Code): Code => [id, ...uleb(body.length), ...body];

export const get = (i: number): Code => [0x20, i];
export const set = (i: number): Code => [0x21, i];
export const tee = (i: number): Code => [0x22, i];
export const i32 = (n: number): Code => [0x41, ...sleb(n)];
export const ADD = 0x6a;
export const SUB = 0x6b;
export const MUL = 0x6c;
export const SHL = 0x74;
export const SHR_U = 0x76;
export const LT_U = 0x49;
export const LE_U = 0x4d;
export const GE_U = 0x4f;
export const GT_U = 0x4b;
export const BLOCK = [0x02, 0x40];
export const LOOP = [0x03, 0x40];
export const IF = [0x04, 0x40];
export const END = 0x0b;
export const br = (depth: number): Code => [0x0c, depth];
export const brIf = (depth: number): Code => [0x0d, depth];
export const I32_LOAD = [0x28, 2, 0];
export const F32_STORE = [0x38, 2, 0];
export const F64_ADD = 0xa0;
export const F64_SUB = 0xa1;
export const F64_MUL = 0xa2;
export const F64_DIV = 0xa3;
export const AND = 0x71;
export const ELSE = 0x05;
/** Locals set in order: `assign([J, i32(0)], [P, get(Q)])` is j = 0; p = q. */
export const assign = (...pairs: [number, Code][]): Code => pairs.flatMap(([x, value]) => [...value, ...set(x)]);
/** local `x` += `step` (i32) */
export const addTo = (x: number, step: Code): Code => [...get(x), ...step, ADD, ...set(x)];
/** The back edge of a counted loop: local `x` += `step`, round again while `x` < `limit` (unsigned), then the loop's END. */
export const nextWhileBelow = (x: number, step: Code, limit: Code): Code => [
  ...get(x),
  ...step,
  ADD,
  ...tee(x),
  ...limit,
  LT_U,
  ...brIf(0),
  END,
];
/** The back edge of a loop run local `x` times: `x` -= 1, round again while it is not 0, then the loop's END. */
export const countDown = (x: number): Code => [...get(x), ...i32(1), SUB, ...tee(x), ...brIf(0), END];
export const f64Load = (offset: number): Code => [0x2b, 3, ...uleb(offset)];
export const i32LoadAt = (offset: number): Code => [0x28, 2, ...uleb(offset)];
export const f32StoreAt = (offset: number): Code => [0x38, 2, ...uleb(offset)];
export const f64 = (v: number): Code => {
  const d = new DataView(new ArrayBuffer(8));
  d.setFloat64(0, v, true); // WebAssembly's constants are little-endian
  return [0x44, ...new Uint8Array(d.buffer)];
};
export const DEMOTE = 0xb6;
export const v128Load = (offset: number): Code => [0xfd, 0x00, 3, ...uleb(offset)];
export const v128Store = (offset: number): Code => [0xfd, 0x0b, 3, ...uleb(offset)];
/** one f64 from memory into both lanes */
export const load64Splat = (offset: number): Code => [0xfd, 0x0a, 3, ...uleb(offset)];
export const F64X2_SPLAT = [0xfd, 0x14];
/** one f64 from memory into lane 0, lane 1 zero */
export const load64Zero = (offset: number): Code => [0xfd, 0x5d, 3, ...uleb(offset)];
export const replaceLane = (l: number): Code => [0xfd, 0x22, l];
export const lane = (l: number): Code => [0xfd, 0x21, l];
export const F64X2_ADD = [0xfd, 0xf0, 0x01];
export const F64X2_SUB = [0xfd, 0xf1, 0x01];
export const F64X2_MUL = [0xfd, 0xf2, 0x01];
/** pmax(a, b) = a < b ? b : a */
export const F64X2_PMAX = [0xfd, 0xf7, 0x01];
export const F64_ZERO = [0x44, 0, 0, 0, 0, 0, 0, 0, 0];

export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

export interface WasmFunction {
  name: string;
  /** how many i32 parameters (no result) */
  params: number;
  /** [count, type] runs of locals after the parameters */
  locals: [number, number][];
  code: Code;
}

/** A module exporting `functions` over the imported memory env.mem. */
export function moduleBytes(functions: WasmFunction[]): Uint8Array {
  const types = functions.flatMap((f) => [0x60, ...uleb(f.params), ...Array<number>(f.params).fill(I32), 0]);
  const bodies = functions.flatMap((f) => {
    const body = [...uleb(f.locals.length), ...f.locals.flatMap(([n, t]) => [...uleb(n), t]), ...f.code, END];
    return [...uleb(body.length), ...body];
  });
  const n = functions.length;
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [...uleb(n), ...types]),
    ...section(2, [1, ...str('env'), ...str('mem'), 0x02, 0x00, 1]),
    ...section(3, [...uleb(n), ...functions.map((_, i) => i)]),
    ...section(7, [...uleb(n), ...functions.flatMap((f, i) => [...str(f.name), 0x00, i])]),
    ...section(10, [...uleb(n), ...bodies]),
  ]);
}

export interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => unknown;
  Instance: new (m: unknown, imports: object) => { exports: Record<string, Exported> };
  Memory: new (d: { initial: number }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}

export const PAGE = 65536;

export type Exported = (...args: number[]) => void;

let enabled = true;

/**
 * Whether the front end may use its WebAssembly kernels (default yes). Off, every caller takes its
 * JavaScript loop: the tests hold the two to each other this way.
 */
export function setWasmKernels(on: boolean): void {
  enabled = on;
}

export function wasmKernelsOn(): boolean {
  return enabled;
}

/** The module's functions and its memory, or null where WebAssembly, its SIMD or its memory cannot be had. */
export function instantiate(bytes: Uint8Array): { exports: Record<string, Exported>; memory: WasmMemory } | null {
  const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (!wasm) return null;
  try {
    if (!wasm.validate(bytes)) return null;
    const memory = new wasm.Memory({ initial: 1 });
    const { exports } = new wasm.Instance(new wasm.Module(bytes), { env: { mem: memory } });
    return { exports, memory };
  } catch {
    return null; // memory not reservable here (an address-space limit)
  }
}

/** Grows `memory` to at least `bytes`; false when it cannot. */
export function ensureBytes(memory: WasmMemory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return true;
  try {
    memory.grow(Math.ceil((bytes - have) / PAGE));
    return true;
  } catch {
    return false;
  }
}
