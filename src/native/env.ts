/**
 * BLAS and OpenMP read their settings from the environment once, when the addon's libraries are
 * loaded, so this must run before the first `require` of the addon. Values the user already set
 * always win.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface ThreadSettings {
  threads: number;
  coretype: string | undefined;
}

/** The CPU's feature flags (Linux: /proc/cpuinfo), in the kernel's order; empty where unknown. */
export function cpuFlags(): Set<string> {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const line = info.split('\n').find((l) => l.startsWith('flags'));
    return new Set(line ? line.split(':')[1].trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

/**
 * The CPUs this thread (`thread-self`) or process (`self`) may run on (Linux:
 * /proc/<who>/status), or null where unknown.
 */
export function allowedCpus(who: 'thread-self' | 'self'): number[] | null {
  try {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${who}/status`, 'utf8'));
    if (!m) return null;
    return m[1]!.split(',').flatMap((r) => {
      const [a, b] = r.split('-').map(Number) as [number, number | undefined];
      return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
    });
  } catch {
    return null;
  }
}

export function configureThreadEnv(env: NodeJS.ProcessEnv = process.env): ThreadSettings {
  const threads = Number(env.LOAA_NUM_THREADS) || availableParallelism();
  env.OMP_NUM_THREADS ??= String(threads);
  // Without binding, 2-thread OpenMP regions in the attention backward pass stall 10-100x when the
  // threads migrate; binding keeps each on its core.
  env.OMP_PROC_BIND ??= 'true';
  // OpenBLAS 0.3.21 does not know recent CPUs and falls back to slow generic kernels; on AVX-512
  // machines the SkylakeX kernels are the right ones (measured: ~25 -> ~200 GFLOP/s here).
  if (env.OPENBLAS_CORETYPE === undefined && cpuFlags().has('avx512f')) env.OPENBLAS_CORETYPE = 'SkylakeX';
  return { threads, coretype: env.OPENBLAS_CORETYPE };
}
