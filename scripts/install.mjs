#!/usr/bin/env node
/**
 * npm's `install` hook. In a checkout (src/ is there) it does nothing: `scripts/setup.mjs` builds
 * the addon once, with the engine it manages. Installed as a dependency (`npm install loaa`) it
 * provides build/Release/loaa_native.node, first match wins:
 *   1. $LOAA_ADDON: an addon already built for this machine (CI, or a second project) is copied;
 *   2. a prebuilt addon shipped in the tarball;
 *   3. node-gyp against the libtorch that scripts/find-libtorch.mjs finds ($LIBTORCH, $LOAA_PYTHON,
 *      or the system's), with Node's own headers when they are installed (no download). It says which
 *      libtorch, and warns with the fix when it is a 1.x (Debian's libtorch-dev is 1.13).
 * Only Node built-ins: this runs before anything else of loaa is usable.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const log = (m) => console.error(`[loaa install] ${m}`);
const out = join(root, 'build', 'Release', 'loaa_native.node');

if (existsSync(join(root, 'src')) && existsSync(join(root, 'tsconfig.json'))) process.exit(0);

if (process.env.LOAA_ADDON) {
  const from = resolve(process.env.LOAA_ADDON);
  if (!existsSync(from)) {
    log(`LOAA_ADDON=${from}: no such file`);
    process.exit(1);
  }
  mkdirSync(dirname(out), { recursive: true });
  copyFileSync(from, out);
  log(`using the addon from LOAA_ADDON (${from})`);
  process.exit(0);
}
if (existsSync(out)) process.exit(0);

function nodeDir() {
  const prefix = dirname(dirname(process.execPath));
  for (const p of [prefix, '/usr', '/usr/local']) if (existsSync(join(p, 'include', 'node', 'node_api.h'))) return p;
  return null;
}

const libtorch = spawnSync(process.execPath, [join(root, 'scripts', 'find-libtorch.mjs'), 'describe'], { encoding: 'utf8' });
if (libtorch.status !== 0) {
  log('libtorch not found: install PyTorch and set LOAA_PYTHON=<its python>, or set LIBTORCH=<an unpacked libtorch>,');
  log('or on Debian `apt-get install libtorch-dev`; then `npm rebuild loaa`. (LOAA_ADDON=<built addon> skips the build.)');
  process.stderr.write(libtorch.stderr ?? '');
  process.exit(1);
}
const found = JSON.parse(libtorch.stdout);
const version = found.version ? `${found.version.major}.${found.version.minor}` : 'of unknown version';
log(`building the native addon against libtorch ${version}: ${found.source} (${found.libdir})`);
if (found.version && found.version.major < 2) {
  // npm shows an install script's output only when it fails (or with --foreground-scripts): a slow
  // engine chosen silently is what users then measure, so this one goes to the terminal as well
  warn([
    `libtorch ${version} (${found.source}) is old: loaa runs about 2x slower at inference and 1.7x at training on it`,
    'than on PyTorch 2.x. For the fast engine: python3 -m venv ~/.loaa-torch && ~/.loaa-torch/bin/pip install torch',
    '--index-url https://download.pytorch.org/whl/cpu, then LOAA_PYTHON=~/.loaa-torch/bin/python npm rebuild loaa',
    '(or LIBTORCH=<an unpacked libtorch 2.x> npm rebuild loaa).',
  ]);
}

function warn(lines) {
  const text = lines.map((l) => `[loaa install] warning: ${l}\n`).join('');
  process.stderr.write(text);
  if (process.stderr.isTTY) return;
  try {
    const tty = openSync('/dev/tty', 'w');
    writeSync(tty, text);
    closeSync(tty);
  } catch {
    // no terminal (CI, a container): the lines above are in npm's log
  }
}
// npm hands its own node-gyp to install scripts; outside npm, the one on PATH
const gyp = process.env.npm_config_node_gyp;
const dir = nodeDir();
const args = ['rebuild', ...(dir ? [`--nodedir=${dir}`] : [])];
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { cwd: root, stdio: 'inherit' })
  : spawnSync('node-gyp', args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  log('the addon build failed (see above); fix the cause and run `npm rebuild loaa`');
  process.exit(1);
}
