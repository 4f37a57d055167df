/**
 * The allow-list of pickle globals (PyTorch's torch/_weights_only_unpickler.py, less what has no meaning
 * without Python) and the TypeScript "functions" behind them, which only build descriptions of tensors.
 * Nothing here imports or executes anything; unknown globals are refused with an Error naming them.
 */
import { DTYPE_BYTES, type DType } from './safetensors.js';
import {
  describe,
  hashKey,
  printable,
  PyCallable,
  PyComplex,
  PyTuple,
  PyTypeMarker,
  TorchDtype,
  TorchStorage,
  TorchStorageType,
  TorchTensor,
  type Fail,
} from './pickle_values.js';

const STORAGE_DTYPES: Record<string, DType | null> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  ComplexFloatStorage: null,
  ComplexDoubleStorage: null,
  QInt8Storage: null,
  QUInt8Storage: null,
  QInt32Storage: null,
  QUInt4x2Storage: null,
  QUInt2x4Storage: null,
};

const TORCH_DTYPES: Record<string, DType | null> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
  complex32: null,
  complex64: null,
  complex128: null,
  cfloat: null,
  cdouble: null,
  chalf: null,
  uint16: null,
  uint32: null,
  uint64: null,
  qint8: null,
  quint8: null,
  qint32: null,
  quint4x2: null,
  quint2x4: null,
  float8_e4m3fn: null,
  float8_e5m2: null,
  float8_e4m3fnuz: null,
  float8_e5m2fnuz: null,
};

/** Allowed by torch's weights_only unpickler but meaningless here: a clear refusal, not "not allowed". */
const TORCH_ALLOWED_UNSUPPORTED: Record<string, string> = {
  'torch._utils._rebuild_qtensor': 'quantized tensors',
  'torch._utils._rebuild_sparse_tensor': 'sparse tensors',
  'torch._utils._rebuild_sparse_csr_tensor': 'sparse tensors',
  'torch._utils._rebuild_meta_tensor_no_storage': 'meta tensors without data',
  'torch._utils._rebuild_wrapper_subclass': 'tensor subclasses',
  'torch._utils._rebuild_device_tensor_from_numpy': 'numpy-backed tensors',
  'torch._utils._rebuild_device_tensor_from_cpu_tensor': 'device tensors',
  'torch._utils._rebuild_nested_tensor': 'nested tensors',
  'torch.serialization._get_layout': 'sparse layouts',
  'torch.per_tensor_affine': 'quantized tensors',
  'torch.per_tensor_symmetric': 'quantized tensors',
  'torch.per_channel_affine': 'quantized tensors',
  'torch.per_channel_symmetric': 'quantized tensors',
  'torch.per_channel_affine_float_qparams': 'quantized tensors',
};

/** Protocol-2 pickles written by Python 2 name a few modules differently (pickle's IMPORT_MAPPING). */
const PY2_MODULES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

function asInt(v: unknown, what: string, fail: Fail): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return fail(`${what} must be an integer, found ${describe(v)}`);
}

function asIntTuple(v: unknown, what: string, fail: Fail): number[] {
  if (!(v instanceof PyTuple) && !Array.isArray(v)) fail(`${what} must be a tuple of integers, found ${describe(v)}`);
  const items = v instanceof PyTuple ? v.items : (v as unknown[]);
  return items.map((x, i) => {
    const n = asInt(x, `${what}[${i}]`, fail);
    if (n < 0) fail(`${what}[${i}] is negative (${n})`);
    return n;
  });
}

function asBool(v: unknown, what: string, fail: Fail): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  return fail(`${what} must be a bool, found ${describe(v)}`);
}

function argCount(path: string, args: readonly unknown[], min: number, max: number, fail: Fail): void {
  if (args.length < min || args.length > max) {
    fail(`${path} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length}`);
  }
}

/** Build a tensor view, checking that every element it can reach lies inside its storage. */
function makeTensor(
  path: string,
  storage: unknown,
  offsetV: unknown,
  sizeV: unknown,
  strideV: unknown,
  requiresGrad: boolean,
  dtype: DType | null,
  fail: Fail,
): TorchTensor {
  if (!(storage instanceof TorchStorage)) fail(`${path}: storage argument is ${describe(storage)}, not a persistent storage`);
  const st = storage as TorchStorage;
  const dt = dtype ?? st.dtype;
  const offset = asInt(offsetV, `${path} storage_offset`, fail);
  if (offset < 0) fail(`${path}: negative storage offset ${offset}`);
  const shape = asIntTuple(sizeV, `${path} size`, fail);
  const stride = asIntTuple(strideV, `${path} stride`, fail);
  if (shape.length !== stride.length) fail(`${path}: size has ${shape.length} dims but stride has ${stride.length}`);
  if (shape.length > 64) fail(`${path}: ${shape.length} dimensions is not a tensor anyone saved`);
  let n = 1;
  let last = offset;
  for (let i = 0; i < shape.length; i++) {
    n *= shape[i];
    last += (shape[i] - 1) * stride[i];
    if (!Number.isSafeInteger(last) || !Number.isSafeInteger(n)) fail(`${path}: size ${JSON.stringify(shape)} is out of range`);
  }
  if (n > 0) {
    const es = DTYPE_BYTES[dt];
    const need = (last + 1) * es;
    if (!Number.isSafeInteger(need) || need > st.nbytes) {
      fail(
        `${path}: a ${dt} tensor of size ${JSON.stringify(shape)}, stride ${JSON.stringify(stride)} at offset ${offset} ` +
          `reaches byte ${need} of storage "${st.key}", which holds ${st.nbytes} bytes`,
      );
    }
  }
  return new TorchTensor(st, dt, offset, shape, stride, requiresGrad);
}

function asTensor(v: unknown, what: string, fail: Fail): TorchTensor {
  if (!(v instanceof TorchTensor)) fail(`${what} must be a tensor, found ${describe(v)}`);
  return v as TorchTensor;
}

function withGrad(t: TorchTensor, requiresGrad: boolean): TorchTensor {
  return new TorchTensor(t.storage, t.dtype, t.offset, t.shape, t.stride, requiresGrad);
}

function dictFrom(path: string, args: readonly unknown[], fail: Fail): Map<unknown, unknown> {
  argCount(path, args, 0, 1, fail);
  const m = new Map<unknown, unknown>();
  if (args.length === 1 && args[0] !== null) {
    const src = args[0];
    if (src instanceof Map) {
      for (const [k, v] of src) m.set(k, v);
    } else if (Array.isArray(src) || src instanceof PyTuple) {
      for (const pair of src instanceof PyTuple ? src.items : src) {
        const kv = pair instanceof PyTuple ? pair.items : Array.isArray(pair) ? pair : null;
        if (kv?.length !== 2) fail(`${path}: items must be (key, value) pairs, found ${describe(pair)}`);
        m.set(hashKey(kv![0], fail), kv![1]);
      }
    } else {
      fail(`${path}: cannot build a dict from ${describe(src)}`);
    }
  }
  return m;
}

const TENSOR_TYPE = new PyTypeMarker('torch.Tensor');
const PARAMETER_TYPE = new PyTypeMarker('torch.nn.parameter.Parameter');

function callable(path: string, call: (args: readonly unknown[], fail: Fail) => unknown): [string, PyCallable] {
  return [path, new PyCallable(path, call)];
}

const ALLOWED: Map<string, unknown> = new Map<string, unknown>([
  callable('collections.OrderedDict', (a, fail) => dictFrom('collections.OrderedDict', a, fail)),
  callable('collections.Counter', (a, fail) => dictFrom('collections.Counter', a, fail)),
  callable('torch._utils._rebuild_tensor', (a, fail) => {
    argCount('_rebuild_tensor', a, 4, 4, fail);
    return makeTensor('_rebuild_tensor', a[0], a[1], a[2], a[3], false, null, fail);
  }),
  callable('torch._utils._rebuild_tensor_v2', (a, fail) => {
    argCount('_rebuild_tensor_v2', a, 6, 7, fail);
    return makeTensor('_rebuild_tensor_v2', a[0], a[1], a[2], a[3], asBool(a[4], 'requires_grad', fail), null, fail);
  }),
  callable('torch._utils._rebuild_tensor_v3', (a, fail) => {
    argCount('_rebuild_tensor_v3', a, 7, 8, fail);
    const dt = a[6];
    if (!(dt instanceof TorchDtype)) fail(`_rebuild_tensor_v3: dtype argument is ${describe(dt)}`);
    if ((dt as TorchDtype).dtype === null) fail(`_rebuild_tensor_v3: dtype ${(dt as TorchDtype).path} is not supported`);
    return makeTensor('_rebuild_tensor_v3', a[0], a[1], a[2], a[3], asBool(a[4], 'requires_grad', fail), (dt as TorchDtype).dtype, fail);
  }),
  callable('torch._utils._rebuild_parameter', (a, fail) => {
    argCount('_rebuild_parameter', a, 3, 3, fail);
    return withGrad(asTensor(a[0], '_rebuild_parameter data', fail), asBool(a[1], 'requires_grad', fail));
  }),
  callable('torch._utils._rebuild_parameter_with_state', (a, fail) => {
    argCount('_rebuild_parameter_with_state', a, 4, 4, fail);
    // the state is Python attributes set on the Parameter: nothing a state dict reader needs
    return withGrad(asTensor(a[0], '_rebuild_parameter_with_state data', fail), asBool(a[1], 'requires_grad', fail));
  }),
  callable('torch._tensor._rebuild_from_type_v2', (a, fail) => {
    argCount('_rebuild_from_type_v2', a, 4, 4, fail);
    const [func, type, args] = a;
    if (type !== TENSOR_TYPE && type !== PARAMETER_TYPE) fail(`_rebuild_from_type_v2: tensor subclass ${describe(type)} is not supported`);
    if (!(func instanceof PyCallable)) fail(`_rebuild_from_type_v2: ${describe(func)} is not an allowed function`);
    if (!(args instanceof PyTuple)) fail(`_rebuild_from_type_v2: arguments are ${describe(args)}, not a tuple`);
    const t = (func as PyCallable).call((args as PyTuple).items, fail);
    return asTensor(t, `_rebuild_from_type_v2 result of ${(func as PyCallable).path}`, fail);
  }),
  callable('torch.nn.parameter.Parameter', (a, fail) => {
    argCount('torch.nn.parameter.Parameter', a, 0, 2, fail);
    if (a.length === 0) fail('torch.nn.parameter.Parameter() without data is not supported');
    return withGrad(asTensor(a[0], 'Parameter data', fail), a.length > 1 ? asBool(a[1], 'requires_grad', fail) : true);
  }),
  callable('torch.Size', (a, fail) => {
    argCount('torch.Size', a, 0, 1, fail);
    return new PyTuple(a.length ? asIntTuple(a[0], 'torch.Size', fail) : []);
  }),
  callable('torch.device', (a, fail) => {
    argCount('torch.device', a, 1, 2, fail);
    if (typeof a[0] !== 'string') fail(`torch.device: ${describe(a[0])} is not a device name`);
    return a.length === 2 && a[1] !== null ? `${a[0]}:${asInt(a[1], 'device index', fail)}` : a[0];
  }),
  callable('_codecs.encode', (a, fail) => {
    argCount('_codecs.encode', a, 1, 3, fail);
    if (typeof a[0] !== 'string') fail(`_codecs.encode: ${describe(a[0])} is not a str`);
    const enc = a.length > 1 ? String(a[1]).toLowerCase().replace(/[-_]/g, '') : 'utf8';
    const s = a[0] as string;
    if (enc === 'latin1' || enc === 'iso88591') {
      const out = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c > 255) fail('_codecs.encode: character outside latin-1');
        out[i] = c;
      }
      return out;
    }
    if (enc === 'utf8' || enc === 'ascii') return new Uint8Array(Buffer.from(s, 'utf8'));
    return fail(`_codecs.encode: encoding ${JSON.stringify(a[1])} is not supported`);
  }),
  callable('builtins.bytearray', (a, fail) => {
    argCount('builtins.bytearray', a, 0, 1, fail);
    if (a.length === 0) return new Uint8Array(0);
    if (a[0] instanceof Uint8Array) return a[0].slice();
    return fail(`builtins.bytearray: ${describe(a[0])} is not bytes`);
  }),
  callable('builtins.set', (a, fail) => {
    argCount('builtins.set', a, 0, 1, fail);
    const s = new Set<unknown>();
    if (a.length) {
      const src = a[0];
      const items = src instanceof PyTuple ? src.items : Array.isArray(src) ? src : src instanceof Set ? [...src] : null;
      if (!items) fail(`builtins.set: cannot build a set from ${describe(src)}`);
      for (const x of items!) s.add(hashKey(x, fail));
    }
    return s;
  }),
  callable('builtins.complex', (a, fail) => {
    argCount('builtins.complex', a, 0, 2, fail);
    const num = (v: unknown): number => (typeof v === 'number' ? v : asInt(v, 'complex part', fail));
    return new PyComplex(a.length > 0 ? num(a[0]) : 0, a.length > 1 ? num(a[1]) : 0);
  }),
  ['torch.Tensor', TENSOR_TYPE],
]);

/** NEWOBJ (cls.__new__) is allowed for these only, as in torch's unpickler. */
export const NEWOBJ_CLASSES = new Set(['collections.OrderedDict', 'collections.Counter', 'torch.nn.parameter.Parameter', 'builtins.set']);

export function resolveGlobal(module: string, name: string, fail: Fail): unknown {
  const mod = PY2_MODULES[module] ?? module;
  const path = `${mod}.${name}`;
  const hit = ALLOWED.get(path);
  if (hit !== undefined) return hit;
  if (path === 'torch.nn.Parameter') return ALLOWED.get('torch.nn.parameter.Parameter');
  if (mod === 'torch' && Object.hasOwn(STORAGE_DTYPES, name)) return new TorchStorageType(path, STORAGE_DTYPES[name]);
  if (name === 'UntypedStorage' && (mod === 'torch' || mod === 'torch.storage')) {
    return new TorchStorageType(path, 'uint8', true);
  }
  if (mod === 'torch' && Object.hasOwn(TORCH_DTYPES, name)) return new TorchDtype(path, TORCH_DTYPES[name]);
  if (Object.hasOwn(TORCH_ALLOWED_UNSUPPORTED, path)) {
    return fail(`pickle global ${path} (${TORCH_ALLOWED_UNSUPPORTED[path]}) is not supported`);
  }
  return fail(
    `pickle global ${printable(path)} is not allowed: like torch.load(weights_only=True), only tensors, storages, ` +
      'dtypes and plain containers are loaded (nothing is ever imported or executed)',
  );
}

export interface StoragePid {
  storageType: TorchStorageType;
  /** element type of the storage (uint8 for untyped storages) */
  dtype: DType;
  key: string;
  location: string;
  /** size in elements of `dtype` */
  numel: number;
  /** legacy format only: (view key, offset, size) of a storage view, or null */
  viewMetadata: unknown;
}

/** Parse `('storage', storage_type, key, location, numel[, view_metadata])` as torch.save writes it. */
export function parseStoragePid(pid: PyTuple, fail: Fail): StoragePid {
  const it = pid.items;
  if (it.length !== 5 && it.length !== 6) fail(`storage persistent id has ${it.length} fields, expected 5 or 6`);
  const st = it[1];
  if (!(st instanceof TorchStorageType)) {
    if (st instanceof TorchDtype && st.dtype) {
      return finish(new TorchStorageType(st.path, st.dtype), st.dtype);
    }
    return fail(`storage type is ${describe(st)}, not a torch storage class`);
  }
  if (st.dtype === null) return fail(`storage type ${st.path} is not supported (complex and quantized tensors are not)`);
  return finish(st, st.dtype);

  function finish(storageType: TorchStorageType, dtype: DType): StoragePid {
    const key = it[2];
    if (typeof key !== 'string' && typeof key !== 'number') fail(`storage key is ${describe(key)}`);
    const location = it[3];
    if (typeof location !== 'string') fail(`storage location is ${describe(location)}`);
    const numel = asInt(it[4], 'storage size', fail);
    if (numel < 0) fail(`storage size ${numel} is negative`);
    return { storageType, dtype, key: String(key), location: location as string, numel, viewMetadata: it.length === 6 ? it[5] : null };
  }
}
