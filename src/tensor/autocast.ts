/**
 * Mixed precision with torch.autocast's semantics, through libtorch's own autocast dispatch keys:
 * inside `autocast(...)` matmul, linear and conv run in the low-precision dtype while softmax,
 * layer norm, losses and reductions run in float32 (libtorch's op lists, not ours), and gradients
 * flow back to float32 master parameters. The state is per thread, as in torch.
 */
import { nativeOps as ops } from './tensor.js';
import type { LowDType } from './engine_spec.js';

export { PRECISIONS, parsePrecision, precisionDtype, type LowDType, type Precision } from './engine_spec.js';
export type AutocastDevice = 'cpu' | 'cuda';

// Mirrors the native state so layers can ask "is autocast on, in which dtype?" without a native call.
const active: Record<AutocastDevice, LowDType | null> = { cpu: null, cuda: null };

/** The dtype autocast currently casts to on `device`, or null when it is off. */
export function autocastDtype(device: AutocastDevice = 'cpu'): LowDType | null {
  return active[device];
}

/** The autocast device type of a tensor device string ('cuda:1' -> 'cuda'). */
export function deviceType(device: string): AutocastDevice {
  if (device === 'cpu') return 'cpu';
  if (device === 'cuda' || device.startsWith('cuda:')) return 'cuda';
  throw new Error(`device "${device}": autocast supports cpu and cuda`);
}

/**
 * Runs `fn` with autocast on for `device` in `dtype` (null runs it unchanged). Nested regions
 * restore the outer state; the weight-cast cache is cleared when the outermost region ends.
 * `fn` must be synchronous: the state is thread-wide.
 */
export function autocast<T>(device: AutocastDevice, dtype: LowDType | null, fn: () => T): T {
  if (dtype === null) return fn();
  const prev = ops.autocastEnter(device, dtype) as { enabled: boolean; dtype: string };
  const prevJs = active[device];
  active[device] = dtype;
  try {
    return fn();
  } finally {
    active[device] = prevJs;
    ops.autocastExit(device, prev.enabled, prev.dtype);
  }
}

/**
 * Why CPU mixed precision is limited on this libtorch, or null where it is not. libtorch 1.x's CPU
 * autocast knows bfloat16 only, and its op lists leave layer norm out, so a layer norm right after
 * a low-precision op sees mixed dtypes (the AST's norms follow residual adds and run); 2.x has both.
 */
export function cpuAutocastLimitation(): string | null {
  const version = (ops.info() as { torchVersion: string }).torchVersion;
  return Number(version.split('.')[0]) >= 2
    ? null
    : `libtorch ${version}: CPU autocast has bfloat16 only and no float32 layer norm (libtorch 2.x has both)`;
}
