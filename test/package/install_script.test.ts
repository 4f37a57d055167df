/** scripts/install.mjs as npm runs it in an installed package: which libtorch it chose, and the warning for a 1.x. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';

/** An installed-package layout with a stand-in find-libtorch.mjs and node-gyp (no build). */
function runInstall(found: object): { status: number | null; stderr: string } {
  const pkg = mkdtempSync(join(tmpdir(), 'loaa-install-'));
  try {
    mkdirSync(join(pkg, 'scripts'));
    copyFileSync(join(repoRoot, 'scripts', 'install.mjs'), join(pkg, 'scripts', 'install.mjs'));
    writeFileSync(join(pkg, 'scripts', 'find-libtorch.mjs'), `process.stdout.write(${JSON.stringify(JSON.stringify(found))});`);
    writeFileSync(join(pkg, 'gyp.cjs'), 'process.exit(0);');
    const env: NodeJS.ProcessEnv = { ...process.env, npm_config_node_gyp: join(pkg, 'gyp.cjs') };
    delete env.LOAA_ADDON;
    // setsid: no controlling terminal, so the /dev/tty copy of the warning stays off the test's terminal
    const r = spawnSync('setsid', [process.execPath, join(pkg, 'scripts', 'install.mjs')], { cwd: pkg, env, encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr };
  } finally {
    rmSync(pkg, { recursive: true, force: true });
  }
}

test('install.mjs names the libtorch it builds against; PyTorch 2.x: no warning', () => {
  const r = runInstall({ source: 'PyTorch wheel in /opt/venv', libdir: '/opt/venv/torch/lib', version: { major: 2, minor: 13 } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stderr,
    /\[loaa install\] building the native addon against libtorch 2\.13: PyTorch wheel in \/opt\/venv \(\/opt\/venv\/torch\/lib\)/,
  );
  assert.doesNotMatch(r.stderr, /warning/);
});

test("install.mjs warns, with the fix, on Debian's libtorch 1.13", () => {
  const r = runInstall({ source: 'system (Debian libtorch-dev)', libdir: '/usr/lib/x86_64-linux-gnu', version: { major: 1, minor: 13 } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /against libtorch 1\.13: system \(Debian libtorch-dev\)/);
  assert.match(r.stderr, /warning: libtorch 1\.13 .* is old: loaa runs about 2x slower at inference/);
  assert.match(r.stderr, /LOAA_PYTHON=.* npm rebuild loaa/);
});
