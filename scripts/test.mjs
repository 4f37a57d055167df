#!/usr/bin/env node
/** Runs every compiled `*.test.js` under dist/test with node's test runner (args: name filters). */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const dir = 'dist/test';
const filters = process.argv.slice(2);
function walk(d) {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.js') ? [p] : [];
  });
}
const files = walk(dir)
  .filter((f) => !filters.length || filters.some((x) => relative(dir, f).includes(x)))
  .sort();
if (!files.length) {
  console.error(`no test files matched under ${dir}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--expose-gc', '--test', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
