/**
 * The one guarded way to touch files that src/ uses besides writeFileAtomic (src/util/fs.ts):
 * inputs are regular files opened without blocking (a FIFO never hangs) and read up to a cap;
 * outputs never go through a symlink and never land on a device, FIFO or socket, at the target or at
 * any temporary name beside it. test/architecture/guarded_fs.test.ts fails on raw fs calls elsewhere.
 */
import {
  closeSync,
  constants,
  createReadStream,
  createWriteStream,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  type ReadStream,
  type Stats,
  type WriteStream,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { assertWritableTarget, commitTemp, kindOf, openRegular, readRegularFile, writeAll, type OpenedFile } from './fs.js';

export interface InputOptions {
  /** what the file is, for messages ("the backbone checkpoint", "recipe") */
  what: string;
  /** refuse files larger than this many bytes */
  maxBytes?: number;
  /** what raises the limit, for the message */
  override?: string;
  /** refuse a symlink at the last component (files the program itself wrote, in its own folders) */
  noFollow?: boolean;
}

/**
 * Open a user-named input: a regular file or an Error naming it and saying what it is instead, and
 * no larger than `maxBytes`. The caller closes `fd`.
 */
export function openInput(path: string, o: InputOptions): OpenedFile {
  if (o.noFollow) refuseSymlink(path, `cannot read ${o.what}`);
  const f = openRegular(path, o.what);
  if (o.maxBytes !== undefined && f.size > o.maxBytes) {
    closeSync(f.fd);
    const how = o.override ? ` (raise it with ${o.override})` : '';
    throw new Error(`${path}: ${o.what} is ${f.size} bytes, more than the ${o.maxBytes}-byte limit${how}`);
  }
  return f;
}

/** The whole input (see openInput). */
export function readInput(path: string, o: InputOptions): Buffer {
  if (o.noFollow) refuseSymlink(path, `cannot read ${o.what}`);
  return readRegularFile(path, o.what, { maxBytes: o.maxBytes, override: o.override });
}

/** Text configs, manifests, logs: 64 MB unless told otherwise. */
export function readInputText(path: string, o: InputOptions): string {
  return readInput(path, { maxBytes: 64 * 1024 * 1024, ...o }).toString('utf8');
}

/** JSON from a file, with the file named in a parse error. */
export function readInputJson<T = unknown>(path: string, o: InputOptions): T {
  const text = readInputText(path, o);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${path}: ${o.what} is not valid JSON (${(e as Error).message})`);
  }
}

/** A stream over a regular input, ending at the size fstat gave (a growing file is not followed). */
export function openInputStream(path: string, o: InputOptions): ReadStream {
  const { fd, size } = openInput(path, o);
  // `end` is inclusive: an empty file reads its (absent) first byte and ends
  return createReadStream('', { fd, start: 0, end: Math.max(0, size - 1), autoClose: true });
}

/** Feeds a regular file to `update` in 1 MB chunks (hashing checkpoints without holding them). */
export function forEachChunk(path: string, o: InputOptions, update: (chunk: Buffer) => void): number {
  const { fd, size } = openInput(path, o);
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    while (pos < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      if (n === 0) throw new Error(`${path}: ${o.what} shrank while it was read (at byte ${pos} of ${size})`);
      update(buf.subarray(0, n));
      pos += n;
    }
    return size;
  } finally {
    closeSync(fd);
  }
}

function refuseSymlink(path: string, doing: string): void {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return; // the open that follows names a missing file
  }
  if (st.isSymbolicLink()) throw new Error(`${path}: ${doing}: it is a symbolic link (give the path of the file it points to instead)`);
}

/** The errno of an O_NOFOLLOW open of a symlink (Linux ELOOP, BSDs EMLINK/EFTYPE). */
function isSymlinkErrno(code: string | undefined): boolean {
  return code === 'ELOOP' || code === 'EMLINK' || code === 'EFTYPE';
}

/**
 * Open `path` for appending, creating it as a regular file: O_NOFOLLOW refuses a planted symlink,
 * O_NONBLOCK keeps a FIFO from blocking the open, and fstat refuses whatever is not a regular file.
 */
export function openAppend(path: string, what: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (isSymlinkErrno(err.code))
      throw new Error(`${path}: refusing to append ${what}: it is a symbolic link (give the path of the file it points to instead)`);
    if (err.code === 'ENXIO')
      throw new Error(`${path}: refusing to append ${what}: it is a FIFO (named pipe) or socket; only regular files are written`);
    throw new Error(`${path}: cannot append ${what}: ${err.message}`);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new Error(`${path}: refusing to append ${what}: it is ${kindOf(st)}; only regular files are written`);
  }
  return fd;
}

/** Append `data` to a regular file (see openAppend). */
export function appendGuarded(path: string, what: string, data: string | Uint8Array): void {
  writeAndClose(openAppend(path, what), data);
}

/**
 * Create a fresh regular file `path` exclusively (O_EXCL: never through a symlink or onto a node
 * someone planted), remove a stale regular one first, and return its descriptor.
 */
function createExclusive(path: string, what: string): number {
  let st: Stats | null = null;
  try {
    st = lstatSync(path);
  } catch {
    /* absent: the usual case */
  }
  if (st) {
    if (st.isSymbolicLink())
      throw new Error(`${path}: refusing to write ${what}: it is a symbolic link (remove it; nothing is written through links)`);
    if (!st.isFile()) throw new Error(`${path}: refusing to write ${what}: it is ${kindOf(st)}; only regular files are written`);
    rmSync(path, { force: true });
  }
  try {
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  } catch (e) {
    throw new Error(`${path}: cannot write ${what}: ${(e as Error).message}`);
  }
}

/** Writes a new file into a folder the caller owns (a private temp folder), refusing links and nodes. */
export function writeFileNew(path: string, what: string, data: string | Uint8Array): void {
  writeAndClose(createExclusive(path, what), data);
}

/**
 * Rename `from` (a temp file or folder this process made) over `to`, refusing a `to` that is a
 * symlink or a node (lstat just before the rename) and checking `from` is still what was written.
 */
export function renameGuarded(from: string, to: string, what: string): void {
  let st: Stats | null = null;
  try {
    st = lstatSync(to);
  } catch {
    /* absent */
  }
  const dir = (() => {
    try {
      return lstatSync(from).isDirectory();
    } catch (e) {
      throw new Error(`${from}: cannot move ${what} into place: ${(e as Error).message}`);
    }
  })();
  if (st) {
    if (st.isSymbolicLink())
      throw new Error(`${to}: refusing to replace ${what}: it is a symbolic link (remove it; nothing is written through links)`);
    if (dir ? !st.isDirectory() : !st.isFile()) throw new Error(`${to}: refusing to replace ${what}: it is ${kindOf(st)}`);
  }
  try {
    renameSync(from, to);
  } catch (e) {
    throw new Error(`${to}: cannot move ${what} into place: ${(e as Error).message}`);
  }
}

/** Copy a regular file to `to` atomically (temp sibling, O_EXCL, rename), in 1 MB chunks. */
export function copyFileGuarded(from: string, to: string, what: string): void {
  assertWritableTarget(to);
  const tmp = join(dirname(to), `.${basename(to)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const out = createExclusive(tmp, what);
  try {
    forEachChunk(from, { what }, (chunk) => writeAll(out, chunk));
    fsyncSync(out);
  } catch (e) {
    closeSync(out);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(out);
  commitTemp(tmp, to);
}

/**
 * A write stream on `path`: appended to (openAppend's checks) or created afresh (a stale regular
 * file replaced, a link or node refused).
 */
export function openOutputStream(path: string, what: string, o: { append?: boolean } = {}): WriteStream {
  const fd = o.append ? openAppend(path, what) : createExclusive(path, what);
  return createWriteStream('', { fd, autoClose: true });
}

/** A stream into `<path>.part`, renamed over `path` by commit() (never a half-written `path`). */
export interface PartWriter {
  stream: WriteStream;
  commit(): Promise<void>;
  abort(): void;
}

/**
 * The streaming counterpart of writeFileAtomic: `<path>.part` is created exclusively (a planted link
 * or node there is refused by name, a stale regular one replaced), and commit() checks both names
 * again before the rename, so neither the target nor the part file can redirect the write.
 */
export function openPartWriter(path: string, what: string): PartWriter {
  assertWritableTarget(path);
  const part = `${path}.part`;
  const fd = createExclusive(part, what);
  const ino = fstatSync(fd).ino;
  const stream = createWriteStream('', { fd, autoClose: true });
  let done = false;
  return {
    stream,
    async commit() {
      await new Promise<void>((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
      done = true;
      const st = lstatSync(part);
      if (!st.isFile() || st.ino !== ino) throw new Error(`${part}: replaced while ${what} was written: not renamed over ${path}`);
      assertWritableTarget(path);
      renameSync(part, path);
    },
    abort() {
      if (done) return;
      done = true;
      stream.destroy();
      try {
        if (lstatSync(part).ino === ino) rmSync(part, { force: true });
      } catch {
        /* gone already */
      }
    },
  };
}

function writeAndClose(fd: number, data: string | Uint8Array): void {
  try {
    writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  } finally {
    closeSync(fd);
  }
}
