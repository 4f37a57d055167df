#!/usr/bin/env node
/** Runs every compiled `*.test.js` under dist/test with node's test runner (args: name filters). */
import { existsSync, readdirSync, statSync } from 'node:fs';
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
// tsc never deletes outputs: a test whose source was moved or removed (test/dist -> test/distributed)
// would still run from its stale .js, so only outputs of an existing test/**/*.ts count
const current = (f) => existsSync(join('test', relative(dir, f)).replace(/\.js$/, '.ts'));
const files = walk(dir)
  .filter(current)
  .filter((f) => !filters.length || filters.some((x) => relative(dir, f).includes(x)))
  .sort();
if (!files.length) {
  console.error(`no test files matched under ${dir}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--expose-gc', '--test', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
