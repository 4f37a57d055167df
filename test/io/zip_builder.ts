/** A small zip writer for tests: stored or deflated entries, optional ZIP64 records and padding. */
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../src/io/zip.js';

export interface BuildEntry {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** bytes of padding in the local extra field (torch aligns data to 64 bytes this way) */
  pad?: number;
  /** set bit 3 and leave sizes/CRC in the local header as zero, as torch's writer does */
  descriptor?: boolean;
}

export interface BuildOptions {
  /** write ZIP64 central records (saturated 32-bit fields + extra) and the ZIP64 end records */
  zip64?: boolean;
  comment?: string;
}

export function buildZip(entries: BuildEntry[], opts: BuildOptions = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.deflate ? deflateRawSync(e.data) : Buffer.from(e.data);
    const crc = crc32(e.data);
    const method = e.deflate ? 8 : 0;
    const flags = 0x800 | (e.descriptor ? 8 : 0);
    const pad = e.pad ?? 0;
    const localExtra = Buffer.alloc(pad ? pad + 4 : 0);
    if (pad) {
      localExtra.writeUInt16LE(0x4246, 0); // "FB", as torch's writer labels its padding
      localExtra.writeUInt16LE(pad, 2);
    }
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(flags, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(e.descriptor ? 0 : crc, 14);
    lh.writeUInt32LE(e.descriptor ? 0 : body.length, 18);
    lh.writeUInt32LE(e.descriptor ? 0 : e.data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    lh.writeUInt16LE(localExtra.length, 28);
    const localOffset = offset;
    parts.push(lh, name, localExtra, body);
    offset += lh.length + name.length + localExtra.length + body.length;
    if (e.descriptor) {
      const dd = Buffer.alloc(16);
      dd.writeUInt32LE(0x08074b50, 0);
      dd.writeUInt32LE(crc, 4);
      dd.writeUInt32LE(body.length, 8);
      dd.writeUInt32LE(e.data.length, 12);
      parts.push(dd);
      offset += dd.length;
    }
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(45, 4);
    ch.writeUInt16LE(45, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16);
    let extra = Buffer.alloc(0);
    if (opts.zip64) {
      ch.writeUInt32LE(0xffffffff, 20);
      ch.writeUInt32LE(0xffffffff, 24);
      ch.writeUInt32LE(0xffffffff, 42);
      extra = Buffer.alloc(4 + 24);
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(e.data.length), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(localOffset), 20);
    } else {
      ch.writeUInt32LE(body.length, 20);
      ch.writeUInt32LE(e.data.length, 24);
      ch.writeUInt32LE(localOffset, 42);
    }
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(extra.length, 30);
    central.push(ch, name, extra);
  }
  const cdOffset = offset;
  const cd = Buffer.concat(central);
  parts.push(cd);
  offset += cd.length;
  if (opts.zip64) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeUInt16LE(45, 12);
    z.writeUInt16LE(45, 14);
    z.writeBigUInt64LE(BigInt(entries.length), 24);
    z.writeBigUInt64LE(BigInt(entries.length), 32);
    z.writeBigUInt64LE(BigInt(cd.length), 40);
    z.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(offset), 8);
    loc.writeUInt32LE(1, 16);
    parts.push(z, loc);
    offset += z.length + loc.length;
  }
  const comment = Buffer.from(opts.comment ?? '', 'utf8');
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 8);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 10);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cdOffset, 16);
  eocd.writeUInt16LE(comment.length, 20);
  parts.push(eocd, comment);
  return Buffer.concat(parts);
}
