/**
 * The package as a user gets it: `npm pack`, install the tarball into a fresh project without the
 * network, then classify a WAV through `import { AudioClassifier } from 'loaa'` and through
 * `npx loaa predict`. The addon is not rebuilt: LOAA_ADDON hands the install script the one this
 * checkout built (the install script's node-gyp path is the same build as scripts/setup.mjs's).
 * The registry is never asked (test/package/pack.ts). test/package/install.test.ts covers the lean
 * install, `export --web` and `loaa/onnx`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { adapterAndClip, addon, freshApp, pack, runtimeDeps, sh } from './pack.js';

test('npm pack, install offline into a fresh project, classify through the API and npx loaa predict', { timeout: 600_000 }, async (t) => {
  if (!existsSync(join(repoRoot, 'dist', 'src', 'index.js')) || !existsSync(addon)) {
    t.skip('the package is not built here (dist/src/index.js or the addon missing): run the setup first');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'loaa-consumer-'));
  try {
    const { tarball, files } = pack(work);
    assert.ok(files.includes('dist/src/index.js') && files.includes('dist/src/index.d.ts') && files.includes('scripts/install.mjs'));
    assert.ok(
      !files.some((f) => /^(src|test|fixtures|tools)\//.test(f) || f.startsWith('dist/test/') || f.endsWith('.map')),
      'no sources, tests or fixtures in the tarball',
    );

    const app = freshApp(join(work, 'app'), runtimeDeps());
    sh('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], app, {
      ...process.env,
      npm_config_update_notifier: 'false',
      LOAA_ADDON: addon,
    });
    assert.ok(existsSync(join(app, 'node_modules', 'loaa', 'build', 'Release', 'loaa_native.node')));

    // an adapter that records its backbone, and a clip
    const { adapter, wav } = adapterAndClip(work);

    const script = join(app, 'classify.mjs');
    writeFileSync(
      script,
      `
import { AudioClassifier } from 'loaa';
import { decodeAudio } from 'loaa/audio';
import { applyPeft } from 'loaa/peft';
import { loadAst } from 'loaa/models';
import { readFileSync } from 'node:fs';
const clf = await AudioClassifier.fromPretrained(process.argv[2]);
const top = await clf.classify(process.argv[3], { topK: 3 });
let deep = 'exported';
try { await import('loaa/dist/src/cli/main.js'); } catch (e) { deep = e.code; }
console.log(JSON.stringify({ top, fns: [typeof decodeAudio, typeof applyPeft, typeof loadAst], deep }));
clf.dispose();
`,
    );
    const api = JSON.parse(sh(process.execPath, [script, adapter, wav], app));
    assert.equal(api.top.length, 3);
    assert.deepEqual(api.fns, ['function', 'function', 'function']);
    assert.equal(api.deep, 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'internals are not importable');

    const cli = sh('npx', ['--offline', 'loaa', 'predict', wav, '--adapter', adapter, '--top-k', '3', '--jsonl'], app);
    const rec = JSON.parse(cli.trim());
    assert.equal(rec.input, wav);
    assert.deepEqual(
      rec.top.map((x: { label: string }) => x.label),
      api.top.map((x: { label: string }) => x.label),
    );
    rec.top.forEach((x: { score: number }, i: number) => {
      assert.ok(Math.abs(x.score - api.top[i].score) < 1e-6);
    });
    assert.match(sh('npx', ['--offline', 'loaa', '--version'], app), /^\d+\.\d+\.\d+/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('package.json: exports map, files list, prepack and install hooks', async () => {
  const { createRequire } = await import('node:module');
  const pkg = createRequire(import.meta.url)(join(repoRoot, 'package.json'));
  for (const sub of ['.', './audio', './models', './peft', './train', './onnx']) {
    const e = pkg.exports[sub];
    assert.ok(e?.types && e.default, `exports["${sub}"]`);
    assert.ok(existsSync(join(repoRoot, e.default)), `${e.default} is built`);
    assert.ok(existsSync(join(repoRoot, e.types)), `${e.types} is built`);
  }
  assert.equal(pkg.exports['./package.json'], './package.json');
  assert.match(pkg.scripts.prepack, /tsc -p tsconfig\.build\.json/);
  assert.equal(pkg.scripts.install, 'node scripts/install.mjs');
  assert.ok(readdirSync(dirname(join(repoRoot, pkg.bin.loaa))).length > 0);
  // every subpath loads on its own
  for (const sub of ['audio', 'models', 'peft', 'train', 'onnx']) {
    const m = await import(join(repoRoot, pkg.exports[`./${sub}`].default));
    assert.ok(Object.keys(m).length > 3, `loaa/${sub} exports something`);
  }
});
