/**
 * `--precision auto`: bf16 on CUDA; on a CPU only where a measured bf16 matmul beats float32 through
 * the fastest fp32 kernel (AMX does, about 7x; AVX-512 BF16 without AMX measured slower than fp32 on
 * an Intel Xeon, faster on an AMD EPYC: docs/performance.md), else fp32.
 */
import { performance } from 'node:perf_hooks';
import { autocast, type Precision } from './autocast.js';
import { noGrad, randn } from './functional.js';
import { chooseGemm } from './gemm.js';
import { scope } from './scope.js';

let cpuVerdict: { bf16: boolean; fp32Ms: number; bf16Ms: number } | undefined;

/** Times one ViT-B-sized matmul (258x768 by 768x3072) in fp32 and in bf16 autocast: best of 5. */
export function measureCpuBf16(): { bf16: boolean; fp32Ms: number; bf16Ms: number } {
  if (cpuVerdict) return cpuVerdict;
  // bf16 competes with the fastest fp32 kernel here, not with MKL's (a quarter of the chip's rate on AMD)
  chooseGemm();
  const best = (dtype: 'bfloat16' | null): number =>
    noGrad(() =>
      scope(() => {
        const a = randn([258, 768], { seed: 1 });
        const b = randn([768, 3072], { seed: 2 });
        let ms = Infinity;
        for (let i = 0; i < 6; i++) {
          const t0 = performance.now();
          autocast('cpu', dtype, () => a.matmul(b).dispose());
          if (i > 0) ms = Math.min(ms, performance.now() - t0); // the first run warms up
        }
        return ms;
      }),
    );
  const fp32Ms = best(null);
  const bf16Ms = best('bfloat16');
  cpuVerdict = { bf16: bf16Ms < fp32Ms, fp32Ms, bf16Ms };
  return cpuVerdict;
}

/** The precision a run uses on `device` (a resolved device string) for the user's choice. */
export function resolvePrecision(p: Precision | 'auto', device: string): Precision {
  if (p !== 'auto') return p;
  if (device.startsWith('cuda')) return 'bf16';
  return measureCpuBf16().bf16 ? 'bf16' : 'fp32';
}
