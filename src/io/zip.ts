/**
 * A minimal ZIP reader: enough for what `torch.save` writes (stored entries, 64-byte aligned through
 * padding in the local extra field, data descriptors, ZIP64 past 4 GB) and for zips re-packed by
 * other tools (deflate). Every offset and size is checked against the file before it is used, so a
 * truncated or lying archive is an Error naming the file and the problem, never a read past the end.
 *
 * The archive is read through `pread`, never as one Buffer: checkpoints may be larger than the
 * biggest Buffer Node allows, and only the entries asked for are loaded.
 */
import { closeSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { openRegular, preadExact } from '../util/fs.js';
import { budgetFor, type LoadBudget } from './budget.js';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate */
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

/** Where the archive bytes come from: a file (read on demand) or a buffer already in memory. */
interface ByteSource {
  size: number;
  /** exactly `length` bytes at `offset`, or an Error */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;

/** The first four bytes of a zip that holds at least one entry. */
export function isZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

function fileSource(path: string): ByteSource {
  // regular files only: a FIFO would hang the open, /dev/zero would look like an endless archive
  const { fd, size } = openRegular(path, 'zip archive');
  return {
    size,
    read(offset, length) {
      return preadExact(fd, path, offset, length);
    },
    close() {
      closeSync(fd);
    },
  };
}

function bufferSource(buf: Uint8Array, source: string): ByteSource {
  return {
    size: buf.byteLength,
    read(offset, length) {
      if (offset + length > buf.byteLength) throw new Error(`${source}: unexpected end of data at byte ${buf.byteLength} (truncated)`);
      return buf.subarray(offset, offset + length);
    },
    close() {},
  };
}

let crcTable: Uint32Array | undefined;
/** zlib.crc32 appeared in Node 20.15; the table version keeps older 20.x working. */
export function crc32(data: Uint8Array): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
  if (typeof native === 'function') return native(data) >>> 0;
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export class ZipReader {
  readonly entries: ZipEntry[];
  private readonly byName = new Map<string, ZipEntry>();
  private closed = false;

  /** charged with every entry read (stored or inflated): a deflate bomb is refused before it inflates */
  readonly budget: LoadBudget;

  private constructor(
    readonly source: string,
    private readonly bytes: ByteSource,
    budget?: LoadBudget,
  ) {
    this.budget = budget ?? budgetFor(source, bytes.size);
    try {
      this.entries = this.readCentralDirectory();
    } catch (e) {
      bytes.close();
      throw e;
    }
    for (const e of this.entries) {
      if (this.byName.has(e.name)) {
        bytes.close();
        this.fail(`entry "${e.name}" appears twice`);
      }
      this.byName.set(e.name, e);
    }
  }

  /** Open a zip file; the caller closes it (`close()`), reads go through the file descriptor. */
  static open(path: string, budget?: LoadBudget): ZipReader {
    return new ZipReader(path, fileSource(path), budget);
  }

  /** A zip already in memory; entries read from it are views, not copies, when stored. */
  static fromBuffer(buf: Uint8Array, source: string, budget?: LoadBudget): ZipReader {
    return new ZipReader(source, bufferSource(buf, source), budget);
  }

  get size(): number {
    return this.bytes.size;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      this.bytes.close();
    }
  }

  /** The entry's uncompressed bytes, CRC-checked. */
  read(name: string): Uint8Array {
    const e = this.byName.get(name);
    if (!e) this.fail(`no entry "${name}"`);
    return this.readEntry(e!);
  }

  readEntry(e: ZipEntry): Uint8Array {
    if (this.closed) this.fail('read after close');
    const where = `entry "${e.name}"`;
    if (e.flags & 1) this.fail(`${where} is encrypted`);
    if (e.method !== 0 && e.method !== 8) this.fail(`${where} uses compression method ${e.method} (only stored and deflate are supported)`);
    if (e.uncompressedSize > bufferConstants.MAX_LENGTH)
      this.fail(`${where} is ${e.uncompressedSize} bytes, larger than this Node can hold in memory`);
    const start = this.dataStart(e);
    this.budget.charge(
      e.uncompressedSize,
      `zip ${where} (${e.uncompressedSize} bytes${e.method === 8 ? ` inflated from ${e.compressedSize}` : ''})`,
    );
    const raw = this.bytes.read(start, e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) {
      if (e.compressedSize !== e.uncompressedSize) {
        this.fail(`${where} is stored but its sizes differ (${e.compressedSize} vs ${e.uncompressedSize})`);
      }
      data = raw;
    } else {
      try {
        data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.uncompressedSize) });
      } catch (err) {
        return this.fail(
          `${where}: deflate data is corrupt or larger than its declared ${e.uncompressedSize} bytes (${(err as Error).message})`,
        );
      }
      if (data.byteLength !== e.uncompressedSize) {
        this.fail(`${where} inflates to ${data.byteLength} bytes, not the declared ${e.uncompressedSize}`);
      }
    }
    const crc = crc32(data);
    if (crc !== e.crc32) {
      this.fail(`${where} is corrupt: CRC-32 ${hex(crc)} does not match the recorded ${hex(e.crc32)}`);
    }
    return data;
  }

  private fail(msg: string): never {
    throw new Error(`${this.source}: not a valid zip file: ${msg}`);
  }

  /** Offset of the entry's data, from its local header (whose extra field may differ from the central one). */
  private dataStart(e: ZipEntry): number {
    const where = `entry "${e.name}"`;
    if (e.localHeaderOffset + LOCAL_SIZE > this.bytes.size)
      this.fail(`${where}: local header at ${e.localHeaderOffset} lies past the end of the file`);
    const h = view(this.bytes.read(e.localHeaderOffset, LOCAL_SIZE));
    if (h.getUint32(0, true) !== SIG_LOCAL) this.fail(`${where}: no local header signature at byte ${e.localHeaderOffset}`);
    const method = h.getUint16(8, true);
    if (method !== e.method) this.fail(`${where}: local header says method ${method}, central directory says ${e.method}`);
    const nameLen = h.getUint16(26, true);
    const extraLen = h.getUint16(28, true);
    const start = e.localHeaderOffset + LOCAL_SIZE + nameLen + extraLen;
    if (start + e.compressedSize > this.bytes.size) {
      this.fail(`${where}: ${e.compressedSize} data bytes at ${start} run past the end of the file (${this.bytes.size} bytes; truncated?)`);
    }
    const localName = decodeName(this.bytes.read(e.localHeaderOffset + LOCAL_SIZE, nameLen), h.getUint16(6, true));
    if (localName !== e.name) this.fail(`${where}: local header names it "${localName}"`);
    return start;
  }

  private readCentralDirectory(): ZipEntry[] {
    const size = this.bytes.size;
    if (size < EOCD_SIZE) this.fail(`file is ${size} bytes, too short for an end-of-central-directory record`);
    const tailLen = Math.min(size, EOCD_SIZE + MAX_COMMENT);
    const tailStart = size - tailLen;
    const tail = this.bytes.read(tailStart, tailLen);
    const tv = view(tail);
    let eocd = -1;
    // the comment may hold the signature by chance: prefer a record whose comment ends the file exactly
    for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
      if (tv.getUint32(i, true) !== SIG_EOCD) continue;
      const commentLen = tv.getUint16(i + 20, true);
      if (i + EOCD_SIZE + commentLen === tailLen) {
        eocd = i;
        break;
      }
      if (eocd < 0 && i + EOCD_SIZE + commentLen <= tailLen) eocd = i;
    }
    if (eocd < 0) this.fail('no end-of-central-directory record (truncated, or not a zip)');
    const eocdPos = tailStart + eocd;
    const disk = tv.getUint16(eocd + 4, true);
    const cdDisk = tv.getUint16(eocd + 6, true);
    let count: number = tv.getUint16(eocd + 10, true);
    let cdSize: number = tv.getUint32(eocd + 12, true);
    let cdOffset: number = tv.getUint32(eocd + 16, true);
    let cdEnd = eocdPos;
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const locPos = eocdPos - 20;
      if (locPos < 0) this.fail('ZIP64 markers but no room for a ZIP64 locator');
      const loc = view(this.bytes.read(locPos, 20));
      if (loc.getUint32(0, true) !== SIG_ZIP64_LOCATOR) this.fail('ZIP64 markers but no ZIP64 end-of-central-directory locator');
      const z64Pos = u64(loc, 8, 'ZIP64 record offset', (m) => this.fail(m));
      if (z64Pos + 56 > locPos) this.fail(`ZIP64 end-of-central-directory record offset ${z64Pos} is out of range`);
      const z = view(this.bytes.read(z64Pos, 56));
      if (z.getUint32(0, true) !== SIG_ZIP64_EOCD) this.fail(`no ZIP64 end-of-central-directory record at byte ${z64Pos}`);
      if (z.getUint32(16, true) !== 0 || z.getUint32(20, true) !== 0) this.fail('multi-disk archives are not supported');
      count = u64(z, 32, 'entry count', (m) => this.fail(m));
      cdSize = u64(z, 40, 'central directory size', (m) => this.fail(m));
      cdOffset = u64(z, 48, 'central directory offset', (m) => this.fail(m));
      cdEnd = z64Pos;
    } else if (disk !== 0 || cdDisk !== 0) {
      this.fail('multi-disk archives are not supported');
    }
    if (cdOffset + cdSize > cdEnd) {
      this.fail(`central directory (${cdSize} bytes at ${cdOffset}) runs past its end record at ${cdEnd} (truncated?)`);
    }
    if (count * CENTRAL_SIZE > cdSize) this.fail(`${count} entries cannot fit in a ${cdSize}-byte central directory`);
    const cd = this.bytes.read(cdOffset, cdSize);
    const cv = view(cd);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + CENTRAL_SIZE > cdSize) this.fail(`central directory entry ${i} runs past the directory`);
      if (cv.getUint32(p, true) !== SIG_CENTRAL) this.fail(`central directory entry ${i}: bad signature`);
      const flags = cv.getUint16(p + 8, true);
      const method = cv.getUint16(p + 10, true);
      const crc = cv.getUint32(p + 16, true);
      let compressedSize: number = cv.getUint32(p + 20, true);
      let uncompressedSize: number = cv.getUint32(p + 24, true);
      const nameLen = cv.getUint16(p + 28, true);
      const extraLen = cv.getUint16(p + 30, true);
      const commentLen = cv.getUint16(p + 32, true);
      const diskStart = cv.getUint16(p + 34, true);
      let localHeaderOffset: number = cv.getUint32(p + 42, true);
      const varEnd = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
      if (varEnd > cdSize) this.fail(`central directory entry ${i}: name/extra/comment run past the directory`);
      const name = decodeName(cd.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen), flags);
      // ZIP64 extended information: only the fields saturated in the fixed record are present, in this order
      const needU = uncompressedSize === 0xffffffff;
      const needC = compressedSize === 0xffffffff;
      const needO = localHeaderOffset === 0xffffffff;
      if (needU || needC || needO) {
        let found = false;
        let q = p + CENTRAL_SIZE + nameLen;
        const extraEnd = q + extraLen;
        while (q + 4 <= extraEnd) {
          const id = cv.getUint16(q, true);
          const len = cv.getUint16(q + 2, true);
          if (q + 4 + len > extraEnd) this.fail(`entry "${name}": extra field runs past its end`);
          if (id === 0x0001) {
            let r = q + 4;
            const take = (what: string): number => {
              if (r + 8 > q + 4 + len) this.fail(`entry "${name}": ZIP64 extra field is too short for the ${what}`);
              const v = u64(cv, r, `entry "${name}" ${what}`, (m) => this.fail(m));
              r += 8;
              return v;
            };
            if (needU) uncompressedSize = take('uncompressed size');
            if (needC) compressedSize = take('compressed size');
            if (needO) localHeaderOffset = take('local header offset');
            found = true;
            break;
          }
          q += 4 + len;
        }
        if (!found) this.fail(`entry "${name}": sizes are saturated but there is no ZIP64 extra field`);
      }
      if (diskStart !== 0 && diskStart !== 0xffff) this.fail(`entry "${name}" starts on disk ${diskStart}`);
      if (localHeaderOffset + LOCAL_SIZE + compressedSize > cdOffset) {
        this.fail(
          `entry "${name}": ${compressedSize} bytes at ${localHeaderOffset} overlap the central directory at ${cdOffset} (truncated or corrupt)`,
        );
      }
      entries.push({ name, method, flags, crc32: crc, compressedSize, uncompressedSize, localHeaderOffset });
      p = varEnd;
    }
    return entries;
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(v: DataView, at: number, what: string, fail: (m: string) => never): number {
  const x = v.getBigUint64(at, true);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${x} is out of range`);
  return Number(x);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** Bit 11 says UTF-8; otherwise the name is CP437, which for the ASCII names torch writes is latin1. */
function decodeName(b: Uint8Array, flags: number): string {
  if (flags & 0x800) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      /* fall through: a wrong flag is no reason to reject the archive */
    }
  }
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}
