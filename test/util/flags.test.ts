import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseFlags, UsageError } from '../../src/util/flags.js';
import { UsageError as CliUsageError } from '../../src/cli/command.js';
import { repoRoot } from '../helpers.js';

const FLAGS = {
  n: { type: 'int', min: 0, help: '' },
  k: { type: 'int', positive: true, default: 5, help: '' },
  t: { type: 'number', positive: true, help: '' },
  r: { type: 'int', min: 1, max: 8, help: '' },
  on: { type: 'boolean', help: '' },
} as const;

test('parseFlags types numbers once, with the messages every command and script shares', () => {
  const p = parseFlags(['--n', '3', '--t=0.5', 'pos', '--on'], FLAGS, 'x --help');
  assert.deepEqual(p.flags, { n: 3, k: 5, t: 0.5, r: undefined, on: true });
  assert.deepEqual(p.positionals, ['pos']);
  assert.deepEqual([...p.given].sort(), ['n', 'on', 't']);
  const bad: [string[], RegExp][] = [
    [['--n', 'two'], /^--n: expected a non-negative integer, got "two"$/],
    [['--n', '-1'], /^--n: expected a non-negative integer, got "-1"$/],
    [['--k', '0'], /^--k: expected a positive integer, got "0"$/],
    [['--t', '0'], /^--t: expected a positive number, got "0"$/],
    [['--r', '9'], /^--r: expected an integer in \[1, 8\], got "9"$/],
    [['--r'], /^--r: missing value$/],
    [['--nn', '1'], /^--nn: unknown option \(did you mean --n\?\) \(see x --help\)$/],
  ];
  for (const [argv, re] of bad)
    assert.throws(
      () => parseFlags(argv, FLAGS, 'x --help'),
      (e: Error) => e instanceof UsageError && re.test(e.message),
      argv.join(' '),
    );
  // the CLI's UsageError is this one (main.ts maps it to exit 2)
  assert.equal(CliUsageError, UsageError);
});

test('the bench scripts parse their flags with it: a bad value names the flag', () => {
  const check = spawnSync(process.execPath, [join(repoRoot, 'dist', 'src', 'bench', 'dist_check.js'), '--mib', 'lots'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(check.status, 1, check.stderr);
  assert.deepEqual(JSON.parse(check.stdout), { ok: false, error: '--mib: expected a positive number, got "lots"' });
  const scaling = spawnSync(process.execPath, [join(repoRoot, 'dist', 'src', 'bench', 'dist_scaling.js'), 'bytes', '--tdim', '8'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(scaling.status, 2);
  assert.match(scaling.stderr, /^dist_scaling: --tdim: expected an integer >= 16, got "8"/);
});
