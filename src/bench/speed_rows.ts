/**
 * `loaa bench --only speed` (issue #12): the frozen-backbone levers, each against loaa's own plain
 * path in the same run, interleaved (one of each per round), with each row's fraction of the
 * GEMM-bound limit: the work's FLOPs over this machine's matmul rate in that precision, measured here.
 * - LoAA training step (forward, backward, Adam; no data loading), deit_base_distilled_384, 512 frames,
 *   stride 16: the token-layout adapter (src/peft/loaa_tokens.ts) vs the Conv2d reference, fp32 and bf16.
 * - Linear probe, 10 epochs over FSDD-sized clips (1 s: 100 frames): backbone features once through
 *   FeatureCache vs the plain loop that runs the frozen backbone every epoch.
 * The PyTorch side of these rows is in the table (src/bench/rows.ts).
 */
import { AudioSpectrogramTransformer, astGrid } from '../models/ast.js';
import { applyPeft } from '../peft/methods.js';
import { LookAsideAdapter, type AdapterImpl } from '../peft/adapter.js';
import { FeatureCache } from '../peft/feature_cache.js';
import { Adam } from '../optim/adam.js';
import type { GroupOptions, Optimizer } from '../optim/optimizer.js';
import { autocast, deviceType, precisionDtype } from '../tensor/autocast.js';
import { toDevice } from '../tensor/device.js';
import { crossEntropy, manualSeed, randint, randn, tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { probeWork } from './probe.js';
import type { Tensor } from '../tensor/tensor.js';
import { GradScaler } from '../train/amp.js';
import { medianMs } from './timing.js';

export type Precision = 'fp32' | 'bf16' | 'fp16';
const ARCH = 'deit_base_distilled_patch16_384';
const DIM = 768;
const DEPTH = 12;
export const ADAPTERS = [
  { position: 'attn' as const, kernel: [1, 3] as [number, number], bottleneck: 36 },
  { position: 'ffn' as const, kernel: [3, 1] as [number, number], bottleneck: 36 },
];

export interface SpeedOptions {
  rounds?: number;
  batch?: number;
  clips?: number;
  epochs?: number;
}

interface Stats {
  median: number;
  min: number;
  max: number;
}
const stats = (xs: number[]): Stats => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, min: s[0], max: s[s.length - 1] };
};
const r3 = (v: number): number => Math.round(v * 1000) / 1000;

/**
 * Waits for the work queued on `device` (CUDA kernels run asynchronously, so a timer must wait):
 * the host copy of a scalar is ordered after everything queued before it. A no-op on the CPU.
 */
export function syncDevice(device: string): void {
  if (device === 'cpu') return;
  scope(() => {
    tensor(new Float32Array(1), [1]).to(null, device).item();
  });
}

/** A random tensor made on the CPU (the same values on every device) and moved to `device`. */
export function onDevice(t: Tensor, device: string): Tensor {
  if (device === 'cpu') return t;
  const moved = toDevice(t, device);
  t.dispose();
  return moved;
}

/** Matmul GFLOP/s in `p` on `device` at the ViT-B MLP's shape: the denominator of every GEMM-bound limit. */
export function peakGflops(p: Precision, device = 'cpu'): number {
  const [M, K, N] = [258 * 8, 768, 3072];
  const a = onDevice(randn([M, K], { seed: 1 }), device).keep();
  const b = onDevice(randn([K, N], { seed: 2 }), device).keep();
  const dtype = precisionDtype(p);
  const amp = deviceType(device);
  // item() waits for the product: the time is the device's
  const ms = medianMs(
    () =>
      scope(() => {
        (dtype ? autocast(amp, dtype, () => a.matmul(b)) : a.matmul(b)).flatten().select(0, 0).item();
      }),
    7,
    2,
  );
  a.dispose();
  b.dispose();
  return (2 * M * K * N) / (ms * 1e6);
}

/** Forward FLOPs of one sample through the backbone (GEMMs and attention products) and of its adapters. */
export function forwardFlops(tokens: number, patches: number, withAdapters: boolean): { backbone: number; adapters: number } {
  const [N, D, H] = [tokens, DIM, 4 * DIM];
  const block = 2 * N * D * 3 * D + 2 * N * D * D + 2 * 2 * N * N * D + 2 * 2 * N * D * H;
  const embed = 2 * patches * 256 * D;
  const adapter = ADAPTERS.reduce((s, a) => s + 2 * 2 * N * D * a.bottleneck * a.kernel[0] * a.kernel[1], 0);
  return { backbone: DEPTH * block + embed, adapters: withAdapters ? DEPTH * adapter : 0 };
}

function setImpl(model: AudioSpectrogramTransformer, impl: AdapterImpl): void {
  for (const [, m] of model.namedModules()) if (m instanceof LookAsideAdapter) m.impl = impl;
}

/**
 * The LoAA training step that the step rows of `loaa bench` (rows.ts) and of `--only speed` time:
 * deit_base_distilled_384 as an AST at 512 frames with ADAPTERS, Adam, a fixed random batch, on
 * `device`. bf16 and fp16 are torch.autocast around forward and loss; fp16 also scales the loss
 * (GradScaler, as the trainer and PyTorch's AMP recipe do). `flops` is one step's work: the frozen
 * backbone's backward is the input gradients only (~1x its forward); the adapters also get weight
 * gradients. The caller casts the frozen weights for the precision it times (castFrozenWeights).
 */
export function loaaStepBench(
  batch: number,
  device = 'cpu',
): { model: AudioSpectrogramTransformer; flops: number; step: (p: Precision) => number; dispose: () => void } {
  manualSeed(0);
  const cfg = { arch: ARCH, numClasses: 50, melBins: 128, frames: 512, fstride: 16, tstride: 16 };
  const model = new AudioSpectrogramTransformer(cfg, { seed: 0 });
  applyPeft(model, { method: 'loaa', adapters: ADAPTERS }, { seed: 0 });
  if (device !== 'cpu') model.to(device);
  const params = model.trainableParameters().map(([, p]) => p);
  const opt = new Adam(params, { lr: 1e-4 }) as unknown as Optimizer<GroupOptions>;
  const x = onDevice(randn([batch, 512, 128], { seed: 3 }), device).keep();
  const y = onDevice(randint(0, 50, [batch], { seed: 4 }), device).keep();
  const { gridRows, gridCols } = astGrid(cfg);
  const f = forwardFlops(2 + gridRows * gridCols, gridRows * gridCols, true);
  const amp = deviceType(device);
  const scaler = new GradScaler();
  const step = (p: Precision): number => {
    const dtype = precisionDtype(p);
    const t0 = performance.now();
    scope(() => {
      opt.zeroGrad();
      const loss = dtype ? autocast(amp, dtype, () => crossEntropy(model.forward(x), y)) : crossEntropy(model.forward(x), y);
      if (p === 'fp16') {
        scaler.scaleLoss(loss).backward();
        scaler.step(params, () => opt.step());
      } else {
        loss.backward();
        opt.step();
      }
    });
    syncDevice(device);
    return performance.now() - t0;
  };
  const dispose = (): void => {
    model.castFrozenWeights(null);
    x.dispose();
    y.dispose();
    opt.dispose();
    model.dispose();
  };
  return { model, flops: batch * (2 * f.backbone + 3 * f.adapters), step, dispose };
}

function stepRows(o: Required<SpeedOptions>, peak: Record<'fp32' | 'bf16', number>): Record<string, unknown>[] {
  const { model, flops: stepFlops, step: timedStep, dispose } = loaaStepBench(o.batch);
  const rows: Record<string, unknown>[] = [];
  for (const p of ['fp32', 'bf16'] as const) {
    model.castFrozenWeights(p === 'bf16' ? 'bfloat16' : null);
    const step = (impl: AdapterImpl): number => {
      setImpl(model, impl);
      return timedStep(p);
    };
    step('tokens');
    step('conv');
    const ms: Record<AdapterImpl, number[]> = { tokens: [], conv: [] };
    for (let i = 0; i < o.rounds; i++) for (const impl of ['tokens', 'conv'] as AdapterImpl[]) ms[impl].push(step(impl));
    const fast = stats(ms.tokens);
    const ref = stats(ms.conv);
    const limitMs = stepFlops / (peak[p] * 1e6);
    rows.push({
      row: `loaa step ${p}, batch ${o.batch}`,
      ms_per_step: { token_layout: fast, conv2d_reference: ref },
      speedup_token_over_conv: r3(ref.median / fast.median),
      gflop_per_step: r3(stepFlops / 1e9),
      gemm_bound_fraction: r3(limitMs / fast.median),
      samples_per_s: r3((1000 * o.batch) / fast.median),
    });
  }
  dispose();
  return rows;
}

function probeRow(o: Required<SpeedOptions>, peak: Record<'fp32' | 'bf16', number>): Record<string, unknown> {
  const work = probeWork(ARCH, o.clips);
  const ms: { cached: number[]; plain: number[] } = { cached: [], plain: [] };
  for (let i = 0; i < o.rounds; i++) {
    ms.cached.push(work.run(o.epochs, o.batch, new FeatureCache()));
    ms.plain.push(work.run(o.epochs, o.batch, null));
  }
  const { gridRows, gridCols } = astGrid(work.cfg);
  const f = forwardFlops(2 + gridRows * gridCols, gridRows * gridCols, false);
  const cached = stats(ms.cached);
  const plain = stats(ms.plain);
  const flops = o.clips * f.backbone; // the cached run's work: each clip's backbone once
  work.dispose();
  return {
    row: `linear probe, ${o.epochs} epochs, ${o.clips} FSDD-sized clips (1 s, 100 frames), batch ${o.batch}, fp32`,
    ms_per_run: { feature_cache: cached, plain_loop: plain },
    speedup_cached_over_plain: r3(plain.median / cached.median),
    gemm_bound_fraction: r3(flops / (peak.fp32 * 1e6) / cached.median),
  };
}

export async function benchSpeed(opts: SpeedOptions = {}): Promise<Record<string, unknown>> {
  const o: Required<SpeedOptions> = {
    rounds: opts.rounds ?? 5,
    batch: opts.batch ?? 8,
    clips: opts.clips ?? 64,
    epochs: opts.epochs ?? 10,
  };
  const peak = { fp32: peakGflops('fp32'), bf16: peakGflops('bf16') };
  return {
    peak_matmul_gflops: { fp32: r3(peak.fp32), bf16: r3(peak.bf16) },
    rounds: o.rounds,
    rows: [...stepRows(o, peak), probeRow(o, peak)],
    pytorch:
      'this section compares loaa with itself; the table (loaa bench without --only) has the PyTorch 2.13 side of the step and the linear probe',
  };
}
