/** Devices: which exist, parsing a user's `--device`, and batches moved to them. */
import { nativeOps as ops, Tensor } from './tensor.js';

export const cudaAvailable = (): boolean => ops.cudaAvailable() as boolean;
export const cudaDeviceCount = (): number => ops.cudaDeviceCount() as number;

/**
 * `cpu`, `cuda`, `cuda:N` or `auto` (the first GPU when there is one) to a libtorch device
 * string; a GPU that is not there is a one-line error naming `where`.
 */
export function resolveDevice(spec: string, where = '--device'): string {
  if (spec === 'auto') return cudaAvailable() ? 'cuda:0' : 'cpu';
  if (spec === 'cpu') return 'cpu';
  const m = /^cuda(?::(\d+))?$/.exec(spec);
  if (!m) throw new Error(`${where}: expected cpu, cuda, cuda:N or auto, not "${spec}"`);
  const n = cudaDeviceCount();
  const index = m[1] === undefined ? 0 : Number(m[1]);
  if (n === 0) {
    const why = (ops.info() as { cudaBuilt: boolean }).cudaBuilt
      ? 'no CUDA device is visible'
      : 'this libtorch was built without CUDA (LOAA_TORCH=cuda builds against the CUDA wheel)';
    throw new Error(`${where}: ${spec} requested but ${why}`);
  }
  if (index >= n) throw new Error(`${where}: ${spec} requested but only ${n} CUDA device(s) exist`);
  return `cuda:${index}`;
}

/**
 * A batch tensor on `device`. On CUDA the host copy is page-locked first and the transfer does not
 * block the host; on the CPU it is the same tensor (a new handle).
 */
export function toDevice(t: Tensor, device: string): Tensor {
  if (device === t.device || (device === 'cpu' && t.device === 'cpu')) return t.alias();
  if (device.startsWith('cuda') && t.device === 'cpu') {
    const pinned = new Tensor(ops.pinMemory(t.native));
    try {
      return new Tensor(ops.toAsync(pinned.native, device));
    } finally {
      pinned.dispose();
    }
  }
  return t.to(null, device);
}

/** Moves (and/or casts) the tensor behind this handle in place: every holder sees the result. */
export function moveTo_(t: Tensor, device: string | null, dtype: string | null = null): Tensor {
  ops.moveTo_(t.native, dtype, device);
  return t;
}
