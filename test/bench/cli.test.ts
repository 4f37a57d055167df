import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';

const bin = join(repoRoot, 'bin', 'loaa.js');

test('loaa bench --help lists the table flags, the row groups and the older sections', () => {
  const r = spawnSync(process.execPath, [bin, 'bench', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const s of ['--rounds N', '--quick', '--profile', '--precision', '--rows GROUPS', '--only SECTIONS', '--json', 'step', 'probe', 'rss', 'engine', 'training']) assert.ok(r.stdout.includes(s), s);
});

test('loaa bench: bad row groups, sections and flags are usage errors (exit 2) naming the flag', () => {
  for (const [args, re] of [[['--rows', 'step,nope'], /^loaa bench: --rows: unknown nope/m], [['--only', 'gpu'], /^loaa bench: --only: unknown gpu/m], [['--rounds', '0'], /^loaa bench: --rounds: expected an integer/m], [['--profile', '--only', 'engine'], /^loaa bench: --only: not with --profile/m]] as const) {
    const r = spawnSync(process.execPath, [bin, 'bench', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});
