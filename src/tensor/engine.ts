/**
 * Where and in which precision a model computes, resolved once from the user's words (`--device`,
 * `--precision`, `train.device`, the API's options): training, evaluation, inference and the
 * attention maps all go through `resolveEngine`, so `auto` and a missing GPU mean the same everywhere.
 */
import { deviceType, type AutocastDevice } from './autocast.js';
import { parsePrecision, precisionDtype, type LowDType, type Precision } from './engine_spec.js';
import { resolveDevice } from './device.js';
import { resolvePrecision } from './precision.js';

export type { DeviceSpec, PrecisionSpec } from './engine_spec.js';

export interface Engine {
  device: string;
  precision: Precision;
  /** autocast's device type and dtype (null: fp32, autocast off) */
  amp: { device: AutocastDevice; dtype: LowDType | null };
}

export const CPU_FP32: Engine = { device: 'cpu', precision: 'fp32', amp: { device: 'cpu', dtype: null } };

/** How errors name the two settings: `--device` on a command line, `train.device` in a recipe. */
export interface EngineNames {
  device: string;
  precision: string;
}

export const FLAG_NAMES: EngineNames = { device: '--device', precision: '--precision' };

/** The recipe keys of a section (`train.device`, `train.precision`). */
export const recipeNames = (section: string): EngineNames => ({ device: `${section}.device`, precision: `${section}.precision` });

/**
 * Checks and resolves a device and a precision; a GPU that is not there, or an unknown value, is a
 * one-line error naming the setting as `names` spells it.
 */
export function resolveEngine(device: string = 'cpu', precision: string = 'fp32', names: EngineNames = FLAG_NAMES): Engine {
  const dev = resolveDevice(device, names.device);
  const p = resolvePrecision(parsePrecision(precision, names.precision), dev);
  return { device: dev, precision: p, amp: { device: deviceType(dev), dtype: precisionDtype(p) } };
}

/** What `placeModel` needs of a model (nn's Module has both). */
export interface Placeable {
  to(device: string): unknown;
  castFrozenWeights(dtype: LowDType | null): unknown;
}

/** Puts a built model on the engine's device, its frozen weights cast once for autocast. */
export function placeModel(model: Placeable, engine: Engine): void {
  if (engine.device !== 'cpu') model.to(engine.device);
  model.castFrozenWeights(engine.amp.dtype);
}
