/** The addon's c10d binding (native/distributed.cc), typed. */
import { native } from '../native/binding.js';
import type { NativeTensor } from '../native/types.js';

export interface NativeGroupOptions {
  backend: 'gloo' | 'nccl';
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  timeoutMs: number;
  heartbeatMs?: number;
  /** address this rank's Gloo device binds to */
  host?: string;
  /** or the network interface it binds to */
  iface?: string;
}

export interface NativeGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend: string;
  /** in place, summed; with `async` a work id for `wait` */
  allreduce(tensors: NativeTensor[], async?: false): void;
  allreduce(tensors: NativeTensor[], async: true): number;
  wait(work: number): void;
  broadcast(tensors: NativeTensor[], root: number): void;
  allgather(tensors: [NativeTensor]): NativeTensor[];
  barrier(): void;
  markFailed(why: string): void;
  shutdown(): void;
}

export interface NativeDist {
  available: { gloo: boolean; nccl: boolean };
  ProcessGroup: new (opts: NativeGroupOptions) => NativeGroup;
}

export function nativeDist(): NativeDist {
  const d = (native as unknown as { dist?: NativeDist }).dist;
  if (!d) throw new Error('loaa: this build of the native addon has no c10d binding (rebuild it: node scripts/setup.mjs --build-only)');
  return d;
}
