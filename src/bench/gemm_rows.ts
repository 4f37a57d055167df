/**
 * `loaa bench --rows gemm`: the fp32 GEMM rate of every kernel on this machine at the model's
 * shapes, in one run with interleaved rounds: libtorch's own (MKL in the wheel), oneDNN, the BLAS
 * libraries the addon loads (src/tensor/gemm.ts), and onnxruntime's MLAS through a one-MatMul ONNX
 * graph in onnxruntime-node. The best of them is the machine's fp32 GEMM limit, the denominator of
 * the table's "of GEMM limit" columns.
 */
import { performance } from 'node:perf_hooks';
import onnxProto from 'onnx-proto';
import { GEMM_KERNELS, gemmKernels, gemmLibraries, gemmMm, VIT_B_SHAPES, type GemmShape } from '../tensor/gemm.js';
import { getNumThreads, noGrad, randn } from '../tensor/functional.js';
import type { Tensor } from '../tensor/tensor.js';
import { stats, fmt, type Stats } from './summary.js';

const { onnx } = onnxProto;

export interface GemmRow {
  kernel: string;
  /** GFLOP/s per round over all shapes (total FLOPs / total time) */
  gflops: number[];
  summary: Stats;
  note: string;
}

export interface GemmRowsResult {
  shapes: GemmShape[];
  rows: GemmRow[];
  /** kernels that could not run here, and why */
  unavailable: { kernel: string; reason: string }[];
  best: GemmRow | null;
}

/** An ONNX model computing a [M, K] @ w [K, N] with w a constant initializer (as an exported model's weights). */
export function matmulOnnx(k: number, n: number, w: Float32Array): Uint8Array {
  const dim = (d: number | string): Record<string, unknown> => (typeof d === 'number' ? { dimValue: d } : { dimParam: d });
  const io = (name: string, cols: number): Record<string, unknown> => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: [dim('M'), dim(cols)] } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'loaa bench',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'gemm',
      node: [{ name: 'mm', opType: 'MatMul', input: ['a', 'w'], output: ['y'] }],
      initializer: [{ name: 'w', dims: [k, n], dataType: 1, rawData: new Uint8Array(w.buffer, w.byteOffset, w.byteLength) }],
      input: [io('a', k)],
      output: [io('y', n)],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

type Timed = { name: string; note: string; run: (shape: number) => Promise<number> | number; close?: () => Promise<void> | void };

async function ortKernel(shapes: GemmShape[], threads: number): Promise<Timed> {
  const ort = await import('onnxruntime-node');
  const sessions: import('onnxruntime-node').InferenceSession[] = [];
  const inputs: import('onnxruntime-node').Tensor[] = [];
  for (const [m, k, n] of shapes) {
    const w = new Float32Array(k * n).map(() => Math.random() - 0.5);
    // no spinning: its idle threads would otherwise steal the cores from the next kernel's round
    sessions.push(
      await ort.InferenceSession.create(matmulOnnx(k, n, w), {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      }),
    );
    inputs.push(
      new ort.Tensor(
        'float32',
        new Float32Array(m * k).map(() => Math.random() - 0.5),
        [m, k],
      ),
    );
  }
  const version = (ort as unknown as { env?: { versions?: { node?: string } } }).env?.versions?.node ?? '';
  return {
    name: 'onnxruntime MLAS',
    note: `onnxruntime-node ${version}, MatMul with a constant weight (prepacked at session creation)`.replace('  ', ' '),
    run: async (i) => {
      const t0 = performance.now();
      const out = await sessions[i].run({ a: inputs[i] });
      const ms = performance.now() - t0;
      out.y.dispose?.();
      return ms;
    },
    close: async () => {
      for (const s of sessions) await s.release();
    },
  };
}

/** Measures every available kernel at `shapes` (x[M,K] @ w[N,K]^T, linear's layout) for `rounds` interleaved rounds. */
export async function benchGemmKernels(o: { rounds: number; shapes?: GemmShape[]; log: (l: string) => void }): Promise<GemmRowsResult> {
  const shapes = o.shapes ?? VIT_B_SHAPES;
  const avail = gemmKernels();
  const libs = gemmLibraries();
  const unavailable: { kernel: string; reason: string }[] = [];
  const kernels: Timed[] = [];
  const tensors: Tensor[][] = shapes.map(([m, k, n]) => [randn([m, k], { seed: 1 }).keep(), randn([n, k], { seed: 2 }).keep()]);
  const notes: Record<string, string> = {
    torch: "libtorch's at::mm (MKL in the PyTorch wheel): what PyTorch eager runs",
    onednn: 'oneDNN fp32 matmul inside libtorch (at::native::mkldnn_matmul)',
  };
  for (const k of GEMM_KERNELS) {
    if (avail[k] !== '') {
      unavailable.push({ kernel: k, reason: avail[k] });
      continue;
    }
    const lib = k === 'openblas' ? libs.openblas : k === 'blis' ? libs.blis : '';
    const env = k === 'openblas' && process.env.OPENBLAS_CORETYPE ? `, OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE}` : '';
    kernels.push({
      name: k,
      note: notes[k] ?? `${lib} (dlopen, cblas_sgemm${env})`,
      run: (i) =>
        noGrad(() => {
          const [x, w] = tensors[i];
          const t0 = performance.now();
          gemmMm(k, x, w.transpose(0, 1)).dispose();
          return performance.now() - t0;
        }),
    });
  }
  try {
    kernels.push(await ortKernel(shapes, getNumThreads()));
  } catch (e) {
    unavailable.push({ kernel: 'onnxruntime MLAS', reason: (e as Error).message.split('\n')[0] });
  }
  const flops = shapes.reduce((s, [m, k, n]) => s + 2 * m * k * n, 0);
  const samples: number[][] = kernels.map(() => []);
  try {
    for (const kn of kernels) for (let i = 0; i < shapes.length; i++) await kn.run(i); // warm-up: packing, JIT, thread pools
    for (let r = 0; r < o.rounds; r++) {
      o.log(`  GEMM kernels round ${r + 1}/${o.rounds}`);
      for (let j = 0; j < kernels.length; j++) {
        let ms = 0;
        for (let i = 0; i < shapes.length; i++) ms += await kernels[j].run(i);
        samples[j].push(flops / (ms * 1e6));
      }
    }
  } finally {
    for (const kn of kernels) await kn.close?.();
    for (const ts of tensors) for (const t of ts) t.dispose();
  }
  const rows = kernels.map((kn, j) => ({ kernel: kn.name, gflops: samples[j], summary: stats(samples[j]), note: kn.note }));
  const best = rows.reduce<GemmRow | null>((b, r) => (!b || r.summary.median > b.summary.median ? r : b), null);
  return { shapes, rows, unavailable, best };
}

/** The kernels' table: GFLOP/s median (min-max) and the fraction of the best. */
export function gemmTable(g: GemmRowsResult): string {
  const best = g.best?.summary.median ?? NaN;
  const lines = ['| fp32 GEMM kernel | GFLOP/s | of best | what |', '|---|---|---|---|'];
  for (const r of g.rows) {
    const s = r.summary;
    lines.push(`| ${r.kernel} | ${fmt(s.median)} (${fmt(s.min)}-${fmt(s.max)}) | ${Math.round((100 * s.median) / best)}% | ${r.note} |`);
  }
  for (const u of g.unavailable) lines.push(`| ${u.kernel} | - | - | unavailable: ${u.reason} |`);
  return lines.join('\n');
}

export const shapesText = (shapes: GemmShape[]): string => shapes.map(([m, k, n]) => `${m}x${k} by ${k}x${n}`).join(', ');
