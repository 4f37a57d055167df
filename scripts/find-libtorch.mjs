#!/usr/bin/env node
/**
 * Where is libtorch? Prints one field for binding.gyp: `include`, `libdir`, `libs`, `abi`, `std`,
 * `cuda`, or `describe` (JSON summary). Order, first match wins:
 *   1. $LIBTORCH: an unpacked official libtorch download (CPU or CUDA);
 *   2. $LOAA_TORCH=system: Debian's libtorch-dev (headers in /usr/include, libs in the multiarch dir);
 *   3. $LOAA_PYTHON: the torch package of that interpreter (a PyTorch the user already has);
 *   4. the project's own virtual environment that setup fills with a pinned PyTorch wheel, the way
 *      tch-rs's LIBTORCH_USE_PYTORCH takes libtorch from a Python install: `.venv` (CPU) or, with
 *      $LOAA_TORCH=cuda, `.venv-cuda` (CUDA wheel);
 *   5. the system libtorch, as in 2.
 * Wheels ship headers and libraries inside the package; Debian's python3-torch does not (it uses the
 * system libtorch), so 3 falls through for it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = dirname(dirname(fileURLToPath(import.meta.url)));

/** The venv setup manages for a LOAA_TORCH mode ('' or 'cpu' -> .venv, 'cuda' -> .venv-cuda). */
export function venvDir(mode = process.env.LOAA_TORCH ?? '') {
  return join(projectRoot, mode === 'cuda' ? '.venv-cuda' : '.venv');
}

function fromRoot(root, source) {
  const lib = join(root, 'lib');
  const inc = join(root, 'include');
  if (!existsSync(join(inc, 'ATen', 'ATen.h')) || !existsSync(lib)) return null;
  if (!readdirSync(lib).some((f) => f.startsWith('libtorch_cpu.'))) return null;
  return { source, root, include: [inc, join(inc, 'torch', 'csrc', 'api', 'include')], libdir: lib };
}

function fromPython(py) {
  try {
    const out = execFileSync(
      py,
      ['-c', 'import os, torch; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 60_000,
      },
    )
      .trim()
      .split('\n');
    const found = fromRoot(out[0], `python torch (${py})`);
    return found ? { ...found, abi: out[1] } : null;
  } catch {
    return null; // no torch for this interpreter
  }
}

/** The torch package inside a venv, found without starting Python (a quick second setup run). */
function fromVenv(venv) {
  const libDir = join(venv, 'lib');
  if (!existsSync(libDir)) return null;
  for (const py of readdirSync(libDir)
    .filter((d) => d.startsWith('python'))
    .sort()
    .reverse()) {
    const found = fromRoot(join(libDir, py, 'site-packages', 'torch'), `PyTorch wheel in ${venv}`);
    if (found) return found;
  }
  return null;
}

function fromSystem() {
  if (!existsSync('/usr/include/ATen/ATen.h')) return null;
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const libdir = dirs.find((d) => existsSync(join(d, 'libtorch_cpu.so')));
  if (!libdir) return null;
  return {
    source: 'system (Debian libtorch-dev)',
    root: '/usr',
    include: ['/usr/include', '/usr/include/torch/csrc/api/include'],
    libdir,
    abi: '1',
  };
}

// Official 2.x wheels and downloads use the C++11 ABI; 1.x pip wheels did not. The symbols say which.
function detectAbi(libdir) {
  try {
    const syms = execFileSync('nm', ['-D', '--defined-only', join(libdir, 'libc10.so')], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return syms.includes('__cxx11') ? '1' : '0';
  } catch {
    return '1';
  }
}

/** {major, minor} from the headers (torch/headeronly/version.h in 2.x, torch/version.h before). */
function headerVersion(include) {
  for (const inc of include) {
    for (const f of [join(inc, 'torch', 'headeronly', 'version.h'), join(inc, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h')]) {
      if (!existsSync(f)) continue;
      const text = readFileSync(f, 'utf8');
      const major = /#define TORCH_VERSION_MAJOR (\d+)/.exec(text)?.[1];
      const minor = /#define TORCH_VERSION_MINOR (\d+)/.exec(text)?.[1];
      if (major && minor) return { major: Number(major), minor: Number(minor) };
    }
  }
  return null;
}

// CUDA wheels load cuBLAS, cuDNN, NCCL... from sibling packages (site-packages/nvidia/*/lib), which
// torch's Python side preloads; the addon has no Python, so it needs them on its rpath.
function nvidiaLibdirs(torchRoot) {
  const nv = join(dirname(torchRoot), 'nvidia');
  if (!existsSync(nv)) return [];
  const dirs = [];
  for (const pkg of readdirSync(nv).sort()) {
    for (const sub of ['lib', join('cu13', 'lib'), join('cu12', 'lib')]) {
      if (existsSync(join(nv, pkg, sub))) dirs.push(join(nv, pkg, sub));
    }
  }
  return dirs;
}

export function findLibtorch() {
  const mode = process.env.LOAA_TORCH ?? '';
  if (!['', 'cpu', 'wheel', 'cuda', 'system'].includes(mode)) {
    throw new Error(`LOAA_TORCH=${mode}: expected cpu, cuda or system`);
  }
  let found = null;
  if (process.env.LIBTORCH) {
    found = fromRoot(process.env.LIBTORCH, `$LIBTORCH (${process.env.LIBTORCH})`);
    if (!found) {
      throw new Error(`LIBTORCH=${process.env.LIBTORCH}: no libtorch there (expected include/ATen/ATen.h and lib/libtorch_cpu.so)`);
    }
  } else if (mode === 'system') {
    found = fromSystem();
    if (!found) throw new Error('LOAA_TORCH=system: no libtorch in /usr (apt-get install libtorch-dev)');
  } else if (process.env.LOAA_PYTHON) {
    found = fromPython(process.env.LOAA_PYTHON);
    if (!found) throw new Error(`LOAA_PYTHON=${process.env.LOAA_PYTHON}: that interpreter has no torch package with its own libtorch`);
  } else {
    found = fromVenv(venvDir(mode));
    if (!found && mode === 'cuda') return null; // setup installs the CUDA wheel first
  }
  found ??= fromSystem();
  if (!found) return null;
  found.abi = process.env.LIBTORCH_CXX11_ABI ?? found.abi ?? detectAbi(found.libdir);
  const has = (name) => existsSync(join(found.libdir, `lib${name}.so`));
  found.libs = ['torch', 'torch_cpu', 'c10', ...['torch_cuda', 'c10_cuda'].filter(has)];
  found.cuda = has('torch_cuda');
  found.extraLibdirs = found.cuda ? nvidiaLibdirs(found.root) : [];
  // c10d's NCCL header pulls in nccl.h, cuSPARSE/cuBLAS and CUDA runtime headers (native/distributed.cc)
  if (found.cuda)
    found.include.push(
      ...[
        ...found.extraLibdirs.map((d) => join(dirname(d), 'include')),
        join(process.env.CUDA_HOME ?? '/usr/local/cuda', 'include'),
      ].filter((d) => existsSync(d)),
    );
  found.version = headerVersion(found.include);
  // 2.x headers use C++20 features (TorchConfig.cmake asks for CXX_STANDARD 20); 1.x builds with 17
  found.std = found.version && found.version.major >= 2 ? 'c++20' : 'c++17';
  return found;
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop());
if (isMain) {
  let lt;
  try {
    lt = findLibtorch();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  const what = process.argv[2] ?? 'describe';
  if (!lt) {
    console.error(
      'libtorch not found: run `node scripts/setup.mjs` (installs PyTorch into .venv), set LIBTORCH or LOAA_PYTHON, or apt-get install libtorch-dev',
    );
    process.exit(1);
  }
  if (what === 'include') console.log(lt.include.join(' '));
  else if (what === 'libdir') console.log(lt.libdir);
  else if (what === 'libs') console.log(lt.libs.map((l) => `-l${l}`).join(' '));
  else if (what === 'abi') console.log(lt.abi);
  else if (what === 'std') console.log(lt.std);
  else if (what === 'rpaths') console.log(lt.extraLibdirs.flatMap((d) => [`-Wl,-rpath,${d}`, `-Wl,-rpath-link,${d}`]).join(' '));
  else if (what === 'cuda') console.log(lt.cuda ? '1' : '0');
  else console.log(JSON.stringify(lt, null, 2));
}
