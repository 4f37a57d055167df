#!/usr/bin/env node
/**
 * One-command setup, run before `npm test`, `npm run demo` and `npm run bench`: installs the
 * Debian packages loaa needs, runs `npm ci`, builds the libtorch addon and the TypeScript. Each
 * step checks first and does nothing when it is already done, so a second run takes a moment.
 * Only Node built-ins here: this runs before node_modules exists.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
process.chdir(root);
const log = (msg) => console.log(`[setup] ${msg}`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`\`${cmd} ${args.join(' ')}\` failed with exit status ${r.status}`);
}

// ---- 1. Debian packages
const APT = {
  'libtorch-dev': 'libtorch (PyTorch\'s C++ library), the tensor engine',
  'libopenblas0-openmp': 'OpenBLAS with OpenMP threads: libtorch\'s matrix products (~60x the reference BLAS)',
  'g++': 'compiles the native addon',
  make: 'builds the native addon',
};

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function ensureApt() {
  if (process.env.LIBTORCH) return; // a libtorch download brings its own libraries
  if (!existsSync('/usr/bin/dpkg-query')) {
    log('not a Debian system: install libtorch yourself and set LIBTORCH (see README)');
    return;
  }
  const missing = Object.keys(APT).filter((p) => !installed(p));
  if (!missing.length) return;
  log('installing Debian packages:');
  for (const p of missing) log(`  ${p}: ${APT[p]}`);
  const isRoot = process.getuid?.() === 0;
  const sudo = isRoot ? [] : ['sudo'];
  if (!isRoot && spawnSync('sudo', ['-n', 'true']).status !== 0) {
    throw new Error(`missing Debian packages ${missing.join(', ')}: run as root or \`sudo apt-get install -y ${missing.join(' ')}\``);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) => spawnSync(sudo.length ? 'sudo' : 'apt-get', [...(sudo.length ? ['apt-get'] : []), ...args], { stdio: 'inherit', env });
  if (apt(['install', '-y', '-q', '--no-install-recommends', ...missing]).status !== 0) {
    log('apt-get install failed; refreshing the package lists and trying again');
    if (apt(['update', '-q']).status !== 0) throw new Error('apt-get update failed');
    if (apt(['install', '-y', '-q', '--no-install-recommends', ...missing]).status !== 0) {
      throw new Error(`apt-get install ${missing.join(' ')} failed`);
    }
  }
}

// libtorch-dev pulls in the pthread OpenBLAS as well; two thread pools (OpenMP for libtorch,
// pthreads for BLAS) fight over 2 cores. Point the BLAS alternatives at the OpenMP build.
function ensureOpenmpBlas() {
  if (process.env.LIBTORCH || !existsSync('/usr/bin/update-alternatives')) return;
  const arch = spawnSync('dpkg-architecture', ['-qDEB_HOST_MULTIARCH'], { encoding: 'utf8' }).stdout?.trim() || 'x86_64-linux-gnu';
  for (const lib of ['libblas.so.3', 'liblapack.so.3', 'libopenblas.so.0']) {
    const target = `/usr/lib/${arch}/openblas-openmp/${lib}`;
    if (!existsSync(target)) continue;
    const r = spawnSync('update-alternatives', ['--query', `${lib}-${arch}`], { encoding: 'utf8' });
    const current = /^Value: (.*)$/m.exec(r.stdout ?? '')?.[1];
    if (current === target) continue;
    if (process.getuid?.() !== 0) {
      log(`warning: ${lib} is ${current}, not the OpenMP OpenBLAS; as root: update-alternatives --set ${lib}-${arch} ${target}`);
      continue;
    }
    log(`selecting the OpenMP OpenBLAS for ${lib}`);
    run('update-alternatives', ['--set', `${lib}-${arch}`, target], { stdio: 'ignore' });
  }
}

// ---- 2. npm packages
function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(join(root, 'package-lock.json')).mtimeMs) return;
  log('npm ci');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// ---- 3. native addon
function newest(paths) {
  let t = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const s = statSync(p);
    if (s.isDirectory()) t = Math.max(t, newest(readdirSync(p).map((f) => join(p, f))));
    else t = Math.max(t, s.mtimeMs);
  }
  return t;
}

function nodeDir() {
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : '/usr';
}

function ensureAddon() {
  const out = join(root, 'build', 'Release', 'loaa_native.node');
  const stampPath = join(root, 'build', 'loaa-libtorch.json');
  const libtorch = execFileSync(process.execPath, ['scripts/find-libtorch.mjs', 'describe'], { encoding: 'utf8' });
  const stamp = existsSync(stampPath) ? readFileSync(stampPath, 'utf8') : '';
  if (existsSync(out) && stamp === libtorch && statSync(out).mtimeMs >= newest(['native', 'binding.gyp'])) return;
  const lt = JSON.parse(libtorch);
  log(`building the native addon against libtorch from ${lt.source}${lt.cuda ? ' (CUDA)' : ''}`);
  run(join(root, 'node_modules', '.bin', 'node-gyp'), ['rebuild', `--nodedir=${nodeDir()}`, '-j', 'max', '--loglevel=warn']);
  mkdirSync(dirname(stampPath), { recursive: true });
  writeFileSync(stampPath, libtorch);
}

// ---- 4. TypeScript
function ensureTypescript() {
  const stampPath = join(root, 'dist', '.build-stamp');
  const sources = newest(['src', 'test', 'tsconfig.json']);
  if (existsSync(stampPath) && statSync(stampPath).mtimeMs >= sources) return;
  log('compiling TypeScript');
  run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json']);
  writeFileSync(stampPath, new Date().toISOString() + '\n');
}

try {
  ensureApt();
  ensureOpenmpBlas();
  ensureNodeModules();
  ensureAddon();
  ensureTypescript();
} catch (e) {
  console.error(`[setup] ${e.message}`);
  process.exit(1);
}
