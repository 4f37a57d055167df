import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Tests run from dist/test/...; walk up to the directory holding package.json. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root from ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const repoRoot = findRoot();
export const fixturesDir = join(repoRoot, 'fixtures');
/** ../shared beside the checkout: real data (FSDD, EPIC-SOUNDS CSVs); may be absent. */
export const sharedDir = resolve(repoRoot, '..', 'shared');
export const fsddDir = join(sharedDir, 'data', 'fsdd', 'recordings');

export function fixture(...parts: string[]): string {
  return join(fixturesDir, ...parts);
}

/**
 * Runs `fn` (a command's run) with the strings it writes to stdout and stderr captured. Binary
 * chunks pass through: the test runner's own messages are written that way and must still arrive.
 */
export async function captureOutput(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const cap = { out: '', err: '' };
  const ow = process.stdout.write;
  const ew = process.stderr.write;
  const into = (key: 'out' | 'err', orig: typeof ow, stream: NodeJS.WriteStream): typeof ow =>
    ((c: string | Uint8Array, ...rest: unknown[]) =>
      typeof c === 'string' ? ((cap[key] += c), true) : (orig as (...a: unknown[]) => boolean).call(stream, c, ...rest)) as typeof ow;
  process.stdout.write = into('out', ow, process.stdout);
  process.stderr.write = into('err', ew, process.stderr);
  try {
    const code = await fn();
    return { code, ...cap };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}
