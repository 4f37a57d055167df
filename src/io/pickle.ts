/**
 * A restricted unpickler with the discipline of `torch.load(weights_only=True)`: it understands the
 * opcodes of pickle protocols 2-5, but a GLOBAL resolves only through a fixed table of tensor-rebuild
 * functions, storage types, dtypes and plain containers (PyTorch's torch/_weights_only_unpickler.py
 * allow-list, less what has no meaning without Python). Nothing is ever imported or executed: the
 * "functions" below are TypeScript that builds descriptions of tensors. Any other global, INST/OBJ,
 * extension codes and out-of-band buffers are refused with an Error naming what was asked for.
 *
 * Every read is bounds-checked and every opcode consumes at least one byte, so garbage ends in an
 * Error after at most one pass over the input, never a hang, a crash or a runaway allocation.
 */
import { budgetFor, heapCost, type LoadBudget } from './budget.js';
import { NEWOBJ_CLASSES, resolveGlobal } from './pickle_globals.js';
import { describe, hashKey, printable, PyCallable, PyTuple, TorchTensor, type Fail } from './pickle_values.js';

export { parseStoragePid, type StoragePid } from './pickle_globals.js';
export { describe, PyComplex, PyTuple, TorchDtype, TorchStorage, TorchStorageType, TorchTensor } from './pickle_values.js';

export interface UnpickleOptions {
  /** names the input in errors (a file, or "file (entry)") */
  source?: string;
  /** where the pickle starts in `data` (several pickles may follow each other) */
  offset?: number;
  /**
   * BINPERSID handler; only ids that are tuples starting with "storage" reach it (the rest are
   * refused), and whatever it returns is what `_rebuild_tensor*` receive as their storage.
   */
  persistentLoad?: (pid: PyTuple, fail: Fail) => unknown;
  /**
   * Charged with what every call (REDUCE, NEWOBJ) builds: allowed callables such as builtins.set or
   * collections.OrderedDict copy their argument, and one memoised object can be passed to them again
   * and again. Default: a budget tied to the size of `data`.
   */
  budget?: LoadBudget;
}

export interface UnpickleResult {
  value: unknown;
  /** offset just past the STOP opcode */
  end: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4c: 'LONG',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x58: 'BINUNICODE',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x7d: 'EMPTY_DICT',
  0x65: 'APPENDS',
  0x67: 'GET',
  0x68: 'BINGET',
  0x69: 'INST',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x29: 'EMPTY_TUPLE',
  0x75: 'SETITEMS',
  0x47: 'BINFLOAT',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

class Unpickler {
  private pos: number;
  private opPos = 0;
  private op = 0;
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly dv: DataView;
  private readonly source: string;
  private readonly budget: LoadBudget;
  readonly fail: Fail;

  constructor(
    private readonly data: Uint8Array,
    private readonly opts: UnpickleOptions,
  ) {
    this.pos = opts.offset ?? 0;
    this.dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.source = opts.source ?? 'pickle';
    this.budget = opts.budget ?? budgetFor(this.source, data.byteLength);
    this.fail = (msg: string): never => {
      if (this.op < 0) throw new Error(`${this.source}: ${msg} (at byte ${this.opPos})`);
      const name = OPCODE_NAMES[this.op] ?? `0x${this.op.toString(16).padStart(2, '0')}`;
      throw new Error(`${this.source}: ${msg} (pickle opcode ${name} at byte ${this.opPos})`);
    };
  }

  private need(n: number): number {
    if (!(n >= 0) || this.pos + n > this.data.byteLength) {
      this.fail(`truncated: needs ${n} more bytes but ${this.data.byteLength - this.pos} remain`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.data.subarray(at, at + n);
  }

  private readline(): string {
    const nl = this.data.indexOf(0x0a, this.pos);
    if (nl < 0) this.fail('truncated: a text argument has no end of line');
    const line = this.data.subarray(this.pos, nl);
    this.pos = nl + 1;
    return this.text(line);
  }

  private text(b: Uint8Array): string {
    try {
      return utf8.decode(b);
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }

  private u64len(): number {
    const at = this.need(8);
    const n = this.dv.getBigUint64(at, true);
    if (n > BigInt(this.data.byteLength)) this.fail(`length ${n} is larger than the whole input`);
    return Number(n);
  }

  private pop(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow (corrupt pickle)');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow (corrupt pickle)');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (prev === undefined) this.fail('no MARK to pop to (corrupt pickle)');
    this.stack = prev!;
    return items;
  }

  private memoGet(i: number): unknown {
    if (!this.memo.has(i)) this.fail(`memo entry ${i} was never stored (corrupt pickle)`);
    return this.memo.get(i);
  }

  private memoPut(i: number): void {
    if (i < 0) this.fail('negative memo index');
    this.memo.set(i, this.top());
  }

  private int(v: bigint): number | bigint {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** Two's complement little-endian, as pickle's LONG1/LONG4 store it. */
  private decodeLong(b: Uint8Array): number | bigint {
    if (b.length === 0) return 0;
    // no size, offset or magic number needs more; huge ones only cost time (decimal printing is quadratic)
    if (b.length > 64) this.fail(`a ${b.length}-byte integer is not something a checkpoint holds`);
    let hexs = '';
    for (let i = b.length - 1; i >= 0; i--) hexs += b[i].toString(16).padStart(2, '0');
    let v = BigInt(`0x${hexs}`);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return this.int(v);
  }

  private parseTextInt(s: string): number | bigint | boolean {
    if (s === '00') return false;
    if (s === '01') return true;
    const t = s.endsWith('L') ? s.slice(0, -1) : s;
    if (!/^[+-]?\d{1,40}$/.test(t)) this.fail(`${JSON.stringify(printable(s))} is not an integer`);
    return this.int(BigInt(t));
  }

  private call(fn: unknown, args: unknown, how: 'REDUCE' | 'NEWOBJ'): unknown {
    if (!(fn instanceof PyCallable)) return this.fail(`${how} on ${describe(fn)}, which is not an allowed callable`);
    if (how === 'NEWOBJ' && !NEWOBJ_CLASSES.has(fn.path)) return this.fail(`NEWOBJ of ${fn.path} is not allowed`);
    if (!(args instanceof PyTuple)) return this.fail(`${how} arguments are ${describe(args)}, not a tuple`);
    const out = fn.call(args.items, this.fail);
    const cost = out instanceof PyTuple ? 16 * out.items.length + 32 : heapCost(out);
    this.budget.charge(cost, `pickle ${how} of ${fn.path} at byte ${this.opPos}`);
    return out;
  }

  private build(): void {
    const state = this.pop();
    const inst = this.top();
    if (inst instanceof Map) return; // OrderedDict attributes such as _metadata: not part of the data
    if (inst instanceof TorchTensor) {
      const empty = state === null || (state instanceof Map && state.size === 0) || (state instanceof PyTuple && state.items.length === 0);
      if (empty) return;
      // Parameter/Tensor python attributes arrive as (dict, slots) tuples: harmless, and unused
      if (state instanceof PyTuple && state.items.every((x) => x === null || x instanceof Map)) return;
    }
    this.fail(`BUILD on ${describe(inst)} is not allowed`);
  }

  run(): UnpickleResult {
    const d = this.data;
    const dv = this.dv;
    for (;;) {
      this.opPos = this.pos;
      if (this.pos >= d.byteLength) {
        this.op = -1;
        this.fail('truncated: input ends before the STOP opcode');
      }
      const op = d[this.pos++];
      this.op = op;
      switch (op) {
        case 0x80: {
          // PROTO
          const p = d[this.need(1)];
          if (p > 5) this.fail(`unsupported pickle protocol ${p}`);
          break;
        }
        case 0x95: // FRAME: a length hint only
          this.u64len();
          break;
        case 0x2e: {
          // STOP
          const value = this.pop();
          return { value, end: this.pos };
        }
        // --- constants
        case 0x4e:
          this.stack.push(null);
          break;
        case 0x88:
          this.stack.push(true);
          break;
        case 0x89:
          this.stack.push(false);
          break;
        case 0x4a:
          this.stack.push(dv.getInt32(this.need(4), true));
          break;
        case 0x4b:
          this.stack.push(d[this.need(1)]);
          break;
        case 0x4d:
          this.stack.push(dv.getUint16(this.need(2), true));
          break;
        case 0x8a:
          this.stack.push(this.decodeLong(this.bytes(d[this.need(1)])));
          break;
        case 0x8b: {
          const n = dv.getInt32(this.need(4), true);
          if (n < 0) this.fail('negative LONG4 length');
          this.stack.push(this.decodeLong(this.bytes(n)));
          break;
        }
        case 0x47:
          this.stack.push(dv.getFloat64(this.need(8), false));
          break;
        case 0x49:
          this.stack.push(this.parseTextInt(this.readline()));
          break;
        case 0x4c:
          this.stack.push(this.parseTextInt(this.readline()));
          break;
        case 0x46: {
          const s = this.readline().trim();
          const f = Number(s);
          if (s === '' || (Number.isNaN(f) && !/^[+-]?nan$/i.test(s))) this.fail(`${JSON.stringify(printable(s))} is not a float`);
          this.stack.push(f);
          break;
        }
        // --- strings and bytes
        case 0x58:
          this.stack.push(this.text(this.bytes(dv.getUint32(this.need(4), true))));
          break;
        case 0x8c:
          this.stack.push(this.text(this.bytes(d[this.need(1)])));
          break;
        case 0x8d:
          this.stack.push(this.text(this.bytes(this.u64len())));
          break;
        case 0x55: // SHORT_BINSTRING / BINSTRING: Python 2 str; keys are ASCII in practice
        case 0x54: {
          let n: number;
          if (op === 0x55) n = d[this.need(1)];
          else {
            n = dv.getInt32(this.need(4), true);
            if (n < 0) this.fail('negative BINSTRING length');
          }
          const b = this.bytes(n);
          let s: string;
          try {
            s = utf8.decode(b);
          } catch {
            s = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
          }
          this.stack.push(s);
          break;
        }
        case 0x43:
          this.stack.push(new Uint8Array(this.bytes(d[this.need(1)])));
          break;
        case 0x42:
          this.stack.push(new Uint8Array(this.bytes(dv.getUint32(this.need(4), true))));
          break;
        case 0x8e:
          this.stack.push(new Uint8Array(this.bytes(this.u64len())));
          break;
        case 0x96:
          this.stack.push(new Uint8Array(this.bytes(this.u64len())));
          break;
        case 0x97:
          return this.fail('out-of-band buffers (NEXT_BUFFER) are not supported');
        case 0x98:
          this.top();
          break; // READONLY_BUFFER: no-op on what is there
        // --- containers
        case 0x29:
          this.stack.push(new PyTuple([]));
          break;
        case 0x5d:
          this.stack.push([]);
          break;
        case 0x7d:
          this.stack.push(new Map());
          break;
        case 0x8f:
          this.stack.push(new Set());
          break;
        case 0x28: // MARK
          this.metastack.push(this.stack);
          this.stack = [];
          break;
        case 0x74: {
          // TUPLE (pop first: push must go to the stack below the mark)
          const t = new PyTuple(this.popMark());
          this.stack.push(t);
          break;
        }
        case 0x85:
          this.stack.push(new PyTuple([this.pop()]));
          break;
        case 0x86: {
          const b = this.pop();
          const a = this.pop();
          this.stack.push(new PyTuple([a, b]));
          break;
        }
        case 0x87: {
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.stack.push(new PyTuple([a, b, c]));
          break;
        }
        case 0x6c: {
          // LIST
          const l = this.popMark();
          this.stack.push(l);
          break;
        }
        case 0x64: {
          const items = this.popMark();
          if (items.length % 2) this.fail('DICT with an odd number of items');
          const m = new Map<unknown, unknown>();
          for (let i = 0; i < items.length; i += 2) m.set(hashKey(items[i], this.fail), items[i + 1]);
          this.stack.push(m);
          break;
        }
        case 0x91: {
          const items = this.popMark();
          this.stack.push(new Set(items.map((x) => hashKey(x, this.fail))));
          break;
        }
        case 0x61: {
          // APPEND
          const item = this.pop();
          const list = this.top();
          if (!Array.isArray(list)) this.fail(`APPEND to ${describe(list)}: only lists can be appended to`);
          (list as unknown[]).push(item);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          const list = this.top();
          if (!Array.isArray(list)) this.fail(`APPENDS to ${describe(list)}: only lists can be appended to`);
          for (const x of items) (list as unknown[]).push(x);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = this.pop();
          const k = this.pop();
          const m = this.top();
          if (!(m instanceof Map)) this.fail(`SETITEM on ${describe(m)}: only dicts take items`);
          (m as Map<unknown, unknown>).set(hashKey(k, this.fail), v);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          const m = this.top();
          if (!(m instanceof Map)) this.fail(`SETITEMS on ${describe(m)}: only dicts take items`);
          if (items.length % 2) this.fail('SETITEMS with an odd number of items');
          for (let i = 0; i < items.length; i += 2) (m as Map<unknown, unknown>).set(hashKey(items[i], this.fail), items[i + 1]);
          break;
        }
        case 0x90: {
          // ADDITEMS
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof Set)) this.fail(`ADDITEMS on ${describe(s)}: only sets take items`);
          for (const x of items) (s as Set<unknown>).add(hashKey(x, this.fail));
          break;
        }
        // --- stack and memo
        case 0x30: // POP
          if (this.stack.length) this.stack.pop();
          else this.popMark();
          break;
        case 0x31:
          this.popMark();
          break;
        case 0x32:
          this.stack.push(this.top());
          break;
        case 0x68:
          this.stack.push(this.memoGet(d[this.need(1)]));
          break;
        case 0x6a:
          this.stack.push(this.memoGet(dv.getUint32(this.need(4), true)));
          break;
        case 0x67:
          this.stack.push(this.memoGet(this.textIndex()));
          break;
        case 0x71:
          this.memoPut(d[this.need(1)]);
          break;
        case 0x72:
          this.memoPut(dv.getUint32(this.need(4), true));
          break;
        case 0x70:
          this.memoPut(this.textIndex());
          break;
        case 0x94:
          this.memoPut(this.memo.size);
          break;
        // --- the risky ones: globals, calls, persistent ids
        case 0x63: {
          // GLOBAL
          const module = this.readline();
          const name = this.readline();
          this.stack.push(resolveGlobal(module, name, this.fail));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two str');
          this.stack.push(resolveGlobal(module as string, name as string, this.fail));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const fn = this.pop();
          this.stack.push(this.call(fn, args, 'REDUCE'));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          this.stack.push(this.call(cls, args, 'NEWOBJ'));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof Map) || kwargs.size) this.fail('NEWOBJ_EX with keyword arguments is not allowed');
          this.stack.push(this.call(cls, args, 'NEWOBJ'));
          break;
        }
        case 0x62:
          this.build();
          break;
        case 0x51: {
          // BINPERSID
          const pid = this.pop();
          this.stack.push(this.persistent(pid));
          break;
        }
        case 0x50:
          return this.fail('text persistent ids (PERSID) are not allowed; torch writes storages as tuples');
        case 0x69:
        case 0x6f:
          return this.fail(`${OPCODE_NAMES[op]} builds arbitrary objects and is not allowed`);
        case 0x82:
        case 0x83:
        case 0x84:
          return this.fail('extension registry codes (EXT1/2/4) are not allowed');
        case 0x53:
        case 0x56:
          return this.fail('protocol-0 quoted strings are not supported (torch.save writes protocol 2 or later)');
        default:
          return this.fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} (not a pickle, or a corrupt one)`);
      }
    }
  }

  private textIndex(): number {
    const s = this.readline();
    if (!/^\d{1,15}$/.test(s)) this.fail(`memo index ${JSON.stringify(printable(s))} is not a number`);
    return Number(s);
  }

  private persistent(pid: unknown): unknown {
    if (!(pid instanceof PyTuple)) return this.fail(`persistent id is ${describe(pid)}; only storage tuples are allowed`);
    const tag = pid.items[0];
    const tagStr = tag instanceof Uint8Array ? Buffer.from(tag).toString('latin1') : tag;
    if (tagStr !== 'storage')
      return this.fail(
        `only persistent ids of storages are allowed, found ${describe(tag)} ${typeof tagStr === 'string' ? JSON.stringify(printable(tagStr)) : ''}`.trimEnd(),
      );
    if (!this.opts.persistentLoad) return this.fail('this pickle refers to tensor storages outside it, but none are available');
    return this.opts.persistentLoad(pid, this.fail);
  }
}

/** Unpickle one pickle from `data` (at `opts.offset`), under the weights-only rules above. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions = {}): UnpickleResult {
  return new Unpickler(data, opts).run();
}
