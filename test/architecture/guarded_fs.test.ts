/**
 * Every read of a user-named path and every write in src/ goes through the guarded file layer
 * (src/util/fs.ts, src/util/guarded_fs.ts, src/util/lock.ts): a raw readFileSync, openSync,
 * createWriteStream, renameSync ... elsewhere is how the writes through symlinks, onto devices and
 * the FIFO hangs of issue #25 came back after each was fixed in one function.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../helpers.js';

const LAYER = new Set(['src/util/fs.ts', 'src/util/guarded_fs.ts', 'src/util/lock.ts']);

/** node:fs (and fs/promises) calls that open, read whole, write, copy or rename a path. */
const BANNED = new Set([
  'readFileSync',
  'openSync',
  'createWriteStream',
  'createReadStream',
  'appendFileSync',
  'copyFileSync',
  'cpSync',
  'renameSync',
  'writeFileSync',
  'truncateSync',
  'readFile',
  'writeFile',
  'appendFile',
  'copyFile',
  'cp',
  'rename',
  'open',
  'truncate',
  'opendir',
]);

/**
 * Genuinely internal paths, each with its reason: kernel files under /proc that no user names and
 * that are not regular files a size check could vet anyway.
 */
const ALLOWED: Record<string, { names: string[]; why: string }> = {
  'src/native/env.ts': {
    names: ['readFileSync'],
    why: '/proc/cpuinfo (CPU features) and /proc/<self|thread-self>/status (the CPUs we may use); src/native imports nothing',
  },
  'src/bench/rss_child.ts': { names: ['readFileSync'], why: "/proc/self/status (the child's peak RSS)" },
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The fs functions a file takes from node:fs / node:fs/promises, named or through a namespace. */
export function fsCalls(text: string): string[] {
  const out: string[] = [];
  const named = /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*['"](?:node:)?fs(?:\/promises)?['"]/g;
  for (let m = named.exec(text); m; m = named.exec(text)) {
    if (/^import\s+type/.test(m[0])) continue;
    for (const part of m[1]!.split(',')) {
      const name = part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)[0]!
        .trim();
      if (name && !part.trim().startsWith('type ')) out.push(name);
    }
  }
  const ns = /import\s+(?:\*\s+as\s+)?(\w+)\s+from\s*['"](?:node:)?fs(?:\/promises)?['"]/g;
  for (let m = ns.exec(text); m; m = ns.exec(text)) {
    const use = new RegExp(`\\b${m[1]}\\.(\\w+)`, 'g');
    for (let u = use.exec(text); u; u = use.exec(text)) out.push(u[1]!);
    const promises = new RegExp(`\\b${m[1]}\\.promises\\.(\\w+)`, 'g');
    for (let u = promises.exec(text); u; u = promises.exec(text)) out.push(u[1]!);
  }
  if (/\brequire\(\s*['"](?:node:)?fs/.test(text)) out.push('require(fs)');
  return out;
}

test('src/ opens, reads whole, writes, copies and renames paths only through the guarded file layer', () => {
  const problems: string[] = [];
  for (const abs of walk(join(repoRoot, 'src'))) {
    const file = relative(repoRoot, abs).split('\\').join('/');
    if (LAYER.has(file)) continue;
    const allowed = ALLOWED[file]?.names ?? [];
    for (const name of fsCalls(readFileSync(abs, 'utf8'))) {
      if ((BANNED.has(name) || name === 'require(fs)') && !allowed.includes(name))
        problems.push(`${file}: ${name} (use src/util/guarded_fs.ts or writeFileAtomic)`);
    }
  }
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('the architecture check sees named, renamed, namespace and promise imports', () => {
  assert.deepEqual(fsCalls("import { readFileSync, statSync } from 'node:fs';"), ['readFileSync', 'statSync']);
  assert.deepEqual(fsCalls("import { renameSync as mv } from 'fs';"), ['renameSync']);
  assert.deepEqual(fsCalls("import { readFile } from 'node:fs/promises';"), ['readFile']);
  assert.deepEqual(fsCalls("import * as fs from 'node:fs';\nfs.copyFileSync(a, b);"), ['copyFileSync']);
  assert.deepEqual(fsCalls("import fs from 'node:fs';\nfs.promises.writeFile(a, b);"), ['promises', 'writeFile']);
  assert.deepEqual(fsCalls("import type { Stats } from 'node:fs';"), []);
});

test('every allow-listed file still needs its exception (a stale entry would hide a new call)', () => {
  for (const [file, { names }] of Object.entries(ALLOWED)) {
    const calls = fsCalls(readFileSync(join(repoRoot, file), 'utf8'));
    for (const n of names) assert.ok(calls.includes(n), `${file}: allow-listed ${n} is no longer used: remove the entry`);
  }
});
