/**
 * `Tensor`: a handle on one libtorch tensor. Methods are thin: each is one native op call plus
 * scope tracking, so the math, broadcasting, autograd and error messages are libtorch's own.
 */
import { native } from '../native/binding.js';
import type { NativeTensor } from '../native/types.js';
import type { DType } from './dtype.js';
import { track, type Disposable } from './scope.js';

export type { DType };
export type Device = 'cpu' | `cuda:${number}` | 'cuda';
export type TensorLike = Tensor | number;
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int32'
        ? Int32Array
        : D extends 'int16'
          ? Int16Array
          : D extends 'int8'
            ? Int8Array
            : D extends 'uint8' | 'bool'
              ? Uint8Array
              : Uint16Array;

const ops = native.ops;

/** The op functions of the addon, for the few places (functional.ts) that need ones without a method. */
export const nativeOps = ops;

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the merged interface declares the elementwise methods that the UNARY / BINARY tables put on the prototype at load
export class Tensor implements Disposable {
  /** @internal */
  readonly native: NativeTensor;
  #shape: number[] | undefined;
  #kept = false;

  /** @internal Use the factories in `functional.ts` (`tensor`, `zeros`, `randn`, ...). */
  constructor(n: NativeTensor) {
    this.native = n;
    track(this);
  }

  get shape(): number[] {
    this.#shape ??= this.native.shape;
    return this.#shape;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return this.native.dtype as DType;
  }
  get device(): string {
    return this.native.device;
  }
  get disposed(): boolean {
    return this.native.disposed;
  }
  get kept(): boolean {
    return this.#kept;
  }

  get requiresGrad(): boolean {
    return this.native.requiresGrad;
  }
  set requiresGrad(v: boolean) {
    this.native.requiresGrad = v;
  }
  /** The accumulated gradient (a new handle on it), or null when none has been computed. */
  get grad(): Tensor | null {
    const g = this.native.grad;
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    this.native.grad = g === null ? null : g.native;
  }
  get isLeaf(): boolean {
    return this.native.isLeaf;
  }

  /** Release this handle now. Memory goes once no view or autograd graph still refers to it. */
  dispose(): void {
    this.native.dispose();
  }
  /** Exempt from scope cleanup: for parameters, buffers and optimizer state. */
  keep(): this {
    this.#kept = true;
    return this;
  }

  toString(): string {
    return `Tensor(${this.dtype}[${this.shape.join(', ')}]${this.device === 'cpu' ? '' : `, ${this.device}`})`;
  }

  // ---- data out
  /** A copy of the data as the natural typed array of the dtype (float16/bfloat16: raw Uint16Array). */
  data<D extends DType = DType>(): TypedArrayFor<D> {
    const buf: ArrayBuffer = ops.toBytes(this.native);
    // a dtype this table lacks came back as raw 16-bit words before the table too
    return new (ARRAY_OF[this.dtype] ?? Uint16Array)(buf) as TypedArrayFor<D>;
  }
  /** The data as float32 (converted when the dtype differs). */
  toFloat32(): Float32Array {
    if (this.dtype === 'float32') return this.data<'float32'>();
    const t = this.to('float32');
    try {
      return t.data<'float32'>();
    } finally {
      t.dispose();
    }
  }
  /** Plain numbers, whatever the dtype (int64 via Number). */
  toArray(): number[] {
    const d = this.dtype === 'float16' || this.dtype === 'bfloat16' ? this.toFloat32() : this.data();
    return Array.from(d as ArrayLike<number | bigint>, Number);
  }
  /** Little-endian bytes, row-major (for file formats). */
  bytes(): Uint8Array {
    return new Uint8Array(ops.toBytes(this.native));
  }
  item(): number {
    return ops.item(this.native);
  }

  // ---- conversion
  to(dtype: DType | null, device?: string): Tensor {
    return new Tensor(ops.to(this.native, dtype, device ?? null));
  }
  clone(): Tensor {
    return new Tensor(ops.clone(this.native));
  }
  detach(): Tensor {
    return new Tensor(ops.detach(this.native));
  }
  contiguous(): Tensor {
    return new Tensor(ops.contiguous(this.native));
  }
  /** A second handle on the same tensor (both must be disposed). */
  alias(): Tensor {
    return new Tensor(ops.alias(this.native));
  }

  // ---- views
  reshape(...shape: number[]): Tensor {
    return new Tensor(ops.reshape(this.native, shape));
  }
  view(...shape: number[]): Tensor {
    return new Tensor(ops.view(this.native, shape));
  }
  permute(...dims: number[]): Tensor {
    return new Tensor(ops.permute(this.native, dims));
  }
  transpose(a: number, b: number): Tensor {
    return new Tensor(ops.transpose(this.native, a, b));
  }
  get T(): Tensor {
    return this.transpose(-2, -1);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(ops.narrow(this.native, dim, start, length));
  }
  slice(dim: number, start: number, end: number, step = 1): Tensor {
    return new Tensor(ops.slice(this.native, dim, start, end, step));
  }
  select(dim: number, index: number): Tensor {
    return new Tensor(ops.select(this.native, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(ops.indexSelect(this.native, dim, index.native));
  }
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(ops.gather(this.native, dim, index.native));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(ops.unsqueeze(this.native, dim));
  }
  squeeze(dim?: number): Tensor {
    return new Tensor(ops.squeeze(this.native, dim ?? null));
  }
  expand(...shape: number[]): Tensor {
    return new Tensor(ops.expand(this.native, shape));
  }
  repeat(...times: number[]): Tensor {
    return new Tensor(ops.repeat(this.native, times));
  }
  flatten(start = 0, end = -1): Tensor {
    return new Tensor(ops.flatten(this.native, start, end));
  }
  split(sizes: number[], dim = 0): Tensor[] {
    return (ops.split(this.native, sizes, dim) as NativeTensor[]).map((n) => new Tensor(n));
  }
  chunk(n: number, dim = 0): Tensor[] {
    return (ops.chunk(this.native, n, dim) as NativeTensor[]).map((x) => new Tensor(x));
  }
  /** The slices along `dim` with that dim removed (views); their gradients flow back as one stack. */
  unbind(dim = 0): Tensor[] {
    return (ops.unbind(this.native, dim) as NativeTensor[]).map((x) => new Tensor(x));
  }
  roll(shifts: number[], dims: number[]): Tensor {
    return new Tensor(ops.roll(this.native, shifts, dims));
  }
  flip(dims: number[]): Tensor {
    return new Tensor(ops.flip(this.native, dims));
  }

  // ---- arithmetic (broadcasting; the second operand may be a number); the plain elementwise ops
  // (mul, div, pow, comparisons, exp, log, ...) come from the tables UNARY and BINARY below the class
  add(o: TensorLike, alpha?: number): Tensor {
    return new Tensor(ops.add(this.native, operand(o), alpha));
  }
  sub(o: TensorLike, alpha?: number): Tensor {
    return new Tensor(ops.sub(this.native, operand(o), alpha));
  }
  maximum(o: Tensor): Tensor {
    return new Tensor(ops.maximum(this.native, o.native));
  }
  minimum(o: Tensor): Tensor {
    return new Tensor(ops.minimum(this.native, o.native));
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return new Tensor(ops.maskedFill(this.native, mask.native, value));
  }
  clamp(min: number | null, max: number | null = null): Tensor {
    return new Tensor(ops.clamp(this.native, min, max));
  }
  /** GELU, exact (erf) by default as in timm; 'tanh' for the approximation. */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return new Tensor(ops.gelu(this.native, approximate));
  }
  matmul(o: Tensor): Tensor {
    return new Tensor(ops.matmul(this.native, o.native));
  }
  softmax(dim: number): Tensor {
    return new Tensor(ops.softmax(this.native, dim));
  }
  logSoftmax(dim: number): Tensor {
    return new Tensor(ops.logSoftmax(this.native, dim));
  }

  // ---- in place (no autograd history: for optimizers and initialisers, under noGrad)
  add_(o: TensorLike, alpha?: number): this {
    ops.add_(this.native, operand(o), alpha);
    return this;
  }
  mul_(o: TensorLike): this {
    ops.mul_(this.native, operand(o));
    return this;
  }
  div_(o: TensorLike): this {
    ops.div_(this.native, operand(o));
    return this;
  }
  addcmul_(a: Tensor, b: Tensor, value = 1): this {
    ops.addcmul_(this.native, a.native, b.native, value);
    return this;
  }
  addcdiv_(a: Tensor, b: Tensor, value = 1): this {
    ops.addcdiv_(this.native, a.native, b.native, value);
    return this;
  }
  sqrt_(): this {
    ops.sqrt_(this.native);
    return this;
  }
  maximum_(o: Tensor): this {
    ops.maximum_(this.native, o.native);
    return this;
  }
  copy_(src: Tensor): this {
    ops.copy_(this.native, src.native);
    return this;
  }
  zero_(): this {
    ops.zero_(this.native);
    return this;
  }
  fill_(v: number): this {
    ops.fill_(this.native, v);
    return this;
  }
  uniform_(low: number, high: number, seed?: number): this {
    ops.uniform_(this.native, low, high, seed ?? null);
    return this;
  }
  normal_(mean: number, std: number, seed?: number): this {
    ops.normal_(this.native, mean, std, seed ?? null);
    return this;
  }
  requiresGrad_(v = true): this {
    ops.requiresGrad_(this.native, v);
    return this;
  }

  // ---- reductions
  sum(dims?: number | number[], keepdim = false): Tensor {
    return new Tensor(ops.sum(this.native, dimList(dims), keepdim));
  }
  mean(dims?: number | number[], keepdim = false): Tensor {
    return new Tensor(ops.mean(this.native, dimList(dims), keepdim));
  }
  amax(dims?: number | number[], keepdim = false): Tensor {
    return new Tensor(ops.amax(this.native, dimList(dims), keepdim));
  }
  amin(dims?: number | number[], keepdim = false): Tensor {
    return new Tensor(ops.amin(this.native, dimList(dims), keepdim));
  }
  /** Sample variance by default (correction 1), as torch.var. */
  var(dims?: number | number[], correction = 1, keepdim = false): Tensor {
    return new Tensor(ops.var(this.native, dimList(dims), correction, keepdim));
  }
  std(dims?: number | number[], correction = 1, keepdim = false): Tensor {
    const v = this.var(dims, correction, keepdim);
    const s = v.sqrt();
    v.dispose();
    return s;
  }
  norm(p = 2, dims?: number | number[], keepdim = false): Tensor {
    return new Tensor(ops.norm(this.native, p, dimList(dims), keepdim));
  }
  max(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [v, i] = ops.max(this.native, dim, keepdim) as NativeTensor[];
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(ops.argmax(this.native, dim ?? null, keepdim));
  }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [v, i] = ops.topk(this.native, k, dim, largest, sorted) as NativeTensor[];
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [v, i] = ops.sort(this.native, dim, descending) as NativeTensor[];
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  logsumexp(dims: number | number[], keepdim = false): Tensor {
    return new Tensor(ops.logsumexp(this.native, dimList(dims), keepdim));
  }
  cumsum(dim: number): Tensor {
    return new Tensor(ops.cumsum(this.native, dim));
  }
  all(): boolean {
    const t = new Tensor(ops.all(this.native));
    try {
      return t.item() !== 0;
    } finally {
      t.dispose();
    }
  }

  // ---- autograd
  /** Accumulates gradients into the leaves that require them. A non-scalar needs `grad`. */
  backward(grad?: Tensor, retainGraph = false): void {
    ops.backward(this.native, grad ? grad.native : null, retainGraph);
  }
}

/** The typed array of each dtype's data (float16 / bfloat16: their raw 16-bit words), as `TypedArrayFor` says. */
const ARRAY_OF: Record<DType, new (buf: ArrayBuffer) => TypedArrayFor<DType>> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

/** Elementwise ops of one tensor, each libtorch's op of the same name: `t.exp()`. */
const UNARY = [
  'neg',
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'abs',
  'sign',
  'tanh',
  'sigmoid',
  'relu',
  'erf',
  'sin',
  'cos',
  'floor',
  'reciprocal',
  'isfinite',
  'logicalNot',
] as const;
/** Elementwise ops of a tensor and a tensor or number (broadcasting), libtorch's of the same name: `t.mul(2)`, `t.lt(u)`. */
const BINARY = ['mul', 'div', 'pow', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;

type UnaryOps = { [K in (typeof UNARY)[number]]: () => Tensor };
type BinaryOps = { [K in (typeof BINARY)[number]]: (o: TensorLike) => Tensor };
/** The table-made methods, declared on the class (their prototype entries are set right below). */
export interface Tensor extends UnaryOps, BinaryOps {}
for (const name of UNARY) {
  const op = ops[name]!;
  Tensor.prototype[name] = function (this: Tensor): Tensor {
    return new Tensor(op(this.native));
  };
}
for (const name of BINARY) {
  const op = ops[name]!;
  Tensor.prototype[name] = function (this: Tensor, o: TensorLike): Tensor {
    return new Tensor(op(this.native, operand(o)));
  };
}

function operand(o: TensorLike): NativeTensor | number {
  return typeof o === 'number' ? o : o.native;
}

function dimList(d: number | number[] | undefined): number[] | null {
  return d === undefined ? null : typeof d === 'number' ? [d] : d;
}
