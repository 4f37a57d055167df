/**
 * The Python the PyTorch side of the bench runs: the one whose libtorch the addon uses, so both
 * sides run the same PyTorch (LOAA_BENCH_PYTHON, LOAA_PYTHON, the project's .venv / .venv-cuda
 * that setup fills, else Debian's /usr/bin/python3 with its python3-torch). torchaudio exists only
 * for Debian's 1.13 here, so the front-end row compares against that one (`torchaudioPython`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function projectRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tools', 'bench'))) return dir;
    dir = dirname(dir);
  }
  return null;
}

/** tools/bench/<name>, found above this file (src/ or dist/src/). */
export function benchScript(name: string): string {
  const root = projectRoot();
  if (!root) throw new Error(`tools/bench/${name}: not found above ${fileURLToPath(import.meta.url)}`);
  return join(root, 'tools', 'bench', name);
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

/** A Python that can `import torchaudio` (LOAA_TORCHAUDIO_PYTHON, else Debian's), or null. */
export function torchaudioPython(): string | null {
  const candidates = [process.env.LOAA_TORCHAUDIO_PYTHON, torchPython(), '/usr/bin/python3'].filter((p): p is string => !!p);
  for (const p of candidates) {
    if (existsSync(p) && spawnSync(p, ['-c', 'import torchaudio'], { stdio: 'ignore' }).status === 0) return p;
  }
  return null;
}

/** Runs tools/bench/<script> and parses the JSON object on its last stdout line. */
export function runPythonJson(python: string, script: string, args: string[] = [], timeoutMs = 600_000): Record<string, unknown> {
  const path = benchScript(script);
  const r = spawnSync(python, [path, ...args], { encoding: 'utf8', env: process.env, timeout: timeoutMs });
  if (r.error) throw new Error(`${python} ${path}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${python} ${path}: exit ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`${python} ${path}: printed no JSON (${line.slice(0, 200)})`);
  }
}
