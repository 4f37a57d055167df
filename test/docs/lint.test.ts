/**
 * `npm run lint` is Biome over the repository and CI runs it after setup; the folders already
 * formatted (scripts, tools, bin, these tests) stay clean, so the one-time reformat of src/ and test/
 * is the only one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers.js';

test('package.json has npm run lint, and .ci/run runs it after setup', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.lint, 'biome check .');
  const commands = readFileSync(join(repoRoot, '.ci', 'run'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const setup = commands.indexOf('npm test');
  const lint = commands.indexOf('npm run lint');
  assert.ok(setup >= 0 && lint > setup, '.ci/run runs npm run lint after npm test (whose setup installs node_modules)');
});

test('biome check passes on scripts/, tools/, bin/, test/docs/ and the config files', { timeout: 120_000 }, () => {
  const biome = join(repoRoot, 'node_modules', '.bin', 'biome');
  const paths = ['scripts', 'tools', 'bin', 'test/docs', 'biome.json', 'package.json', 'tsconfig.json'];
  const r = spawnSync(biome, ['check', '--colors=off', ...paths], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, `biome check ${paths.join(' ')}:\n${r.stdout}${r.stderr}`);
});

test('biome.json leaves build outputs, data and generated files out', () => {
  const cfg = JSON.parse(readFileSync(join(repoRoot, 'biome.json'), 'utf8')) as { files: { includes: string[] } };
  for (const p of ['!!**/dist', '!!**/build', '!!**/.venv', '!fixtures', '!examples/rehearsal', '!examples/fsdd_report']) {
    assert.ok(cfg.files.includes.includes(p), `biome.json files.includes lacks ${p}`);
  }
});
