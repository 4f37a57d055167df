import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** What a stat says the path is, for messages ("a FIFO" reads better than "not a regular file"). */
export function kindOf(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** An Error that keeps the errno code of the cause (ENOSPC, EACCES...) while naming the file. */
function named(path: string, doing: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'ENOSPC' ? 'no space left on the device (ENOSPC)' : err.message;
  const out = new Error(`${path}: ${doing}: ${why}`) as NodeJS.ErrnoException;
  if (err.code) out.code = err.code;
  return out;
}

export interface OpenedFile {
  fd: number;
  size: number;
}

/**
 * Open a user-named path for reading, refusing anything but a regular file. O_NONBLOCK keeps a FIFO
 * from blocking the open until a writer appears (it would otherwise hang forever); fstat on the
 * opened descriptor, not a stat of the name, so the check and the read see the same file.
 */
export function openRegular(path: string, what: string): OpenedFile {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EISDIR') throw new Error(`${path}: cannot read ${what}: is a directory`);
    throw named(path, `cannot read ${what}`, e);
  }
  let st: Stats;
  try {
    st = fstatSync(fd);
  } catch (e) {
    closeSync(fd);
    throw named(path, `cannot read ${what}`, e);
  }
  if (!st.isFile()) {
    closeSync(fd);
    throw new Error(`${path}: cannot read ${what}: it is ${kindOf(st)}, not a regular file`);
  }
  return { fd, size: st.size };
}

export interface ReadLimit {
  /** refuse files larger than this many bytes (the message names the limit and how to lift it) */
  maxBytes?: number;
  /** what raises the limit, for the message ("--max-load-bytes", "LOAA_MAX_AUDIO_BYTES") */
  override?: string;
}

/** Exactly `length` bytes at `position` of an open file, or an Error naming the file. */
export function preadExact(fd: number, path: string, position: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, length - done, position + done);
    if (n === 0) throw new Error(`${path}: unexpected end of file at byte ${position + done} (the file shrank or is truncated)`);
    done += n;
  }
  return out;
}

/**
 * The whole of a regular file, read up to the size fstat reported (a file that grows while it is
 * read is not followed), refusing devices, FIFOs, sockets and directories by name.
 */
export function readRegularFile(path: string, what: string, limit: ReadLimit = {}): Buffer {
  const { fd, size } = openRegular(path, what);
  try {
    const max = Math.min(limit.maxBytes ?? Infinity, bufferConstants.MAX_LENGTH);
    if (size > max) {
      const how = limit.override ? ` (raise it with ${limit.override})` : '';
      throw new Error(`${path}: ${what} is ${size} bytes, more than the ${max}-byte limit${how}`);
    }
    try {
      return preadExact(fd, path, 0, size);
    } catch (e) {
      if ((e as Error).message.startsWith(path)) throw e;
      throw named(path, `cannot read ${what}`, e);
    }
  } finally {
    closeSync(fd);
  }
}

/** Text files (configs, manifests, recipes): 64 MB is far beyond any of them and far below trouble. */
export const MAX_TEXT_BYTES = 64 * 1024 * 1024;

export function readRegularText(path: string, what: string, maxBytes = MAX_TEXT_BYTES): string {
  return readRegularFile(path, what, { maxBytes }).toString('utf8');
}

/**
 * Refuse to write over anything that is not a regular file. Renaming over a device node, FIFO or
 * socket would replace it with a regular file (as root, `--out /dev/null` breaks the machine), and
 * renaming over a symlink would replace the link, not the file it points to. Symlinks are refused
 * rather than followed: the user gives the real path when that is what they mean.
 */
export function assertWritableTarget(path: string): void {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw named(path, 'cannot write', e);
  }
  if (st.isFile()) return;
  if (st.isSymbolicLink()) {
    throw new Error(`${path}: refusing to write: it is a symbolic link (give the path of the file it points to instead)`);
  }
  throw new Error(`${path}: refusing to write: it is ${kindOf(st)}; only regular files are replaced`);
}

/** `.<name>.tmp-<pid>-<hex>`: the sibling writeFileAtomic writes before its rename. */
const TEMP_FILE = /^\.(.+)\.tmp-(\d+)-[0-9a-f]{8}$/;
/**
 * Renames a finished temp file over `path`, checking the target again just before (it may have been
 * swapped for a link or a device while we wrote); the temp file is removed when that fails.
 */
export function commitTemp(tmp: string, path: string): void {
  try {
    assertWritableTarget(path);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes every byte of `b` at the descriptor's position (writeSync may write less than asked). */
export function writeAll(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.byteLength) off += writeSync(fd, b, off, b.byteLength - off);
}

/** A folder's entry names, or none where it cannot be read (absent, not a folder, no permission). */
export function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** `.checkpoint-tmp-<pid>` (and `...-<hex>`): a checkpoint directory being written. */
const TEMP_DIR = /^\.checkpoint-tmp-(\d+)(?:-[0-9a-f]+)?$/;

export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove temp files and directories left in `dir` by writers that died (kill -9, power loss, a full
 * disk): they are checkpoint-sized and eat exactly the space a recovery needs. Only leftovers of
 * processes that no longer exist are touched (a live writer's temp file is its own); with `onlyFor`,
 * only temp files of that target name. Returns the names removed.
 */
export function removeStaleTemps(dir: string, onlyFor?: string): string[] {
  const removed: string[] = [];
  for (const name of readdirOrEmpty(dir)) {
    const f = TEMP_FILE.exec(name);
    const d = f ? null : TEMP_DIR.exec(name);
    if (!f && !d) continue;
    if (onlyFor !== undefined && (!f || f[1] !== onlyFor)) continue;
    const pid = Number(f ? f[2] : d![1]);
    if (pid === process.pid || processAlive(pid)) continue;
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      /* someone else cleaned it, or it is not ours to remove: leave it */
    }
  }
  return removed;
}

/**
 * Write a file so that readers see either the old content or the new one, never a torn file:
 * write a sibling temp file, fsync it, rename over the target. A crash mid-write leaves the
 * old file intact and at worst a stray `.tmp-*` sibling, which the next write of the same target
 * removes. The target must be a regular file or absent (see assertWritableTarget). Errors name the
 * target and keep the errno code, so ENOSPC says which file did not fit.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  assertWritableTarget(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw named(path, 'cannot create its folder', e);
  }
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx');
  } catch (e) {
    throw named(path, 'cannot write', e);
  }
  try {
    const parts = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
    for (const part of parts) writeAll(fd, part);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw named(path, 'cannot write (the previous file, if any, is unchanged)', e);
  }
  closeSync(fd);
  try {
    commitTemp(tmp, path);
  } catch (e) {
    if ((e as Error).message.startsWith(path)) throw e;
    throw named(path, 'cannot write', e);
  }
  removeStaleTemps(dirname(path), basename(path));
}
