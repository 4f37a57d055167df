/** Tensor factories and the ops that are not methods (layers, losses, autograd modes). */
import { native, threadSettings } from '../native/binding.js';
import type { NativeInfo, NativeTensor } from '../native/types.js';
import { DTYPE_BYTES, numel, type RawTensor } from './dtype.js';
import { Tensor, type DType } from './tensor.js';

const ops = native.ops;
const wrap = (n: NativeTensor): Tensor => new Tensor(n);

type NumericArray = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array | BigInt64Array;

const ARRAY_DTYPE = new Map<unknown, DType>([
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int32Array, 'int32'],
  [Int16Array, 'int16'],
  [Int8Array, 'int8'],
  [Uint8Array, 'uint8'],
  [BigInt64Array, 'int64'],
]);

/**
 * A tensor from data (always a copy). Plain number arrays become float32 unless `dtype` says
 * otherwise; typed arrays keep their type unless `dtype` says otherwise.
 */
export function tensor(data: NumericArray | number[] | number, shape?: number[], dtype?: DType): Tensor {
  if (typeof data === 'number') data = [data];
  const shp = shape ?? (typeof data === 'number' ? [] : [data.length]);
  let arr: NumericArray;
  if (Array.isArray(data)) {
    const dt = dtype ?? 'float32';
    arr = toTypedArray(data, dt);
    dtype = dt;
  } else {
    arr = data;
    const natural = ARRAY_DTYPE.get(data.constructor);
    if (dtype === undefined) {
      if (natural === undefined) throw new Error('tensor: give a dtype for Uint16Array data (float16 or bfloat16)');
      dtype = natural;
    } else if (
      natural !== dtype &&
      !(data instanceof Uint8Array && dtype === 'bool') &&
      !(data instanceof Uint16Array && DTYPE_BYTES[dtype] === 2)
    ) {
      arr = toTypedArray(Array.from(data as ArrayLike<number | bigint>, Number), dtype);
    }
  }
  if (numel(shp) !== arr.length) {
    throw new Error(`tensor: ${arr.length} values do not fill shape [${shp.join(', ')}] (${numel(shp)} elements)`);
  }
  return wrap(ops.fromBytes(arr, shp, dtype));
}

function toTypedArray(data: number[], dtype: DType): NumericArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(data);
    case 'float64':
      return Float64Array.from(data);
    case 'int64':
      return BigInt64Array.from(data, (v) => BigInt(Math.trunc(v)));
    case 'int32':
      return Int32Array.from(data);
    case 'int16':
      return Int16Array.from(data);
    case 'int8':
      return Int8Array.from(data);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(data);
    default: {
      const f = tensor(Float32Array.from(data));
      try {
        const t = f.to(dtype);
        try {
          return t.data() as Uint16Array;
        } finally {
          t.dispose();
        }
      } finally {
        f.dispose();
      }
    }
  }
}

/** From file bytes (safetensors, .pth): one copy into libtorch memory. */
export function fromRaw(raw: RawTensor): Tensor {
  return wrap(ops.fromBytes(raw.data, raw.shape, raw.dtype));
}

export function toRaw(t: Tensor): RawTensor {
  return { dtype: t.dtype, shape: [...t.shape], data: t.bytes() };
}

export interface Creation {
  dtype?: DType;
  device?: string;
}
export const zeros = (shape: number[], o: Creation = {}): Tensor => wrap(ops.zeros(shape, o.dtype ?? 'float32', o.device ?? null));
export const ones = (shape: number[], o: Creation = {}): Tensor => wrap(ops.ones(shape, o.dtype ?? 'float32', o.device ?? null));
export const full = (shape: number[], value: number, o: Creation = {}): Tensor =>
  wrap(ops.full(shape, value, o.dtype ?? 'float32', o.device ?? null));
export const arange = (start: number, end: number, step = 1, o: Creation = {}): Tensor =>
  wrap(ops.arange(start, end, step, o.dtype ?? 'int64', o.device ?? null));
export const eye = (n: number, o: Creation = {}): Tensor => wrap(ops.eye(n, o.dtype ?? 'float32', o.device ?? null));

/** Random tensors. With `seed` the draw is reproducible and independent of the global generator. */
export interface RandomCreation extends Creation {
  seed?: number;
}
export const rand = (shape: number[], o: RandomCreation = {}): Tensor =>
  wrap(ops.rand(shape, o.dtype ?? 'float32', o.device ?? null, o.seed ?? null));
export const randn = (shape: number[], o: RandomCreation = {}): Tensor =>
  wrap(ops.randn(shape, o.dtype ?? 'float32', o.device ?? null, o.seed ?? null));
export const randint = (low: number, high: number, shape: number[], o: RandomCreation = {}): Tensor =>
  wrap(ops.randint(low, high, shape, o.dtype ?? 'int64', o.device ?? null, o.seed ?? null));
export const randperm = (n: number, seed?: number): Tensor => wrap(ops.randperm(n, seed ?? null));

export const cat = (ts: Tensor[], dim = 0): Tensor =>
  wrap(
    ops.cat(
      ts.map((t) => t.native),
      dim,
    ),
  );
export const stack = (ts: Tensor[], dim = 0): Tensor =>
  wrap(
    ops.stack(
      ts.map((t) => t.native),
      dim,
    ),
  );
export const where = (cond: Tensor, a: Tensor, b: Tensor): Tensor => wrap(ops.where(cond.native, a.native, b.native));
/** Constant padding, torch.nn.functional.pad order: last dim first, (left, right, top, bottom, ...). */
export const pad = (x: Tensor, pads: number[], value = 0): Tensor => wrap(ops.pad(x.native, pads, value));

// ---- layers
export const linear = (x: Tensor, w: Tensor, b?: Tensor | null): Tensor => wrap(ops.linear(x.native, w.native, b ? b.native : null));

export interface ConvOptions {
  stride?: number | number[];
  padding?: number | number[];
  dilation?: number | number[];
  groups?: number;
}
function pair(v: number | number[] | undefined, n: number, dflt: number): number[] {
  if (v === undefined) return new Array(n).fill(dflt);
  return typeof v === 'number' ? new Array(n).fill(v) : v;
}
export function conv1d(x: Tensor, w: Tensor, b: Tensor | null | undefined, o: ConvOptions = {}): Tensor {
  return wrap(
    ops.conv1d(x.native, w.native, b ? b.native : null, pair(o.stride, 1, 1), pair(o.padding, 1, 0), pair(o.dilation, 1, 1), o.groups ?? 1),
  );
}
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null | undefined, o: ConvOptions = {}): Tensor {
  return wrap(
    ops.conv2d(x.native, w.native, b ? b.native : null, pair(o.stride, 2, 1), pair(o.padding, 2, 0), pair(o.dilation, 2, 1), o.groups ?? 1),
  );
}
export const layerNorm = (x: Tensor, normalizedShape: number[], w: Tensor | null, b: Tensor | null, eps: number): Tensor =>
  wrap(ops.layerNorm(x.native, normalizedShape, w ? w.native : null, b ? b.native : null, eps));
export const dropout = (x: Tensor, p: number, training: boolean): Tensor => wrap(ops.dropout(x.native, p, training));
// fp32 on the CPU with a GEMM kernel other than libtorch's own (gemm.ts): its products through that
// kernel (native/attention.cc); bf16/fp16 on the CPU: libtorch's composite (its products on oneDNN);
// otherwise fused scaled_dot_product_attention where libtorch has it (2.x), the composite elsewhere. LOAA_ATTENTION=composite forces libtorch's composite (benchmarks,
// bisecting a difference).
const compositeAttention = process.env.LOAA_ATTENTION === 'composite';
const fusedAttention = (ops.hasFusedAttention() as boolean) && !compositeAttention;
/** softmax(q k^T * scale) v over the last two dims. */
export const attention = (q: Tensor, k: Tensor, v: Tensor, scale: number): Tensor =>
  wrap(compositeAttention ? ops.attention(q.native, k.native, v.native, scale) : ops.sdpa(q.native, k.native, v.native, scale));
/** Whether `attention` can run libtorch's fused kernel (2.x): on CUDA, and fp32 on the CPU with libtorch's own GEMM kernel. */
export const usesFusedAttention = (): boolean => fusedAttention;
/** Bilinear resize of [N, C, H, W] to `size` = [h, w] (align_corners false, as AST's pos-embed resize). */
export const interpolateBilinear = (x: Tensor, size: [number, number], alignCorners = false): Tensor =>
  wrap(ops.upsampleBilinear2d(x.native, size, alignCorners));

// ---- losses
export type Reduction = 'mean' | 'sum' | 'none';
/** Cross-entropy from logits; target is int64 class indices [N] or float class probabilities [N, C]. */
export const crossEntropy = (logits: Tensor, target: Tensor, reduction: Reduction = 'mean', labelSmoothing = 0): Tensor =>
  wrap(ops.crossEntropy(logits.native, target.native, reduction, labelSmoothing));
export const bceWithLogits = (logits: Tensor, target: Tensor, reduction: Reduction = 'mean', posWeight?: Tensor): Tensor =>
  wrap(ops.bceWithLogits(logits.native, target.native, reduction, posWeight ? posWeight.native : null));
export const mseLoss = (x: Tensor, y: Tensor, reduction: Reduction = 'mean'): Tensor => wrap(ops.mseLoss(x.native, y.native, reduction));

// ---- autograd modes and runtime
/** Runs `fn` with autograd recording off (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = ops.setGradEnabled(false) as boolean;
  try {
    return fn();
  } finally {
    ops.setGradEnabled(prev);
  }
}
export const isGradEnabled = (): boolean => ops.isGradEnabled();
export const sameStorage = (a: Tensor, b: Tensor): boolean => ops.sameStorage(a.native, b.native);
export const manualSeed = (seed: number): void => ops.manualSeed(seed);
export const setNumThreads = (n: number): void => ops.setNumThreads(n);
export const getNumThreads = (): number => ops.getNumThreads();
export function engineInfo(): NativeInfo & { threads: number; openblasCoretype: string | undefined } {
  return { ...ops.info(), threads: ops.getNumThreads(), openblasCoretype: threadSettings.coretype };
}
/** Uninitialised memory: only for tensors that are filled right away (initialisers). */
export const empty = (shape: number[], o: Creation = {}): Tensor => wrap(ops.zeros(shape, o.dtype ?? 'float32', o.device ?? null));
