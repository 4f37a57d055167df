/**
 * Reads a dataset's object header straight from the HDF5 file to find the "External Data Files"
 * message (type 7): a dataset stored that way keeps its samples in other host files, which the
 * library opens and reads (relative to the working directory) as if they were this file's data.
 * h5wasm exposes neither the layout nor the external file list, only the object's address (an
 * object reference), so the header's messages are walked here: version 1 headers and version 2
 * ("OHDR") ones, with their continuation blocks. Format: the HDF5 File Format Specification,
 * sections II.B (superblock), III.C (object headers), IV.A.2.g (External Data Files).
 */
import { closeSync } from 'node:fs';
import { openRegular, preadExact } from '../util/fs.js';

const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
const MSG_EXTERNAL_FILES = 0x07;
const MSG_CONTINUATION = 0x10;
/** a header spread over more blocks or bytes than this is refused rather than walked (a loop or a bomb) */
const MAX_BLOCKS = 256;
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

interface Geometry {
  /** absolute file position of address 0 */
  base: number;
  offsetSize: number;
  lengthSize: number;
}

class HeaderReader {
  constructor(
    readonly fd: number,
    readonly path: string,
    readonly size: number,
    readonly where: string,
  ) {}

  fail(why: string): never {
    throw new Error(`${this.path}: ${this.where}: cannot read its object header (${why}): refused`);
  }

  /** `n` bytes at absolute position `pos`, inside the file or an Error. */
  bytes(pos: number, n: number): Buffer {
    if (!Number.isSafeInteger(pos) || pos < 0 || n < 0 || pos + n > this.size)
      this.fail(`${n} bytes at ${pos} lie outside the file's ${this.size} bytes`);
    return preadExact(this.fd, this.path, pos, n);
  }
}

/** Little-endian unsigned integer of 1-8 bytes; null for the "undefined address" (all bits set). */
function uint(b: Buffer, at: number, n: number): number | null {
  let v = 0n;
  let ones = true;
  for (let i = n - 1; i >= 0; i--) {
    const byte = b[at + i]!;
    if (byte !== 0xff) ones = false;
    v = (v << 8n) | BigInt(byte);
  }
  if (ones) return null;
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

function geometry(r: HeaderReader): Geometry {
  let sig = -1;
  for (let off = 0; off + 8 <= r.size; off = off === 0 ? 512 : off * 2) {
    if (r.bytes(off, 8).equals(SIGNATURE)) {
      sig = off;
      break;
    }
  }
  if (sig < 0) r.fail('no HDF5 signature');
  const sb = r.bytes(sig, Math.min(48, r.size - sig));
  const version = sb[8]!;
  let offsetSize: number;
  let lengthSize: number;
  let baseAt: number;
  if (version === 0 || version === 1) [offsetSize, lengthSize, baseAt] = [sb[13]!, sb[14]!, version === 0 ? 24 : 28];
  else if (version === 2 || version === 3) [offsetSize, lengthSize, baseAt] = [sb[9]!, sb[10]!, 12];
  else r.fail(`superblock version ${version}`);
  if (![2, 4, 8].includes(offsetSize) || ![2, 4, 8].includes(lengthSize)) r.fail(`offset size ${offsetSize}, length size ${lengthSize}`);
  if (baseAt + offsetSize > sb.length) r.fail('superblock cut short');
  return { base: uint(sb, baseAt, offsetSize) ?? 0, offsetSize, lengthSize };
}

interface Message {
  type: number;
  body: Buffer;
}

/** Every message of the header at absolute position `pos`, continuation blocks included. */
function headerMessages(r: HeaderReader, g: Geometry, pos: number): Message[] {
  const out: Message[] = [];
  const first = r.bytes(pos, 16);
  const v2 = first.subarray(0, 4).toString('latin1') === 'OHDR';
  const blocks: [number, number][] = [];
  if (v2) {
    if (first[4] !== 2) r.fail(`OHDR version ${first[4]}`);
    const flags = first[5]!;
    let at = 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
    const width = 1 << (flags & 3);
    const chunk0 = uint(r.bytes(pos + at, width), 0, width) ?? -1;
    at += width;
    blocks.push([pos + at, chunk0]);
  } else {
    if (first[0] !== 1) r.fail(`object header version ${first[0]}`);
    blocks.push([pos + 16, uint(first, 8, 4) ?? -1]);
  }
  const seen = new Set<number>();
  let total = 0;
  for (let k = 0; k < blocks.length; k++) {
    if (k >= MAX_BLOCKS) r.fail(`more than ${MAX_BLOCKS} header blocks`);
    const [start, len] = blocks[k]!;
    if (seen.has(start)) r.fail(`header block at ${start} is linked twice`);
    seen.add(start);
    total += len;
    if (total > MAX_HEADER_BYTES) r.fail(`header blocks of more than ${MAX_HEADER_BYTES} bytes`);
    const block = r.bytes(start, len);
    // v2 continuation blocks start with "OCHK"; v2 blocks end with a 4-byte checksum
    let at = v2 && k > 0 ? 4 : 0;
    if (v2 && k > 0 && block.subarray(0, 4).toString('latin1') !== 'OCHK') r.fail(`no OCHK signature at ${start}`);
    const end = v2 ? len - (k > 0 ? 4 : 0) : len;
    const creationOrder = v2 && first[5]! & 0x04 ? 2 : 0;
    const head = v2 ? 4 + creationOrder : 8;
    while (at + head <= end) {
      const type = v2 ? block[at]! : block.readUInt16LE(at);
      const size = v2 ? block.readUInt16LE(at + 1) : block.readUInt16LE(at + 2);
      const body0 = at + head;
      if (body0 + size > end) r.fail(`message of ${size} bytes runs past its header block`);
      const body = block.subarray(body0, body0 + size);
      out.push({ type, body });
      if (type === MSG_CONTINUATION) {
        if (size < g.offsetSize + g.lengthSize) r.fail('continuation message cut short');
        const addr = uint(body, 0, g.offsetSize);
        const n = uint(body, g.offsetSize, g.lengthSize);
        if (addr !== null && n !== null) blocks.push([g.base + addr, n]);
      }
      at = body0 + size;
    }
  }
  return out;
}

/** The file names an External Data Files message lists, read from its local heap (best effort). */
function externalNames(r: HeaderReader, g: Geometry, body: Buffer): string[] {
  try {
    const O = g.offsetSize;
    const L = g.lengthSize;
    const used = body.readUInt16LE(6);
    const heapAddr = uint(body, 8, O);
    if (heapAddr === null) return [];
    const heap = r.bytes(g.base + heapAddr, 8 + 2 * L + O);
    if (heap.subarray(0, 4).toString('latin1') !== 'HEAP') return [];
    const data = uint(heap, 8 + 2 * L, O);
    if (data === null) return [];
    const names: string[] = [];
    for (let i = 0; i < Math.min(used, 3); i++) {
      const nameOff = uint(body, 8 + O + i * 3 * L, L);
      if (nameOff === null) continue;
      const pos = g.base + data + nameOff;
      const raw = r.bytes(pos, Math.min(256, r.size - pos));
      const nul = raw.indexOf(0);
      names.push(raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8'));
    }
    return names;
  } catch {
    return [];
  }
}

/**
 * Throws when the dataset whose object header sits at `address` (relative to the file's base
 * address: what an HDF5 object reference holds) stores its data in external files, or when its
 * header cannot be read (a header this reader cannot follow is refused, not trusted).
 */
export function refuseExternalStorage(path: string, dataset: string, address: number): void {
  const where = `dataset ${JSON.stringify(dataset)}`;
  const { fd, size } = openRegular(path, 'HDF5 file');
  try {
    const r = new HeaderReader(fd, path, size, where);
    const g = geometry(r);
    for (const m of headerMessages(r, g, g.base + address)) {
      if (m.type !== MSG_EXTERNAL_FILES) continue;
      const names = externalNames(r, g, m.body);
      const files = names.length ? ` (${names.map((n) => JSON.stringify(n)).join(', ')})` : '';
      throw new Error(
        `${path}: ${where} uses external storage: its samples live in other files${files}: refused (the audio must be stored in this file)`,
      );
    }
  } finally {
    closeSync(fd);
  }
}

/** The object address an h5wasm object reference (hobj_ref_t: a little-endian haddr_t) holds. */
export function referenceAddress(path: string, dataset: string, ref: ArrayLike<number>): number {
  // h5wasm types it as a Uint8Array but hands over a plain array of byte values
  const b = Buffer.from(Array.from(ref));
  const a = b.length === 8 ? uint(b, 0, 8) : null;
  if (a === null)
    throw new Error(`${path}: dataset ${JSON.stringify(dataset)}: cannot locate its object header (reference of ${b.length} bytes)`);
  return a;
}
