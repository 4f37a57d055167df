/**
 * A streaming tar reader: enough for what `git archive` (GitHub's tarballs) and GNU/BSD tar write:
 * ustar headers with the name prefix, pax extended headers (`path`, `size`), GNU long names. It reads
 * a stream of (already gunzipped) bytes and hands on each entry with its data, so a dataset archive
 * is unpacked without holding more than one entry in memory. Every header's checksum is checked; a
 * truncated or corrupt archive is an Error naming the source.
 */

export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'other';
  size: number;
  /** permission bits from the header */
  mode: number;
}

/** The default cap on one entry's size, since entries are held in memory whole. */
export const MAX_TAR_ENTRY_BYTES = 1 << 30;
/** pax headers and GNU long names are a few hundred bytes: a megabyte is already hostile. */
export const MAX_TAR_META_BYTES = 1 << 20;

export interface TarOptions {
  /** refuse any entry, of any type, larger than this (default MAX_TAR_ENTRY_BYTES) */
  maxEntryBytes?: number;
  /** files for which this is false are skipped without being held in memory (onEntry gets null) */
  want?: (e: TarEntry) => boolean;
}

const BLOCK = 512;

function cstr(b: Uint8Array, from: number, len: number): string {
  let end = from;
  while (end < from + len && b[end] !== 0) end++;
  return Buffer.from(b.buffer, b.byteOffset + from, end - from).toString('utf8');
}

/** Octal, space/NUL terminated; or GNU base-256 when the top bit is set (sizes past 8 GB). */
function num(b: Uint8Array, from: number, len: number, what: string, source: string): number {
  if (b[from]! & 0x80) {
    let v = 0;
    for (let i = from + 1; i < from + len; i++) v = v * 256 + b[i]!;
    if (!Number.isSafeInteger(v)) throw new Error(`${source}: tar header ${what} is out of range`);
    return v;
  }
  const s = cstr(b, from, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`${source}: tar header ${what} ${JSON.stringify(s)} is not an octal number`);
  return parseInt(s, 8);
}

function checksumOk(h: Uint8Array, source: string): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === num(h, 148, 8, 'checksum', source);
}

/** pax records: "<len> <key>=<value>\n", len counting the whole record. */
function paxRecords(data: Buffer, source: string): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    const len = sp > at ? Number(data.subarray(at, sp).toString('ascii')) : NaN;
    if (!Number.isSafeInteger(len) || len <= 0 || at + len > data.length)
      throw new Error(`${source}: malformed pax header record at byte ${at}`);
    const rec = data.subarray(sp + 1, at + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    at += len;
  }
  return out;
}

/** Buffers incoming chunks and hands out exact byte counts. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(c: Uint8Array): void {
    if (c.length) {
      this.chunks.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      this.length += c.length;
    }
  }

  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.length -= n;
    return out;
  }

  /** Drops up to `n` bytes without copying them; returns how many were dropped. */
  drop(n: number): number {
    let left = n;
    while (left > 0 && this.chunks.length) {
      const c = this.chunks[0]!;
      if (c.length <= left) {
        left -= c.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.length -= n - left;
    return n - left;
  }
}

/**
 * Calls `onEntry` for every entry in order, with the data of wanted files (null for the rest, whose
 * bytes are streamed past, never buffered). Every entry type is capped, links and devices included:
 * a header's size is what would be buffered. Resolves at the end-of-archive marker; the stream
 * ending before it is an Error.
 */
export async function readTar(
  src: AsyncIterable<Uint8Array>,
  source: string,
  onEntry: (e: TarEntry, data: Buffer | null) => Promise<void> | void,
  options: number | TarOptions = {},
): Promise<void> {
  const o: TarOptions = typeof options === 'number' ? { maxEntryBytes: options } : options;
  const maxEntryBytes = o.maxEntryBytes ?? MAX_TAR_ENTRY_BYTES;
  const q = new ByteQueue();
  const it = src[Symbol.asyncIterator]();
  let offset = 0;
  const need = async (n: number, what: string): Promise<Buffer> => {
    while (q.length < n) {
      const r = await it.next();
      if (r.done) throw new Error(`${source}: truncated tar archive: the stream ended inside ${what} at byte ${offset + q.length}`);
      q.push(r.value);
    }
    offset += n;
    return q.take(n);
  };
  const skip = async (n: number, what: string): Promise<void> => {
    let left = n;
    while (left > 0) {
      if (q.length === 0) {
        const r = await it.next();
        if (r.done) throw new Error(`${source}: truncated tar archive: the stream ended inside ${what} at byte ${offset}`);
        q.push(r.value);
      }
      const k = q.drop(left);
      left -= k;
      offset += k;
    }
  };
  let longName: string | null = null;
  let pax = new Map<string, string>();
  try {
    for (;;) {
      const h = await need(BLOCK, 'a header');
      if (h.every((b) => b === 0)) return; // end of archive (the second zero block is not needed)
      if (!checksumOk(h, source)) throw new Error(`${source}: corrupt tar header at byte ${offset - BLOCK} (checksum mismatch)`);
      const flag = String.fromCharCode(h[156]!);
      const magic = cstr(h, 257, 6);
      const prefix = magic.startsWith('ustar') ? cstr(h, 345, 155) : '';
      let size = num(h, 124, 12, 'size', source);
      if (pax.has('size')) size = Number(pax.get('size'));
      if (!Number.isSafeInteger(size) || size < 0) throw new Error(`${source}: tar entry size ${size} is out of range`);
      const headerName = prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100);
      const name: string = pax.get('path') ?? longName ?? headerName;
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      const meta = flag === 'x' || flag === 'g' || flag === 'L';
      const cap = meta ? Math.min(MAX_TAR_META_BYTES, maxEntryBytes) : maxEntryBytes;
      if (size > cap) {
        throw new Error(
          `${source}: tar entry "${name.slice(0, 200)}" (type ${JSON.stringify(flag)}) is ${size} bytes, over the ${cap}-byte limit for one entry`,
        );
      }
      const type: TarEntry['type'] = flag === '0' || flag === '\0' || flag === '7' ? 'file' : flag === '5' ? 'dir' : 'other';
      const entry: TarEntry = { name, type, size, mode: num(h, 100, 8, 'mode', source) };
      const keep = meta || (type === 'file' && (o.want?.(entry) ?? true));
      let data: Buffer | null = null;
      if (padded > 0) {
        if (keep) data = (await need(padded, `the data of "${name}"`)).subarray(0, size);
        else await skip(padded, `the data of "${name}"`);
      }
      if (flag === 'x') {
        pax = paxRecords(data ?? Buffer.alloc(0), source);
        continue;
      }
      if (flag === 'g') continue; // git archive's global header: the commit id, nothing we need
      if (flag === 'L') {
        longName = (data ?? Buffer.alloc(0)).toString('utf8').replace(/\0+$/, '');
        continue;
      }
      pax = new Map();
      longName = null;
      await onEntry(entry, keep && type === 'file' ? (data ?? Buffer.alloc(0)) : null);
    }
  } finally {
    await it.return?.();
  }
}
