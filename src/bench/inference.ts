/**
 * AST inference speed and peak memory on the paper's backbone (deit_base_distilled_patch16_384,
 * random weights: speed does not depend on the values), 512 frames, stride 16 and 10, batch 1 and
 * 8. Each configuration runs in a fresh child process so that its peak RSS is its own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { torchPython } from './python.js';

export interface InferenceRow {
  stride: number;
  batch: number;
  clipsPerSec: number;
  msPerBatch: number;
  peakRssMiB: number;
}

const CONFIGS = [
  { stride: 16, batch: 1 },
  { stride: 16, batch: 8 },
  { stride: 10, batch: 1 },
  { stride: 10, batch: 8 },
];

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..');

function runChild(cmd: string, args: string[]): InferenceRow {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: process.env, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr || '').trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as InferenceRow;
}

export async function benchInference(): Promise<Record<string, unknown>> {
  const python = torchPython();
  const pyScript = join(repo, 'tools', 'bench', 'inference_torch.py');
  const hasTorch = existsSync(python) && spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  const rows: Record<string, unknown>[] = [];
  for (const c of CONFIGS) {
    const node = runChild(process.execPath, [join(here, 'inference_child.js'), String(c.stride), String(c.batch)]);
    const row: Record<string, unknown> = { stride: c.stride, batch: c.batch, node };
    if (hasTorch) {
      const torch = runChild(python, [pyScript, String(c.stride), String(c.batch)]);
      row.pytorch = torch;
      row.speedRatio = +(node.clipsPerSec / torch.clipsPerSec).toFixed(3);
    }
    rows.push(row);
  }
  return { model: 'deit_base_distilled_patch16_384', frames: 512, rows };
}
