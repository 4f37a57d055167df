/**
 * The Python values a weights-only pickle can build, as TypeScript classes, and how errors name them.
 * Split from pickle.ts so the opcode machine and the allow-list of globals can share them.
 */
import type { DType } from './safetensors.js';

/** A Python tuple (lists are JS arrays, dicts are Maps, sets are Sets, bytes are Uint8Arrays). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

export class PyComplex {
  constructor(
    readonly re: number,
    readonly im: number,
  ) {}
}

/** `torch.FloatStorage` and friends; `dtype` is null for kinds this reader cannot represent. */
export class TorchStorageType {
  constructor(
    readonly path: string,
    readonly dtype: DType | null,
    readonly untyped = false,
  ) {}
}

/** `torch.float32` and friends, as they appear in `_rebuild_tensor_v3`. */
export class TorchDtype {
  constructor(
    readonly path: string,
    readonly dtype: DType | null,
  ) {}
}

/** A storage the caller's persistentLoad located: `nbytes` bytes of `key` from `byteOffset`. */
export class TorchStorage {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly nbytes: number,
    readonly location = 'cpu',
    readonly byteOffset = 0,
  ) {}
}

/** A tensor as a view of a storage: offset and strides in elements of `dtype`. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly dtype: DType,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
  ) {}
}

/** An allowed global that may be called (REDUCE) or instantiated (NEWOBJ). */
export class PyCallable {
  constructor(
    readonly path: string,
    readonly call: (args: readonly unknown[], fail: Fail) => unknown,
  ) {}
}

/** An allowed global that is only ever an argument (`torch.Tensor` as a `_rebuild_from_type_v2` type). */
export class PyTypeMarker {
  constructor(readonly path: string) {}
}

export type Fail = (msg: string) => never;

/** A short, printable rendering of attacker-chosen text for an error message. */
export function printable(s: string): string {
  const t = s.length > 120 ? `${s.slice(0, 120)}...` : s;
  return /^[\x20-\x7e]*$/.test(t) ? t : JSON.stringify(t);
}

/** Short type names for error messages (never a dump of the value). */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (v instanceof TorchTensor) return 'tensor';
  if (v instanceof TorchStorage) return 'storage';
  if (v instanceof TorchStorageType || v instanceof TorchDtype) return v.path;
  if (v instanceof PyCallable || v instanceof PyTypeMarker) return v.path;
  if (v instanceof PyComplex) return 'complex';
  return 'object';
}

/** Dict keys and set members must be hashable; tuples hash by identity here (state dicts use str keys). */
export function hashKey(k: unknown, fail: Fail): unknown {
  if (Array.isArray(k) || k instanceof Map || k instanceof Set) {
    fail(`unhashable ${describe(k)} used as a dict key or set member`);
  }
  return k;
}
