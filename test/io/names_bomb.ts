/**
 * A torch.save zip whose state dict nests `levels` dicts under one memoised key string and holds
 * `tensors` tensors at the bottom: the key is stored once (1 MB of file) but every flattened name
 * repeats it at every level (30 levels x 400 tensors of 30 MB names exhausted V8: issue #25).
 */
import { buildZip } from './zip_builder.js';

class Pickle {
  private parts: Buffer[] = [Buffer.from([0x80, 2])];
  op(...b: number[]): this {
    this.parts.push(Buffer.from(b));
    return this;
  }
  int(n: number): this {
    const b = Buffer.alloc(5);
    b[0] = 0x4a;
    b.writeInt32LE(n, 1);
    this.parts.push(b);
    return this;
  }
  str(s: string): this {
    const u = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0x58;
    h.writeUInt32LE(u.length, 1);
    this.parts.push(h, u);
    return this;
  }
  global(mod: string, name: string): this {
    this.parts.push(Buffer.from(`c${mod}\n${name}\n`, 'latin1'));
    return this;
  }
  bytes(): Buffer {
    return Buffer.concat([...this.parts, Buffer.from('.')]);
  }
}

const MARK = 0x28,
  TUPLE = 0x74,
  REDUCE = 0x52,
  EMPTY_DICT = 0x7d,
  SETITEM = 0x73,
  SETITEMS = 0x75,
  BINPUT = 0x71,
  BINGET = 0x68,
  POP = 0x30;

export function namesBombPth(keyChars: number, levels: number, tensors: number): Buffer {
  const pk = new Pickle();
  // one float tensor over storage "0", memoised as 1
  pk.global('torch._utils', '_rebuild_tensor_v2').op(MARK);
  pk.op(MARK).str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(1).op(TUPLE).op(0x51);
  pk.int(0).op(MARK).int(1).op(TUPLE).op(MARK).int(1).op(TUPLE).op(0x89).op(EMPTY_DICT).op(TUPLE).op(REDUCE).op(BINPUT, 1).op(POP);
  // {K: {K: ... {0: t, 1: t, ...}}} with K stored once, memoised as 0
  pk.op(EMPTY_DICT).str('k'.repeat(keyChars)).op(BINPUT, 0);
  for (let l = 1; l < levels; l++) pk.op(EMPTY_DICT).op(BINGET, 0);
  pk.op(EMPTY_DICT).op(MARK);
  for (let i = 0; i < tensors; i++) pk.int(i).op(BINGET, 1);
  pk.op(SETITEMS);
  for (let l = 0; l < levels; l++) pk.op(SETITEM);
  const data = Buffer.alloc(4);
  return buildZip([
    { name: 'archive/data.pkl', data: pk.bytes() },
    { name: 'archive/data/0', data },
  ]);
}
