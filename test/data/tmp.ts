import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A fresh temp folder removed when the test file ends. */
export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `loaa-${tag}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
