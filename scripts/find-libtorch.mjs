#!/usr/bin/env node
/**
 * Where is libtorch? Prints one field for binding.gyp: `include`, `libdir`, `libs`, `abi`, or
 * `describe` (human summary). Order, first match wins:
 *   1. $LIBTORCH: an unpacked official libtorch download (CPU or CUDA);
 *   2. the libtorch inside an installed Python `torch` package ($LOAA_PYTHON, python3, /usr/bin/python3),
 *      when it ships its own headers and libs (pip wheels do; Debian's python3-torch uses the system one);
 *   3. the system libtorch (Debian's libtorch-dev: headers in /usr/include, libs in the multiarch dir).
 */
import { existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

function fromRoot(root, source) {
  const lib = join(root, 'lib');
  const inc = join(root, 'include');
  if (!existsSync(join(inc, 'ATen', 'ATen.h'))) return null;
  if (!readdirSync(lib).some((f) => f.startsWith('libtorch_cpu.'))) return null;
  return { source, root, include: [inc, join(inc, 'torch', 'csrc', 'api', 'include')], libdir: lib };
}

function fromPython() {
  const pythons = [process.env.LOAA_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean);
  for (const py of pythons) {
    try {
      const out = execFileSync(py, ['-c', 'import os, torch; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'], {
        encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000,
      }).trim().split('\n');
      const found = fromRoot(out[0], `python torch (${py})`);
      if (found) return { ...found, abi: out[1] };
    } catch { /* no torch for this interpreter */ }
  }
  return null;
}

function fromSystem() {
  if (!existsSync('/usr/include/ATen/ATen.h')) return null;
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const libdir = dirs.find((d) => existsSync(join(d, 'libtorch_cpu.so')));
  if (!libdir) return null;
  return { source: 'system (Debian libtorch-dev)', root: '/usr', include: ['/usr/include', '/usr/include/torch/csrc/api/include'], libdir, abi: '1' };
}

function detectAbi(libdir) {
  try {
    const syms = execFileSync('nm', ['-D', '--defined-only', join(libdir, 'libc10.so')], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return syms.includes('__cxx11') ? '1' : '0';
  } catch {
    return '1';
  }
}

export function findLibtorch() {
  let found = null;
  if (process.env.LIBTORCH) {
    found = fromRoot(process.env.LIBTORCH, `$LIBTORCH (${process.env.LIBTORCH})`);
    if (!found) {
      throw new Error(`LIBTORCH=${process.env.LIBTORCH}: no libtorch there (expected include/ATen/ATen.h and lib/libtorch_cpu.so)`);
    }
  }
  found ??= fromPython() ?? fromSystem();
  if (!found) return null;
  found.abi = process.env.LIBTORCH_CXX11_ABI ?? found.abi ?? detectAbi(found.libdir);
  const has = (name) => existsSync(join(found.libdir, `lib${name}.so`));
  found.libs = ['torch', 'torch_cpu', 'c10', ...['torch_cuda', 'c10_cuda'].filter(has)];
  found.cuda = has('torch_cuda');
  return found;
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop());
if (isMain) {
  const lt = findLibtorch();
  const what = process.argv[2] ?? 'describe';
  if (!lt) {
    console.error('libtorch not found: set LIBTORCH, install Python torch, or apt-get install libtorch-dev');
    process.exit(1);
  }
  if (what === 'include') console.log(lt.include.join(' '));
  else if (what === 'libdir') console.log(lt.libdir);
  else if (what === 'libs') console.log(lt.libs.map((l) => `-l${l}`).join(' '));
  else if (what === 'abi') console.log(lt.abi);
  else if (what === 'cuda') console.log(lt.cuda ? '1' : '0');
  else console.log(JSON.stringify(lt, null, 2));
}
