/**
 * `torch.save` checkpoints (`.pth`, `.pt`, Hugging Face `pytorch_model.bin`), read as bytes.
 *
 * The zip format (torch >= 1.6): `<dir>/data.pkl` is a pickle whose tensors point, through
 * persistent ids, at storages stored raw as `<dir>/data/<key>`; `<dir>/byteorder` may say "big".
 * The legacy format (torch.save(..., _use_new_zipfile_serialization=False)): five pickles back to
 * back (magic number, protocol version, system info, the object, the storage keys), then every
 * storage as an int64 element count followed by its bytes.
 *
 * Pickles go through the restricted unpickler (weights_only rules). A tensor is a view of a
 * storage (offset, sizes, strides): contiguous views are returned without copying, others are
 * copied into row-major order.
 */
import { closeSync, readSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { openRegular, readRegularFile } from '../util/fs.js';
import { budgetFor, type LoadBudget } from './budget.js';
import { DTYPE_BYTES, numel, type RawTensor } from './safetensors.js';
import { isZip, ZipReader } from './zip.js';
import { describe, parseStoragePid, PyTuple, TorchStorage, TorchTensor, unpickle } from './pickle.js';

export type PthFormat = 'zip' | 'legacy';

export interface PthFile {
  tensors: Map<string, RawTensor>;
  format: PthFormat;
  /** where the state dict was found: "" (top level), "model" or "state_dict" */
  root: string;
}

/** Keys under which training scripts nest the state dict, in order of preference. */
const STATE_DICT_KEYS = ['model', 'state_dict'];

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** Does this look like a legacy (non-zip) torch.save file, i.e. a pickle? */
export function isPickleStart(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5;
}

function isTar(head: Uint8Array): boolean {
  return head.length >= 262 && Buffer.from(head.subarray(257, 262)).toString('latin1') === 'ustar';
}

/** The first `n` bytes and the size of a regular file (devices, FIFOs and sockets are refused). */
function readHead(path: string, n: number): { head: Uint8Array; size: number } {
  const { fd, size } = openRegular(path, 'checkpoint');
  try {
    const b = Buffer.alloc(Math.min(n, size));
    let got = 0;
    while (got < b.length) {
      const k = readSync(fd, b, got, b.length - got, got);
      if (k === 0) break;
      got += k;
    }
    return { head: b.subarray(0, got), size };
  } finally {
    closeSync(fd);
  }
}

/** The tensors of a torch.save checkpoint: the state dict at top level or under "model"/"state_dict". */
export function readPth(path: string): Map<string, RawTensor> {
  return readPthFile(path).tensors;
}

export function readPthFile(path: string): PthFile {
  const { head, size } = readHead(path, 512);
  const budget = budgetFor(path, size);
  if (isZip(head)) {
    const zip = ZipReader.open(path, budget);
    try {
      return loadZip(zip, path, budget);
    } finally {
      zip.close();
    }
  }
  return parsePthLegacyOrFail(
    head,
    () => {
      budget.charge(size, 'reading the legacy checkpoint');
      return readRegularFile(path, 'checkpoint');
    },
    path,
    budget,
  );
}

/** The same from bytes already in memory (tests, and callers that fetched the file themselves). */
export function parsePth(buf: Uint8Array, source: string, budget: LoadBudget = budgetFor(source, buf.byteLength)): PthFile {
  if (isZip(buf)) return loadZip(ZipReader.fromBuffer(buf, source, budget), source, budget);
  return parsePthLegacyOrFail(buf.subarray(0, 512), () => buf, source, budget);
}

function parsePthLegacyOrFail(head: Uint8Array, all: () => Uint8Array, source: string, budget: LoadBudget): PthFile {
  if (isPickleStart(head)) return loadLegacy(all(), source, budget);
  if (isTar(head)) {
    throw new Error(
      `${source}: this is the tar-based torch.save format of PyTorch < 0.4, which is not supported: ` +
        're-save it with a recent torch.save(...)',
    );
  }
  if (head.length === 0) throw new Error(`${source}: the file is empty`);
  throw new Error(`${source}: not a PyTorch checkpoint (neither a torch.save zip nor a pickle; first bytes ${hexHead(head)})`);
}

function hexHead(b: Uint8Array): string {
  return Buffer.from(b.subarray(0, 8)).toString('hex');
}

function loadZip(zip: ZipReader, source: string, budget: LoadBudget): PthFile {
  const pkls = zip.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pkls.length === 0) {
    const top = zip.entries
      .slice(0, 5)
      .map((e) => e.name)
      .join(', ');
    throw new Error(`${source}: a zip file, but not one written by torch.save (no <dir>/data.pkl; entries: ${top || 'none'})`);
  }
  if (pkls.length > 1)
    throw new Error(`${source}: several data.pkl records (${pkls.map((e) => e.name).join(', ')}): not a torch.save file`);
  const prefix = pkls[0].name.slice(0, -'data.pkl'.length);
  if (zip.has(`${prefix}constants.pkl`) || zip.entries.some((e) => e.name.startsWith(`${prefix}code/`))) {
    throw new Error(
      `${source}: a TorchScript archive (torch.jit.save), not a state dict: save one with torch.save(model.state_dict(), path)`,
    );
  }
  let bigEndian = false;
  if (zip.has(`${prefix}byteorder`)) {
    const bo = Buffer.from(zip.read(`${prefix}byteorder`))
      .toString('latin1')
      .trim();
    if (bo !== 'little' && bo !== 'big')
      throw new Error(`${source}: ${prefix}byteorder says ${JSON.stringify(bo.slice(0, 20))}, not "little" or "big"`);
    bigEndian = bo === 'big';
  }
  const pklSource = `${source} (${pkls[0].name})`;
  const storages = new Map<string, TorchStorage>();
  const { value } = unpickle(zip.read(pkls[0].name), {
    source: pklSource,
    budget,
    persistentLoad(pid: PyTuple, fail) {
      const p = parseStoragePid(pid, fail);
      const nbytes = p.numel * DTYPE_BYTES[p.dtype];
      const seen = storages.get(p.key);
      if (seen) {
        if (seen.dtype !== p.dtype || seen.nbytes !== nbytes) fail(`storage "${p.key}" is described twice, differently`);
        return seen;
      }
      const entry = zip.entry(`${prefix}data/${p.key}`);
      if (!entry) fail(`storage "${p.key}" has no record ${prefix}data/${p.key} in the archive`);
      if (entry!.uncompressedSize < nbytes) {
        fail(
          `storage "${p.key}" (${p.numel} x ${p.dtype}) needs ${nbytes} bytes but ${prefix}data/${p.key} holds ${entry!.uncompressedSize}`,
        );
      }
      const s = new TorchStorage(p.key, p.dtype, nbytes, p.location);
      storages.set(p.key, s);
      return s;
    },
  });
  const { root, entries } = stateDictOf(value, source, budget);
  const bytes = new Map<string, Uint8Array>();
  const storageBytes = (s: TorchStorage): Uint8Array => {
    let b = bytes.get(s.key);
    if (!b) {
      b = zip.read(`${prefix}data/${s.key}`);
      if (bigEndian) b = byteswap(b, DTYPE_BYTES[s.dtype]);
      bytes.set(s.key, b);
    }
    return b;
  };
  const tensors = new Map<string, RawTensor>();
  for (const [name, t] of entries) tensors.set(name, materialize(name, t, storageBytes(t.storage), source, budget));
  return { tensors, format: 'zip', root };
}

function loadLegacy(buf: Uint8Array, source: string, budget: LoadBudget): PthFile {
  const at = (what: string) => `${source} (legacy torch.save ${what})`;
  const magic = unpickle(buf, { source, budget });
  if (magic.value !== LEGACY_MAGIC) {
    // (a hostile pickle never gets here: its first forbidden GLOBAL already threw, naming itself)
    throw new Error(`${source}: a pickle, but not a torch.save file (no torch magic number)`);
  }
  const proto = unpickle(buf, { source: at('protocol version'), offset: magic.end, budget });
  if (proto.value !== LEGACY_PROTOCOL)
    throw new Error(`${source}: legacy torch.save protocol ${String(proto.value)} is not supported (only ${LEGACY_PROTOCOL})`);
  const sys = unpickle(buf, { source: at('system info'), offset: proto.end, budget });
  if (!(sys.value instanceof Map) || sys.value.get('little_endian') !== true) {
    throw new Error(`${source}: legacy torch.save file written on a big-endian machine: not supported`);
  }
  const roots = new Map<string, TorchStorage>();
  const obj = unpickle(buf, {
    source: at('data'),
    offset: sys.end,
    budget,
    persistentLoad(pid: PyTuple, fail) {
      const p = parseStoragePid(pid, fail);
      const es = DTYPE_BYTES[p.dtype];
      let root = roots.get(p.key);
      if (!root) {
        root = new TorchStorage(p.key, p.dtype, p.numel * es, p.location);
        roots.set(p.key, root);
      } else if (root.dtype !== p.dtype) {
        fail(`storage "${p.key}" is described twice, differently`);
      }
      if (p.viewMetadata === null) return root;
      const vm = p.viewMetadata;
      if (!(vm instanceof PyTuple) || vm.items.length !== 3) fail(`storage view metadata is ${describe(vm)}, not (key, offset, size)`);
      const [, off, size] = (vm as PyTuple).items;
      if (typeof off !== 'number' || typeof size !== 'number' || off < 0 || size < 0 || (off + size) * es > root.nbytes) {
        fail(`storage view (${String(off)}, ${String(size)}) does not fit storage "${p.key}"`);
      }
      return new TorchStorage(p.key, p.dtype, (size as number) * es, p.location, (off as number) * es);
    },
  });
  const keys = unpickle(buf, { source: at('storage keys'), offset: obj.end, budget });
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw new Error(`${source}: legacy torch.save storage key list is ${describe(keys.value)}, not a list of str`);
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const data = new Map<string, Uint8Array>();
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const root = roots.get(key);
    if (!root) throw new Error(`${source}: legacy storage "${key}" is listed but no tensor uses it`);
    if (pos + 8 > buf.byteLength) throw new Error(`${source}: truncated: storage "${key}" size is missing at byte ${pos}`);
    const n = dv.getBigInt64(pos, true);
    const es = DTYPE_BYTES[root.dtype];
    if (n < 0n || n * BigInt(es) !== BigInt(root.nbytes)) {
      throw new Error(`${source}: legacy storage "${key}" has ${n} elements on disk but ${root.nbytes / es} in the pickle`);
    }
    pos += 8;
    if (pos + root.nbytes > buf.byteLength) {
      throw new Error(`${source}: truncated: storage "${key}" needs ${root.nbytes} bytes at ${pos}, the file has ${buf.byteLength - pos}`);
    }
    data.set(key, buf.subarray(pos, pos + root.nbytes));
    pos += root.nbytes;
  }
  const { root, entries } = stateDictOf(obj.value, source, budget);
  const tensors = new Map<string, RawTensor>();
  for (const [name, t] of entries) {
    const b = data.get(t.storage.key);
    if (!b) throw new Error(`${source}: tensor "${name}" uses storage "${t.storage.key}", which the file does not contain`);
    tensors.set(name, materialize(name, t, b, source, budget));
  }
  return { tensors, format: 'legacy', root };
}

/** nn.Module names are under 200 characters; a name past this is built to exhaust memory. */
export const MAX_NAME_CHARS = 4096;

/**
 * The state dict inside a loaded object: the top-level dict, or the dict under "model"/"state_dict".
 * Nested dicts and lists are flattened with dots (as nn.Module names are); values that are not
 * tensors (epoch numbers, names, hyper-parameters) are skipped.
 */
function stateDictOf(obj: unknown, source: string, budget: LoadBudget): { root: string; entries: [string, TorchTensor][] } {
  if (obj instanceof TorchTensor) throw new Error(`${source}: holds a single tensor, not a state dict`);
  if (!(obj instanceof Map)) throw new Error(`${source}: holds a ${describe(obj)}, not a state dict (a dict of tensors)`);
  let root = '';
  let sd: Map<unknown, unknown> = obj;
  for (const k of STATE_DICT_KEYS) {
    const v = obj.get(k);
    if (v instanceof Map) {
      root = k;
      sd = v;
      break;
    }
  }
  const entries: [string, TorchTensor][] = [];
  const names = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (v: unknown, name: string, depth: number): void => {
    if (v instanceof TorchTensor) {
      if (names.has(name)) throw new Error(`${source}: two tensors flatten to the same name "${name}"`);
      names.add(name);
      entries.push([name, v]);
      return;
    }
    const isList = Array.isArray(v) || v instanceof PyTuple;
    if (!(v instanceof Map) && !isList) return;
    if (seen.has(v)) return; // memo references can build cycles
    if (depth > 32) throw new Error(`${source}: "${name}" is nested more than 32 levels deep`);
    seen.add(v);
    const pre = name ? `${name}.` : '';
    // Each name is a new string as long as its whole path: a memoised 1 MB key reused at 30 levels
    // would flatten to 30 MB names. Names are capped and charged to the load budget before they exist.
    const child = (x: unknown, key: string): void => {
      if (!(x instanceof TorchTensor || x instanceof Map || x instanceof PyTuple || Array.isArray(x))) return;
      const len = pre.length + key.length;
      if (len > MAX_NAME_CHARS) {
        throw new Error(
          `${source}: a tensor name of ${len} characters at nesting level ${depth + 1} ("${(pre + key.slice(0, 40)).slice(0, 60)}..."), over the ${MAX_NAME_CHARS}-character limit: not a state dict a model writes`,
        );
      }
      budget.charge(2 * len + 32, `the tensor name at nesting level ${depth + 1}`);
      walk(x, pre + key, depth + 1);
    };
    if (v instanceof Map) {
      for (const [k, x] of v) {
        if (typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint') child(x, String(k));
      }
    } else {
      const items = v instanceof PyTuple ? v.items : (v as unknown[]);
      items.forEach((x, i) => {
        child(x, String(i));
      });
    }
  };
  walk(sd, '', 0);
  if (entries.length === 0) {
    const keys = [...sd.keys()].slice(0, 8).map((k) => (typeof k === 'string' ? k : describe(k)));
    throw new Error(`${source}: no tensors found${root ? ` under "${root}"` : ''} (keys: ${keys.join(', ') || 'none'})`);
  }
  return { root, entries };
}

function byteswap(b: Uint8Array, es: number): Uint8Array {
  if (es === 1) return b;
  const out = new Uint8Array(b.byteLength);
  for (let i = 0; i + es <= b.byteLength; i += es) {
    for (let j = 0; j < es; j++) out[i + j] = b[i + es - 1 - j];
  }
  return out;
}

/** A row-major copy of the view (or a view into `bytes` when it already is row-major). */
function materialize(name: string, t: TorchTensor, bytes: Uint8Array, source: string, budget: LoadBudget): RawTensor {
  const es = DTYPE_BYTES[t.dtype];
  const n = numel(t.shape);
  const shape = [...t.shape];
  if (n === 0) return { dtype: t.dtype, shape, data: new Uint8Array(0) };
  if (n * es > bufferConstants.MAX_LENGTH)
    throw new Error(`${source}: tensor "${name}" of size ${JSON.stringify(shape)} is too large to hold in memory`);
  // every view counts, copied or not: the engine copies each tensor it is given, so 40 views of one
  // 64 MB storage cost 2.5 GB there even when they cost nothing here
  budget.charge(n * es, `tensor "${name}" (${t.dtype} ${JSON.stringify(shape)})`);
  const base = t.storage.byteOffset + t.offset * es;
  let last = base;
  for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * t.stride[i] * es;
  if (last + es > bytes.byteLength) {
    throw new Error(`${source}: tensor "${name}" reaches byte ${last + es} of storage "${t.storage.key}", which holds ${bytes.byteLength}`);
  }
  let contiguous = true;
  for (let i = shape.length - 1, expect = 1; i >= 0; i--) {
    if (shape[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= shape[i];
  }
  if (contiguous) return { dtype: t.dtype, shape, data: bytes.subarray(base, base + n * es) };
  // stride-0 (expanded) views can describe huge tensors over a few bytes; a copy that dwarfs the
  // whole storage is a hostile or broken file, not a checkpoint
  if (n * es > 16 * t.storage.nbytes + (1 << 20)) {
    throw new Error(`${source}: tensor "${name}" expands ${t.storage.nbytes} storage bytes to ${n * es}: refusing to copy`);
  }
  const out = new Uint8Array(n * es);
  const nd = shape.length;
  const inner = shape[nd - 1];
  const innerStep = t.stride[nd - 1] * es;
  const idx = new Array<number>(nd).fill(0);
  let o = 0;
  for (let row = 0, rows = n / inner; row < rows; row++) {
    let src = base;
    for (let d = 0; d < nd - 1; d++) src += idx[d] * t.stride[d] * es;
    for (let j = 0; j < inner; j++, src += innerStep) {
      for (let b = 0; b < es; b++) out[o++] = bytes[src + b];
    }
    for (let d = nd - 2; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { dtype: t.dtype, shape, data: out };
}
