/**
 * The numbers behind `loaa bench`'s table: per-row samples from interleaved rounds reduced to
 * median, min and max; the loaa-over-PyTorch ratio as the median of the per-round ratios (so load
 * from other processes, which hits both sides of a round alike, mostly cancels); the goal check;
 * each side's fraction of the GEMM-bound limit; and the markdown table the README quotes. Pure
 * functions over plain numbers, so they are tested on fake timings.
 */
import { median } from './timing.js';

export interface Stats {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function stats(xs: readonly number[]): Stats {
  if (xs.length === 0) throw new Error('stats: no samples');
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}

/** One row's raw material: a sample per round and side, in the row's unit. */
export interface RowSamples {
  work: string;
  /** e.g. 'ms/step', 'ms/clip', 'MiB' */
  unit: string;
  /** true when a smaller value is better (times, memory) */
  lowerIsBetter: boolean;
  loaa: number[];
  pytorch: number[];
  /** what PyTorch ran, when it is not the project's 2.13 (e.g. torchaudio on Debian's 1.13) */
  pytorchNote?: string;
  /** the goal as a minimum of the ratio (loaa's advantage; 1.3 = 1.3x PyTorch) */
  goal: number;
  /** FLOPs of one sample of the work per side (absent where GEMMs are not the work) */
  flops?: { loaa: number; pytorch: number };
  /** matmul rate of the row's precision, GFLOP/s */
  peakGflops?: number;
  /** a sample value is milliseconds: needed for the GEMM fraction */
  timeMs?: boolean;
}

export interface RowSummary {
  work: string;
  unit: string;
  loaa: Stats;
  pytorch: Stats | null;
  pytorchNote?: string;
  /** loaa's advantage: PyTorch/loaa for lower-is-better values, loaa/PyTorch otherwise; median over rounds */
  ratio: Stats | null;
  goal: number;
  goalMet: boolean | null;
  gemmFraction: { loaa: number; pytorch: number | null } | null;
}

/** Per-round advantage of loaa: round i pairs loaa[i] with pytorch[i]. */
export function roundRatios(r: Pick<RowSamples, 'loaa' | 'pytorch' | 'lowerIsBetter'>): number[] {
  const n = Math.min(r.loaa.length, r.pytorch.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.lowerIsBetter ? r.pytorch[i] / r.loaa[i] : r.loaa[i] / r.pytorch[i]);
  return out;
}

/** Work FLOPs over (peak rate x median time): how close a side runs to the GEMM-bound limit. */
export function gemmFraction(flops: number, peakGflops: number, ms: number): number {
  return flops / (peakGflops * 1e6) / ms;
}

export function summarise(r: RowSamples): RowSummary {
  const loaa = stats(r.loaa);
  const pytorch = r.pytorch.length ? stats(r.pytorch) : null;
  const ratios = roundRatios(r);
  const ratio = ratios.length ? stats(ratios) : null;
  let gemm: RowSummary['gemmFraction'] = null;
  if (r.flops && r.peakGflops && r.timeMs) {
    gemm = {
      loaa: gemmFraction(r.flops.loaa, r.peakGflops, loaa.median),
      pytorch: pytorch ? gemmFraction(r.flops.pytorch, r.peakGflops, pytorch.median) : null,
    };
  }
  return {
    work: r.work,
    unit: r.unit,
    loaa,
    pytorch,
    ...(r.pytorchNote ? { pytorchNote: r.pytorchNote } : {}),
    ratio,
    goal: r.goal,
    goalMet: ratio ? ratio.median >= r.goal : null,
    gemmFraction: gemm,
  };
}

/** 3 significant digits, thousands separated: 4,455 / 12.3 / 0.456. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const cell = (s: Stats, unit: string): string =>
  s.n > 1 ? `${fmt(s.median)} ${unit} (${fmt(s.min)}-${fmt(s.max)})` : `${fmt(s.median)} ${unit}`;
const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${Math.round(100 * v)}%`);

/** The markdown table: median (min-max) per side, the ratio with its goal, and the GEMM fractions. */
export function markdownTable(rows: readonly RowSummary[]): string {
  const head = ['work', 'loaa', 'PyTorch', 'loaa advantage', 'goal', 'met', 'loaa of GEMM limit', 'PyTorch of GEMM limit'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const py = r.pytorch ? cell(r.pytorch, r.unit) + (r.pytorchNote ? ` [${r.pytorchNote}]` : '') : (r.pytorchNote ?? 'not run');
    const ratio = r.ratio
      ? `${r.ratio.median.toFixed(2)}x${r.ratio.n > 1 ? ` (${r.ratio.min.toFixed(2)}-${r.ratio.max.toFixed(2)})` : ''}`
      : '-';
    const met = r.goalMet === null ? '-' : r.goalMet ? 'yes' : 'no';
    lines.push(
      `| ${[r.work, cell(r.loaa, r.unit), py, ratio, `>= ${r.goal}x`, met, pct(r.gemmFraction?.loaa), pct(r.gemmFraction?.pytorch)].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}
