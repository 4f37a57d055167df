/** Where and in which precision a run computes: train.device and train.precision resolved. */
import type { Module } from '../nn/module.js';
import { deviceType, precisionDtype, type AutocastDevice, type LowDType, type Precision } from '../tensor/autocast.js';
import { resolveDevice } from '../tensor/device.js';
import { resolvePrecision } from '../tensor/precision.js';

export interface Engine {
  device: string;
  precision: Precision;
  /** autocast's device type and dtype (null: fp32, autocast off) */
  amp: { device: AutocastDevice; dtype: LowDType | null };
}

export const CPU_FP32: Engine = { device: 'cpu', precision: 'fp32', amp: { device: 'cpu', dtype: null } };

/** `where` names the recipe section in errors (`train.device: cuda requested but ...`). */
export function resolveEngine(device: string, precision: Precision | 'auto', where = 'train'): Engine {
  const dev = resolveDevice(device, `${where}.device`);
  const p = resolvePrecision(precision, dev);
  return { device: dev, precision: p, amp: { device: deviceType(dev), dtype: precisionDtype(p) } };
}

/** Puts a built model on the engine's device, its frozen weights cast once for autocast. */
export function placeModel(model: Module, engine: Engine): void {
  if (engine.device !== 'cpu') model.to(engine.device);
  model.castFrozenWeights(engine.amp.dtype);
}
