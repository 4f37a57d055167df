/**
 * Loop checkpoints (`checkpoint/` in the run directory): trainable tensors, optimizer state, the
 * loop position and fp16's dynamic loss scale, written beside the old one and swapped in, so a
 * crash never leaves a torn one.
 */
import { existsSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { getNumThreads, noGrad } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { readSafetensors } from '../io/safetensors.js';
import { readRegularText, writeFileAtomic } from '../util/fs.js';
import { renameGuarded } from '../util/guarded_fs.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import type { Optimizer, GroupOptions } from '../optim/optimizer.js';
import type { GradScaler, GradScalerState } from './amp.js';

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

/**
 * fp16's loss scaler (GradScaler's `scale` and `_growth_tracker`, and the steps skipped so far) in
 * state.json's `amp`: without it a resumed run would start again from the initial scale and differ
 * from an uninterrupted one.
 */
export type AmpState = GradScalerState;

export const CHECKPOINT = 'checkpoint';
const CHECKPOINT_OLD = '.checkpoint-old';

/** The checkpoint directory to resume from (a crash between the two renames leaves the old one). */
export function findCheckpoint(out: string): string | null {
  const cur = join(out, CHECKPOINT);
  // the trainer writes these folders itself: a link there was planted, and would load (or, on the
  // next save, replace) another run's state
  for (const d of [cur, join(out, CHECKPOINT_OLD)]) {
    try {
      if (lstatSync(d).isSymbolicLink())
        throw new Error(
          `${d}: it is a symbolic link, not the checkpoint folder the trainer wrote; remove it (or resume the run it points into)`,
        );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  if (existsSync(join(cur, 'state.json'))) return cur;
  const old = join(out, CHECKPOINT_OLD);
  if (existsSync(join(old, 'state.json'))) return old;
  return null;
}

/** Whether every tensor is free of NaN and infinity (weights before they are checkpointed). */
export function allFinite(params: Tensor[]): boolean {
  return noGrad(() => scope(() => params.every((p) => p.isfinite().all())));
}

/**
 * Writes a complete checkpoint beside the old one, then swaps them: never a torn checkpoint. An
 * enabled `scaler` (fp16) is saved as state.json's `amp`.
 */
export function saveCheckpoint(
  out: string,
  model: AudioSpectrogramTransformer,
  opt: Optimizer<GroupOptions>,
  state: LoopState,
  seed: number,
  scaler?: GradScaler | null,
): void {
  const tmp = join(out, `.checkpoint-tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const names = new Set(model.trainableParameters().map(([n]) => n));
  model.saveSafetensors(join(tmp, 'trainable.safetensors'), (n) => names.has(n));
  opt.saveSafetensors(join(tmp, 'optimizer.safetensors'));
  const amp: AmpState | undefined = scaler?.enabled ? scaler.stateDict() : undefined;
  writeFileAtomic(
    join(tmp, 'state.json'),
    `${JSON.stringify({ format: 'loaa-checkpoint/1', seed, threads: getNumThreads(), ...state, ...(amp ? { amp } : {}) }, null, 1)}\n`,
  );
  const cur = join(out, CHECKPOINT);
  const old = join(out, CHECKPOINT_OLD);
  rmSync(old, { recursive: true, force: true });
  if (existsSync(cur)) renameGuarded(cur, old, 'the previous checkpoint');
  renameGuarded(tmp, cur, 'the checkpoint');
  rmSync(old, { recursive: true, force: true });
}

/** A state.json checked field by field: a tampered one (epoch -5, step "x") is an Error naming the key. */
export function checkLoopState(v: unknown, file: string): LoopState & { format: string; threads?: number; amp?: AmpState } {
  const s = v as Record<string, unknown>;
  if (!s || typeof s !== 'object' || Array.isArray(s)) throw new Error(`${file}: not a JSON object`);
  if (s.format !== 'loaa-checkpoint/1') throw new Error(`${file}: not a loaa checkpoint`);
  const count = (k: string): void => {
    if (!Number.isSafeInteger(s[k]) || (s[k] as number) < 0)
      throw new Error(`${file}: ${k}: expected a non-negative integer, got ${JSON.stringify(s[k])}`);
  };
  const finite = (k: string, x: unknown): void => {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0)
      throw new Error(`${file}: ${k}: expected a finite non-negative number, got ${JSON.stringify(x)}`);
  };
  for (const k of ['epoch', 'batch', 'step', 'lossCount']) count(k);
  finite('epochSeconds', s.epochSeconds);
  if (typeof s.lossSum !== 'number' || !Number.isFinite(s.lossSum))
    throw new Error(`${file}: lossSum: expected a finite number, got ${JSON.stringify(s.lossSum)}`);
  if (!Array.isArray(s.trainSeconds) || s.trainSeconds.length !== s.epoch)
    throw new Error(`${file}: trainSeconds: expected one entry per finished epoch (${String(s.epoch)})`);
  s.trainSeconds.forEach((x, i) => {
    finite(`trainSeconds.${i}`, x);
  });
  const b = s.best as { epoch?: unknown; value?: unknown } | null;
  if (b !== null && (typeof b !== 'object' || !Number.isSafeInteger(b.epoch) || typeof b.value !== 'number' || !Number.isFinite(b.value))) {
    throw new Error(`${file}: best: expected null or {epoch, value}, got ${JSON.stringify(b)}`);
  }
  if (s.threads !== undefined && (!Number.isSafeInteger(s.threads) || (s.threads as number) < 1))
    throw new Error(`${file}: threads: expected a positive integer, got ${JSON.stringify(s.threads)}`);
  // absent in checkpoints of fp32 and bf16 runs and of versions before it: the scaler's defaults
  if (s.amp !== undefined) {
    const a = s.amp as Record<string, unknown>;
    if (!a || typeof a !== 'object' || Array.isArray(a))
      throw new Error(`${file}: amp: expected {scale, growthTracker}, got ${JSON.stringify(a)}`);
    // JSON.stringify writes NaN as null: say what the value is
    const shown = (x: unknown): string => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : JSON.stringify(x));
    if (typeof a.scale !== 'number' || !Number.isFinite(a.scale) || !(a.scale > 0))
      throw new Error(`${file}: amp.scale: expected a finite positive number, got ${shown(a.scale)}`);
    for (const k of ['growthTracker', 'skipped']) {
      if (k === 'skipped' && a[k] === undefined) continue;
      if (!Number.isSafeInteger(a[k]) || (a[k] as number) < 0)
        throw new Error(`${file}: amp.${k}: expected a non-negative integer, got ${shown(a[k])}`);
    }
  }
  return s as unknown as LoopState & { format: string; threads?: number; amp?: AmpState };
}

/** What the run being resumed allows: its recipe's epochs and the batches of one epoch. */
export interface RunShape {
  epochs: number;
  batchesPerEpoch: number;
}

/**
 * The loop position checked against the run it resumes: a state.json saying batch 1000000 of a
 * 4-batch epoch would otherwise skip the rest of the epoch silently (0 steps, train_loss null).
 */
export function checkStateAgainstRun(state: LoopState, file: string, run: RunShape): void {
  const fix = `the checkpoint does not belong to this run; delete ${file.replace(/state\.json$/, '')} to start the run again`;
  if (state.epoch > run.epochs) throw new Error(`${file}: epoch: ${state.epoch} is past the recipe's train.epochs (${run.epochs}): ${fix}`);
  if (state.batch > run.batchesPerEpoch)
    throw new Error(`${file}: batch: ${state.batch} is past the ${run.batchesPerEpoch} batches of an epoch of this run: ${fix}`);
  const most = state.epoch * run.batchesPerEpoch + state.batch;
  if (state.step > most)
    throw new Error(
      `${file}: step: ${state.step} optimizer steps is more than the ${most} batches before epoch ${state.epoch + 1}, batch ${state.batch}: ${fix}`,
    );
  if (state.best && !(state.best.epoch >= 0 && state.best.epoch < Math.max(1, state.epoch + 1))) {
    throw new Error(`${file}: best.epoch: ${state.best.epoch} is not an epoch finished before epoch ${state.epoch + 1}: ${fix}`);
  }
}

/**
 * Restores the model's trainable tensors, the optimizer and an enabled `scaler` (fp16; one without
 * `amp` in state.json keeps its initial scale) and returns the loop position.
 */
export function loadCheckpoint(
  dir: string,
  model: AudioSpectrogramTransformer,
  opt: Optimizer<GroupOptions>,
  allowThreadChange = false,
  scaler?: GradScaler | null,
  run?: RunShape,
): LoopState {
  const stateFile = join(dir, 'state.json');
  const text = readRegularText(stateFile, 'checkpoint state');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${stateFile}: not valid JSON (${(e as Error).message})`);
  }
  const state = checkLoopState(raw, stateFile);
  if (run) checkStateAgainstRun(state, stateFile, run);
  // reductions split by thread: only the same count continues bit for bit
  const threads = getNumThreads();
  if (state.threads !== undefined && state.threads !== threads && !allowThreadChange) {
    throw new Error(
      `${stateFile}: this run was trained with ${state.threads} threads and this process has ${threads}: a resumed run is bit-identical ` +
        `to an uninterrupted one only at the same thread count. Set LOAA_NUM_THREADS=${state.threads}, or pass --allow-thread-change ` +
        '(training continues correctly, but the final weights differ from an uninterrupted run in the last bits)',
    );
  }
  delete (state as { threads?: number }).threads;
  const amp = state.amp;
  // the loop's state carries no scaler: saveCheckpoint writes the live one
  delete state.amp;
  const file = join(dir, 'trainable.safetensors');
  const tensors = readSafetensors(file).tensors;
  const want = model.trainableParameters().map(([n]) => n);
  const missing = want.filter((n) => !tensors.has(n));
  if (missing.length)
    throw new Error(`${file}: missing ${missing.length} trainable tensor(s) of this model: ${missing.slice(0, 4).join(', ')}`);
  model.loadStateDict(tensors, { source: file });
  opt.loadSafetensors(join(dir, 'optimizer.safetensors'));
  if (amp && scaler?.enabled) scaler.loadStateDict({ ...amp, steps: state.step });
  return state;
}
