/**
 * The Python the PyTorch side of the bench runs: the one whose libtorch the addon uses, so both
 * sides run the same PyTorch (LOAA_BENCH_PYTHON, LOAA_PYTHON, the project's .venv / .venv-cuda
 * that setup fills, else Debian's /usr/bin/python3 with its python3-torch).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function projectRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return null;
}

export function torchPython(): string {
  const env = process.env.LOAA_BENCH_PYTHON ?? process.env.LOAA_PYTHON;
  if (env) return env;
  const root = projectRoot();
  if (root && process.env.LOAA_TORCH !== 'system') {
    const venv = join(root, process.env.LOAA_TORCH === 'cuda' ? '.venv-cuda' : '.venv', 'bin', 'python');
    if (existsSync(venv)) return venv;
  }
  return '/usr/bin/python3';
}
