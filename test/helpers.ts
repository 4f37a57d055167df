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
