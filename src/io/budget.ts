/**
 * A load budget: how many bytes reading one file may materialise, tied to the file's size. Every
 * copy counts (a pickle REDUCE that copies a container, each tensor view handed out, every inflated
 * zip entry), so a small hostile file that asks for gigabytes is an Error naming the file before
 * the allocation, not an abort of the process minutes later.
 */

/** Environment override for every budget: a byte count, or a number with K/M/G/T. */
export const LOAD_BUDGET_ENV = 'LOAA_MAX_LOAD_BYTES';

/** Headroom every file gets, whatever its size: parsing overhead, small pickles, metadata. */
const BASE_BYTES = 64 * 1024 * 1024;
/**
 * Per byte of file: a checkpoint materialises its storages once as read and once as tensors
 * (tied weights share a storage and count twice), so 3x covers every honest file with room left.
 */
const PER_FILE_BYTE = 3;

export function parseByteCount(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!m) throw new Error(`${what}: ${JSON.stringify(text)} is not a byte count (e.g. 8G, 512M, 1000000)`);
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const n = Math.floor(Number(m[1]) * mult);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${what}: ${JSON.stringify(text)} is out of range`);
  return n;
}

export class LoadBudget {
  private usedBytes = 0;

  constructor(
    readonly source: string,
    readonly limit: number,
    /** what raises the limit, for the message */
    readonly override = LOAD_BUDGET_ENV,
  ) {}

  get used(): number {
    return this.usedBytes;
  }

  get remaining(): number {
    return Math.max(0, this.limit - this.usedBytes);
  }

  /** Account for `bytes` about to be materialised; throws, naming the file and `what`, when over. */
  charge(bytes: number, what: string): void {
    const next = this.usedBytes + Math.max(0, bytes);
    if (!(next <= this.limit)) {
      throw new Error(
        `${this.source}: ${what} would bring what loading this file materialises to ${fmt(next)}, over its load budget of ` +
          `${fmt(this.limit)} (tied to the file's size; a hostile or broken file? set ${this.override} to raise it)`,
      );
    }
    this.usedBytes = next;
  }
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${n} bytes`;
}

/** The budget for reading a file of `fileSize` bytes: 3x its size plus 64 MiB, or the env override. */
export function budgetFor(source: string, fileSize: number, env: NodeJS.ProcessEnv = process.env): LoadBudget {
  const o = env[LOAD_BUDGET_ENV];
  if (o !== undefined && o !== '') return new LoadBudget(source, parseByteCount(o, LOAD_BUDGET_ENV));
  return new LoadBudget(source, BASE_BYTES + PER_FILE_BYTE * Math.max(0, fileSize));
}

/**
 * Rough bytes a value built by a pickle call costs in the JS heap: what matters is that it grows
 * with the copy, so a REDUCE repeated over one big memoised object is charged every time.
 */
export function heapCost(v: unknown): number {
  if (v instanceof Uint8Array) return v.byteLength + 64;
  if (typeof v === 'string') return 2 * v.length + 32;
  if (v instanceof Map) return 80 * v.size + 64;
  if (v instanceof Set) return 48 * v.size + 64;
  if (Array.isArray(v)) return 16 * v.length + 32;
  return 32;
}
