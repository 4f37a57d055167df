#!/usr/bin/env node
/**
 * One-command setup, run before `npm test`, `npm run demo` and `npm run bench`: installs the
 * compiler, a pinned PyTorch wheel into the project's own virtual environment (`.venv`), runs
 * `npm ci`, builds the libtorch addon and the TypeScript. Each step checks first and does nothing
 * when it is already done, so a second run takes a moment.
 *
 * Where libtorch comes from (scripts/find-libtorch.mjs): $LIBTORCH, $LOAA_PYTHON (a PyTorch you
 * have), LOAA_TORCH=system (Debian's libtorch-dev 1.13, also the fallback where pip is not
 * available), LOAA_TORCH=cuda (the CUDA wheel, in .venv-cuda), else the CPU wheel in .venv.
 *
 * Flags: --build-only (install nothing: build what the present libtorch allows),
 *        --build-dir DIR (build the addon in DIR/build instead of ./build, for a second libtorch;
 *        load it with LOAA_ADDON=DIR/build/Release/loaa_native.node).
 * Only Node built-ins here: this runs before node_modules exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
process.chdir(root);
const log = (msg) => console.log(`[setup] ${msg}`);

const argv = process.argv.slice(2);
const buildOnly = argv.includes('--build-only');
const buildDirArg = argv.includes('--build-dir') ? argv[argv.indexOf('--build-dir') + 1] : undefined;
if (argv.includes('--build-dir') && !buildDirArg) {
  console.error('[setup] --build-dir: expected a directory');
  process.exit(1);
}
for (const a of argv) {
  if (a.startsWith('--') && !['--build-only', '--build-dir'].includes(a)) {
    console.error(`[setup] ${a}: unknown flag (known: --build-only, --build-dir DIR)`);
    process.exit(1);
  }
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`\`${cmd} ${args.join(' ')}\` failed with exit status ${r.status}`);
}

// ---- 1. Debian packages and the PyTorch wheel
// The pinned wheels. CPU: the +cpu build from PyTorch's CPU index (PyPI's Linux torch is the CUDA
// build, 4 GB more). CUDA: PyPI's build; where its dependency list cannot be met (a local wheel
// store without cuda-bindings) the libraries it needs, without dependencies, as listed here.
const WHEELS = {
  cpu: { venv: '.venv', spec: ['torch==2.13.0+cpu'], index: ['--extra-index-url', 'https://download.pytorch.org/whl/cpu'] },
  cuda: {
    venv: '.venv-cuda',
    spec: ['torch==2.14.1'],
    index: [],
    noDeps: [
      'torch==2.14.1',
      'nvidia-cublas',
      'nvidia-cufft',
      'nvidia-cusparse',
      'nvidia-cusparselt-cu13',
      'nvidia-nccl-cu13',
      'nvidia-curand',
      'nvidia-cudnn-cu13',
      'nvidia-cuda-nvrtc',
      'nvidia-nvshmem-cu13',
      'nvidia-cufile',
      'nvidia-nvjitlink',
      'nvidia-cusolver',
      'nvidia-cuda-cupti',
      'nvidia-nvtx',
    ],
  },
};
// pip retries an index it cannot reach for about 90 s before it uses other sources (a local wheel
// store, a proxy). Setup tries the fast-failing form first and pip's defaults after, so a slow
// network still works, only later.
const PIP_FAST = ['--retries', '0', '--timeout', '5'];

const torchMode = () => process.env.LOAA_TORCH ?? '';
const usesWheel = () => !process.env.LIBTORCH && !process.env.LOAA_PYTHON && torchMode() !== 'system';

const APT_ALWAYS = {
  'g++': 'compiles the native addon',
  'libgloo-dev': "Gloo's headers for c10d's CPU process group (both libtorch builds have Gloo compiled in; neither ships its headers)",
  make: 'builds the native addon',
  'libopenblas0-openmp':
    "OpenBLAS with OpenMP threads: Debian libtorch's matrix products (~60x the reference BLAS), and a fp32 GEMM kernel loaa measures against MKL (MKL is slow on AMD CPUs)",
  'libblis4-openmp': 'BLIS with OpenMP threads: another fp32 GEMM kernel loaa measures (LOAA_GEMM=blis)',
};
const APT_WHEEL = { 'python3-venv': 'a project-local Python environment for the PyTorch wheel' };
const APT_SYSTEM = {
  'libtorch-dev': "Debian's libtorch 1.13 (PyTorch's C++ library), the tensor engine",
};

function installed(pkg) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${Status} is dpkg-query's field syntax, not a template
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function aptInstall(pkgs) {
  if (!existsSync('/usr/bin/dpkg-query')) {
    log(`not a Debian system: make sure these are installed: ${Object.keys(pkgs).join(', ')}`);
    return;
  }
  const missing = Object.keys(pkgs).filter((p) => !installed(p));
  if (!missing.length) return;
  log('installing Debian packages:');
  for (const p of missing) log(`  ${p}: ${pkgs[p]}`);
  const isRoot = process.getuid?.() === 0;
  const sudo = isRoot ? [] : ['sudo'];
  if (!isRoot && spawnSync('sudo', ['-n', 'true']).status !== 0) {
    throw new Error(`missing Debian packages ${missing.join(', ')}: run as root or \`sudo apt-get install -y ${missing.join(' ')}\``);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) =>
    spawnSync(sudo.length ? 'sudo' : 'apt-get', [...(sudo.length ? ['apt-get'] : []), ...args], { stdio: 'inherit', env });
  if (apt(['install', '-y', '-q', '--no-install-recommends', ...missing]).status !== 0) {
    log('apt-get install failed; refreshing the package lists and trying again');
    if (apt(['update', '-q']).status !== 0) throw new Error('apt-get update failed');
    if (apt(['install', '-y', '-q', '--no-install-recommends', ...missing]).status !== 0) {
      throw new Error(`apt-get install ${missing.join(' ')} failed`);
    }
  }
}

function findPython() {
  for (const py of [process.env.LOAA_VENV_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    const r = spawnSync(py, ['-c', 'import sys, venv; print(sys.version_info >= (3, 10))'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'True') return py;
  }
  return null;
}

function pipInstall(venv, args) {
  const pip = join(venv, 'bin', 'pip');
  for (const extra of [PIP_FAST, []]) {
    log(`${relative(root, pip)} install ${[...extra, ...args].join(' ')}`);
    if (spawnSync(pip, ['install', '--disable-pip-version-check', ...extra, ...args], { stdio: 'inherit' }).status === 0) return true;
  }
  return false;
}

/**
 * The pinned PyTorch wheel in the project's venv. Returns false where that is impossible (no
 * Python 3.10+ with venv, pip fails) so the caller can fall back to Debian's libtorch.
 */
function ensureWheel() {
  const kind = torchMode() === 'cuda' ? 'cuda' : 'cpu';
  const w = WHEELS[kind];
  const venv = join(root, w.venv);
  const stampPath = join(venv, '.loaa-torch');
  const want = JSON.stringify(w.spec);
  if (existsSync(stampPath) && readFileSync(stampPath, 'utf8') === want) return true;
  const py = findPython();
  if (!py) {
    log('no Python 3.10+ with the venv module found');
    return false;
  }
  if (!existsSync(join(venv, 'bin', 'pip'))) {
    log(`creating ${w.venv} (a virtual environment for PyTorch's libtorch; nothing is installed system-wide)`);
    if (spawnSync(py, ['-m', 'venv', venv], { stdio: 'inherit' }).status !== 0) return false;
  }
  log(`installing PyTorch ${w.spec[0].split('==')[1]} (${kind.toUpperCase()}) into ${w.venv}: the addon builds against its libtorch`);
  let ok = pipInstall(venv, [...w.index, ...w.spec]);
  if (!ok && w.noDeps) {
    log('trying the CUDA libraries without dependency resolution');
    ok = pipInstall(venv, ['--no-deps', ...w.noDeps]);
  }
  if (!ok) return false;
  writeFileSync(stampPath, want);
  return true;
}

function ensureEngine() {
  if (buildOnly) return;
  if (usesWheel()) {
    aptInstall({ ...APT_ALWAYS, ...APT_WHEEL });
    if (ensureWheel()) return;
    if (torchMode() === 'cuda') throw new Error("LOAA_TORCH=cuda: could not install the CUDA wheel (see pip's output above)");
    log("could not install the PyTorch wheel: falling back to Debian's libtorch-dev 1.13 (LOAA_TORCH=system)");
    process.env.LOAA_TORCH = 'system';
  }
  if (process.env.LIBTORCH || process.env.LOAA_PYTHON) {
    aptInstall(APT_ALWAYS);
    return;
  }
  aptInstall({ ...APT_ALWAYS, ...APT_SYSTEM });
  ensureOpenmpBlas();
}

// Debian path only. libtorch-dev pulls in the pthread OpenBLAS as well; two thread pools (OpenMP
// for libtorch, pthreads for BLAS) fight over the cores. Point the BLAS alternatives (a system-wide
// setting, hence announced) at the OpenMP build. Wheels bring their own BLAS (MKL) and need none.
function ensureOpenmpBlas() {
  if (!existsSync('/usr/bin/update-alternatives')) return;
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
    log(`system-wide change for Debian's libtorch: selecting the OpenMP OpenBLAS for ${lib} (was ${current})`);
    run('update-alternatives', ['--set', `${lib}-${arch}`, target], { stdio: 'ignore' });
  }
}

// ---- 2. npm packages
function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(join(root, 'package-lock.json')).mtimeMs) return;
  log('npm ci');
  // onnxruntime-node (a dev dependency here) would download CUDA providers in its postinstall; the
  // CPU runtime it ships is all loaa uses (this replaces the old .npmrc line npm warned about)
  run('npm', ['ci', '--no-audit', '--no-fund'], { env: { ONNXRUNTIME_NODE_INSTALL: 'skip', ...process.env } });
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

// A second build (another libtorch) lives in its own folder: node-gyp always builds in ./build, so
// that folder gets a binding.gyp whose paths point back at the sources.
function stageBuildDir(dir) {
  mkdirSync(dir, { recursive: true });
  const up = relative(dir, root) || '.';
  const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8')
    .replaceAll('"native/', `"${up}/native/`)
    .replaceAll('node scripts/', `node ${up}/scripts/`);
  const target = join(dir, 'binding.gyp');
  if (!existsSync(target) || readFileSync(target, 'utf8') !== gyp) writeFileSync(target, gyp);
}

function ensureAddon() {
  const dir = buildDirArg ? resolve(root, buildDirArg) : root;
  if (buildDirArg) stageBuildDir(dir);
  const out = join(dir, 'build', 'Release', 'loaa_native.node');
  const stampPath = join(dir, 'build', 'loaa-libtorch.json');
  const found = spawnSync(process.execPath, [join(root, 'scripts', 'find-libtorch.mjs'), 'describe'], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error(found.stderr.trim());
  const libtorch = found.stdout;
  const stamp = existsSync(stampPath) ? readFileSync(stampPath, 'utf8') : '';
  if (existsSync(out) && stamp === libtorch && statSync(out).mtimeMs >= newest(['native', 'binding.gyp'])) return;
  const lt = JSON.parse(libtorch);
  const v = lt.version ? `${lt.version.major}.${lt.version.minor}` : 'unknown version';
  log(
    `building the native addon${buildDirArg ? ` in ${buildDirArg}` : ''} against libtorch ${v} from ${lt.source}${lt.cuda ? ' (CUDA)' : ''}`,
  );
  run(join(root, 'node_modules', '.bin', 'node-gyp'), ['rebuild', `--nodedir=${nodeDir()}`, '-j', 'max', '--loglevel=warn'], { cwd: dir });
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
  writeFileSync(stampPath, `${new Date().toISOString()}\n`);
}

try {
  ensureEngine();
  ensureNodeModules();
  ensureAddon();
  ensureTypescript();
} catch (e) {
  console.error(`[setup] ${e.message}`);
  process.exit(1);
}
