/**
 * Engine speed next to PyTorch doing the same work: matmul GFLOP/s (258x768 by 768x3072, fp32, the
 * ViT-B MLP's first layer for one 258-token sample) and a ViT-B block (D 768, 12 heads, MLP 3072,
 * 258 tokens, pre-norm, erf GELU, fused qkv) forward + backward at batch 8 with frozen weights (the
 * input requires grad, so backward runs through every layer as in adapter tuning). Medians after
 * warm-up. tools/bench/engine_torch.py prints the same rows for Python PyTorch; it runs here, with
 * this process's thread environment, when /usr/bin/python3 has torch.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../tensor/tensor.js';
import { attention, engineInfo, getNumThreads, randn, usesFusedAttention } from '../tensor/functional.js';
import { autocast } from '../tensor/autocast.js';
import { torchPython } from './python.js';
import { scope } from '../tensor/scope.js';
import { Module } from '../nn/module.js';
import { LayerNorm, Linear } from '../nn/layers.js';
import { medianMs } from './timing.js';

/** A pre-norm ViT block in plain src/nn layers: what the engine has to run fast. */
export class BenchBlock extends Module {
  readonly norm1: LayerNorm;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly norm2: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly headDim: number;
  constructor(
    readonly dim: number,
    readonly heads: number,
    hidden: number,
    seed = 0,
  ) {
    super();
    this.headDim = dim / heads;
    this.norm1 = this.child('norm1', new LayerNorm(dim, 1e-6));
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, { seed: seed + 1 }));
    this.proj = this.child('proj', new Linear(dim, dim, { seed: seed + 3 }));
    this.norm2 = this.child('norm2', new LayerNorm(dim, 1e-6));
    this.fc1 = this.child('fc1', new Linear(dim, hidden, { seed: seed + 5 }));
    this.fc2 = this.child('fc2', new Linear(hidden, dim, { seed: seed + 7 }));
  }
  forward(x: Tensor): Tensor {
    return scope(() => {
      const [B, N, D] = x.shape;
      const qkv = this.qkv.forward(this.norm1.forward(x)).reshape(B, N, 3, this.heads, this.headDim).permute(2, 0, 3, 1, 4);
      const ctx = attention(qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2), this.headDim ** -0.5);
      const h = x.add(this.proj.forward(ctx.transpose(1, 2).reshape(B, N, D)));
      return h.add(this.fc2.forward(this.fc1.forward(this.norm2.forward(h)).gelu()));
    });
  }
}

export interface EngineBenchOptions {
  /** timed block runs per round (default 6) */
  reps?: number;
  /** also run tools/bench/engine_torch.py (default: when /usr/bin/python3 exists) */
  python?: boolean;
  batch?: number;
  /** where the rows run (default cpu; scripts/gpu-check.sh uses cuda:0) */
  device?: string;
}

export const GEOMETRY = { tokens: 258, dim: 768, heads: 12, hidden: 3072 } as const;

/** The Node rows alone. */
export function benchEngineNode(opts: EngineBenchOptions = {}): Record<string, number> {
  const { tokens: N, dim: D, heads: H, hidden: M } = GEOMETRY;
  const B = opts.batch ?? 8;
  const reps = opts.reps ?? 6;
  const round = (v: number, d = 2): number => Math.round(v * 10 ** d) / 10 ** d;

  const dev = opts.device ?? 'cpu';
  const amp = dev === 'cpu' ? 'cpu' : 'cuda';
  // GPU work is asynchronous: reading one value waits for it
  const sync = (t: Tensor): void => {
    if (dev !== 'cpu') t.flatten().select(0, 0).item();
  };
  const on = (t: Tensor): Tensor => (dev === 'cpu' ? t : scope(() => t.to(null, dev)));
  const a = on(randn([N, D], { seed: 1 })).keep();
  const b = on(randn([D, M], { seed: 2 })).keep();
  const mmMs = medianMs(
    () =>
      scope(() => {
        sync(a.matmul(b));
      }),
    reps * 5,
    5,
  );
  a.dispose();
  b.dispose();

  const block = new BenchBlock(D, H, M, 10).freeze().to(dev);
  const x = on(randn([B, N, D], { seed: 3 })).keep();
  x.requiresGrad = true;
  const step = (): void =>
    scope(() => {
      block.forward(x).sum().backward();
      sync(x.grad!);
      x.grad = null;
    });
  const fwdBwdMs = medianMs(step, reps, 2);
  const fwdMs = medianMs(
    () =>
      scope(() => {
        sync(block.forward(x));
      }),
    reps,
    1,
  );
  // mixed precision as torch.autocast(bf16) runs it, the frozen weights cast once
  block.castFrozenWeights('bfloat16');
  // backward outside the autocast region, as torch recommends and the trainer does
  const bf16Step = (): void =>
    scope(() => {
      autocast(amp, 'bfloat16', () => block.forward(x).sum()).backward();
      sync(x.grad!);
      x.grad = null;
    });
  const fwdBwdBf16Ms = medianMs(bf16Step, reps, 2);
  const a16 = on(randn([N, D], { seed: 1 })).keep();
  const b16 = on(randn([D, M], { seed: 2 })).keep();
  const mmBf16Ms = medianMs(
    () =>
      scope(() => {
        sync(autocast(amp, 'bfloat16', () => a16.matmul(b16)));
      }),
    reps * 5,
    5,
  );
  a16.dispose();
  b16.dispose();
  block.dispose();
  x.dispose();
  return {
    matmul_258x768x3072_ms: round(mmMs, 3),
    matmul_258x768x3072_gflops: round((2 * N * D * M) / (mmMs * 1e6), 1),
    vit_b_block_fwd_bwd_ms_per_sample: round(fwdBwdMs / B),
    vit_b_block_fwd_ms_per_sample: round(fwdMs / B),
    matmul_258x768x3072_bf16_ms: round(mmBf16Ms, 3),
    vit_b_block_fwd_bwd_bf16_ms_per_sample: round(fwdBwdBf16Ms / B),
    batch: B,
    threads: getNumThreads(),
  };
}

const PYTHON = torchPython();
function scriptPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'tools', 'bench', 'engine_torch.py');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new Error(`tools/bench/engine_torch.py not found above ${fileURLToPath(import.meta.url)}`);
}

/** The same rows from Python PyTorch, in this process's thread environment (OMP_*, OPENBLAS_*). */
export function benchEngineTorch(opts: EngineBenchOptions = {}): Record<string, unknown> {
  const r = spawnSync(
    PYTHON,
    [scriptPath(), '--reps', String(opts.reps ?? 6), '--batch', String(opts.batch ?? 8), '--threads', String(getNumThreads())],
    {
      env: process.env,
      encoding: 'utf8',
      timeout: 600_000,
    },
  );
  if (r.error) throw new Error(`${PYTHON} ${scriptPath()}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${PYTHON} ${scriptPath()}: exit ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`${PYTHON} ${scriptPath()}: printed no JSON (${line.slice(0, 200)})`);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Node rows, and with Python the same rows from torch plus node/python ratios. The two sides run
 * in alternating rounds (Node, Python, Node, ...) and each ratio is the median of the per-round
 * ratios, so load from other processes hits both alike.
 */
export async function benchEngine(opts: EngineBenchOptions & { rounds?: number } = {}): Promise<Record<string, unknown>> {
  const info = engineInfo();
  const rounds = opts.rounds ?? 3;
  const withPython = opts.python ?? existsSync(PYTHON);
  const nodeRuns: Record<string, number>[] = [];
  const pyRuns: Record<string, unknown>[] = [];
  let pyError: string | null = null;
  for (let r = 0; r < rounds; r++) {
    nodeRuns.push(benchEngineNode(opts));
    if (withPython && pyError === null) {
      try {
        pyRuns.push(benchEngineTorch(opts));
      } catch (e) {
        pyError = (e as Error).message;
      }
    }
  }
  const KEYS = [
    'matmul_258x768x3072_ms',
    'matmul_258x768x3072_gflops',
    'vit_b_block_fwd_bwd_ms_per_sample',
    'vit_b_block_fwd_ms_per_sample',
    'matmul_258x768x3072_bf16_ms',
    'vit_b_block_fwd_bwd_bf16_ms_per_sample',
  ] as const;
  const round3 = (v: number): number => Math.round(v * 1000) / 1000;
  const out: Record<string, unknown> = {};
  for (const k of KEYS) out[k] = round3(median(nodeRuns.map((n) => n[k])));
  Object.assign(out, {
    batch: nodeRuns[0].batch,
    threads: nodeRuns[0].threads,
    rounds,
    cpus: cpus().length,
    openblasCoretype: info.openblasCoretype ?? null,
    ompProcBind: process.env.OMP_PROC_BIND ?? null,
    torchVersion: info.torchVersion,
    fusedAttention: usesFusedAttention(),
  });
  if (!withPython) return out;
  if (pyRuns.length === 0) {
    out.python = { error: pyError };
    return out;
  }
  const py: Record<string, unknown> = { ...pyRuns[0] };
  for (const k of KEYS) py[k] = round3(median(pyRuns.map((p) => p[k] as number)));
  if (pyError) py.error = pyError;
  out.python = py;
  const ratio = (k: (typeof KEYS)[number]): number => round3(median(pyRuns.map((p, i) => nodeRuns[i][k] / (p[k] as number))));
  out.ratio_block_fwd_bwd_node_over_python = ratio('vit_b_block_fwd_bwd_ms_per_sample');
  out.ratio_block_fwd_node_over_python = ratio('vit_b_block_fwd_ms_per_sample');
  out.ratio_matmul_ms_node_over_python = ratio('matmul_258x768x3072_ms');
  out.ratio_block_fwd_bwd_bf16_node_over_python = ratio('vit_b_block_fwd_bwd_bf16_ms_per_sample');
  out.per_round = nodeRuns.map((n, i) => ({
    node_block_ms_per_sample: n.vit_b_block_fwd_bwd_ms_per_sample,
    python_block_ms_per_sample: pyRuns[i]?.vit_b_block_fwd_bwd_ms_per_sample ?? null,
  }));
  return out;
}
