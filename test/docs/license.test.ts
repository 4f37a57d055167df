/** The package ships its licence: LICENSE holds the MIT text package.json names, and npm packs it. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers.js';

test('LICENSE is the MIT licence package.json declares, and it is in the packed tarball', { timeout: 120_000 }, () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { license: string };
  assert.equal(pkg.license, 'MIT');
  const text = readFileSync(join(repoRoot, 'LICENSE'), 'utf8');
  assert.match(text, /^MIT License\n/);
  assert.match(text, /Permission is hereby granted, free of charge/);
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  assert.ok(files.includes('LICENSE'), `LICENSE is not in the tarball (${files.length} files)`);
});
