/**
 * docs/cli.md (written by tools/docs/cli.mjs from each command's --help) lists every command of
 * `loaa --help` and, in that command's section, every flag its --help shows: a new command or flag
 * fails here until `node tools/docs/cli.mjs` is run again.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers.js';

function help(args: string[]): string {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'loaa.js'), ...args, '--help'], { encoding: 'utf8', cwd: repoRoot });
  assert.equal(r.status, 0, `loaa ${args.join(' ')} --help: ${r.stderr}`);
  return r.stdout;
}

test('docs/cli.md: every command, and every flag of each command', { timeout: 300_000 }, () => {
  const top = help([]);
  const commands = [...top.split('commands:\n')[1]!.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]!);
  assert.ok(commands.length >= 10 && commands.includes('train') && commands.includes('predict'), `commands: ${commands.join(', ')}`);
  const doc = readFileSync(join(repoRoot, 'docs', 'cli.md'), 'utf8');
  const sections = new Map(
    doc
      .split(/^## /m)
      .slice(1)
      .map((s) => [s.slice(0, s.indexOf('\n')).trim(), s] as const),
  );
  const missing: string[] = [];
  for (const c of commands) {
    const section = sections.get(`loaa ${c}`);
    if (section === undefined) {
      missing.push(`loaa ${c} (no section)`);
      continue;
    }
    const flags = new Set([...help([c]).matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]));
    for (const f of flags) if (!section.includes(f)) missing.push(`loaa ${c} ${f}`);
  }
  assert.deepEqual(missing, [], 'not in docs/cli.md: run node tools/docs/cli.mjs');
});
