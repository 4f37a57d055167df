/**
 * Loop checkpoints (`checkpoint/` in the run directory): trainable tensors, optimizer state and the
 * loop position, written beside the old one and swapped in, so a crash never leaves a torn one.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { readSafetensors } from '../io/safetensors.js';
import { writeFileAtomic } from '../util/fs.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import type { Optimizer, GroupOptions } from '../optim/optimizer.js';

export interface LoopState {
  /** the epoch being run (0-based) */
  epoch: number;
  /** the next batch of that epoch */
  batch: number;
  /** optimizer steps done */
  step: number;
  /** train loss sum / count of the current epoch so far */
  lossSum: number;
  lossCount: number;
  /** training seconds of the current epoch so far (resumed epochs add up) */
  epochSeconds: number;
  /** per finished epoch: training seconds */
  trainSeconds: number[];
  best: { epoch: number; value: number } | null;
}

export const CHECKPOINT = 'checkpoint';
const CHECKPOINT_OLD = '.checkpoint-old';

/** The checkpoint directory to resume from (a crash between the two renames leaves the old one). */
export function findCheckpoint(out: string): string | null {
  const cur = join(out, CHECKPOINT);
  if (existsSync(join(cur, 'state.json'))) return cur;
  const old = join(out, CHECKPOINT_OLD);
  if (existsSync(join(old, 'state.json'))) return old;
  return null;
}

/** Whether every tensor is free of NaN and infinity (weights before they are checkpointed). */
export function allFinite(params: Tensor[]): boolean {
  return noGrad(() => scope(() => params.every((p) => p.isfinite().all())));
}

/** Writes a complete checkpoint beside the old one, then swaps them: never a torn checkpoint. */
export function saveCheckpoint(out: string, model: AudioSpectrogramTransformer, opt: Optimizer<GroupOptions>, state: LoopState, seed: number): void {
  const tmp = join(out, `.checkpoint-tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const names = new Set(model.trainableParameters().map(([n]) => n));
  model.saveSafetensors(join(tmp, 'trainable.safetensors'), (n) => names.has(n));
  opt.saveSafetensors(join(tmp, 'optimizer.safetensors'));
  writeFileAtomic(join(tmp, 'state.json'), JSON.stringify({ format: 'loaa-checkpoint/1', seed, ...state }, null, 1) + '\n');
  const cur = join(out, CHECKPOINT);
  const old = join(out, CHECKPOINT_OLD);
  rmSync(old, { recursive: true, force: true });
  if (existsSync(cur)) renameSync(cur, old);
  renameSync(tmp, cur);
  rmSync(old, { recursive: true, force: true });
}

export function loadCheckpoint(dir: string, model: AudioSpectrogramTransformer, opt: Optimizer<GroupOptions>): LoopState {
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as LoopState & { format?: string };
  if (state.format !== 'loaa-checkpoint/1') throw new Error(`${join(dir, 'state.json')}: not a loaa checkpoint`);
  const file = join(dir, 'trainable.safetensors');
  const tensors = readSafetensors(file).tensors;
  const want = model.trainableParameters().map(([n]) => n);
  const missing = want.filter((n) => !tensors.has(n));
  if (missing.length) throw new Error(`${file}: missing ${missing.length} trainable tensor(s) of this model: ${missing.slice(0, 4).join(', ')}`);
  model.loadStateDict(tensors, { source: file });
  opt.loadSafetensors(join(dir, 'optimizer.safetensors'));
  return state;
}
