/**
 * Which fp32 GEMM kernel `linear` and `matmul` use on the CPU (the addon's native/gemm.cc):
 * libtorch's own (MKL in the wheel), oneDNN's fp32 matmul, or a BLAS built for the CPU (OpenBLAS,
 * BLIS). MKL runs at about a quarter of the chip's rate on AMD CPUs and near the best on Intel, so
 * the choice is measured, never guessed from the vendor: the first time on a machine each available
 * kernel runs the model's GEMM shapes and the fastest wins; the result is cached under $LOAA_HOME,
 * one entry per CPU, libtorch version and thread count (the newest 16). `LOAA_GEMM=torch|onednn|openblas|blis` forces one.
 * Under autocast, and off the CPU, libtorch's own path runs whatever the choice.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { native } from '../native/binding.js';
import { cpuFlags } from '../native/env.js';
import { writeFileAtomic } from '../util/fs.js';
import { readInputJson } from '../util/guarded_fs.js';
import { engineInfo, noGrad, randn } from './functional.js';
import { scope } from './scope.js';
import { Tensor } from './tensor.js';

export const GEMM_KERNELS = ['torch', 'onednn', 'openblas', 'blis'] as const;
export type GemmKernel = (typeof GEMM_KERNELS)[number];

/** [M, K, N] of a product x[M,K] @ w[N,K]^T: the forward GEMMs of a ViT-B block over 8 x 258 tokens. */
export type GemmShape = [number, number, number];
export const VIT_B_SHAPES: GemmShape[] = [
  [2064, 768, 2304],
  [2064, 768, 768],
  [2064, 768, 3072],
  [2064, 3072, 768],
];

export interface GemmChoice {
  kernel: GemmKernel;
  /** the chosen kernel's measured rate at the shapes, GFLOP/s (null: not measured, e.g. forced torch without a cache) */
  gflops: number | null;
  /** every kernel measured (this run or the cache); absent ones were unavailable or not measured */
  rates: Partial<Record<GemmKernel, number>>;
  source: 'measured' | 'cache' | 'forced';
}

export interface ChooseOptions {
  env?: NodeJS.ProcessEnv;
  /** default: $LOAA_HOME, else ~/.cache/loaa */
  home?: string;
  /** one-line warnings (default: stderr) */
  warn?: (line: string) => void;
  shapes?: GemmShape[];
  /** timed repetitions per shape (best of), after one warm-up */
  reps?: number;
}

const ops = native.ops;
const isKernel = (s: string): s is GemmKernel => (GEMM_KERNELS as readonly string[]).includes(s);

/** Each kernel: '' where it loads here, else why not (e.g. the library file is missing). */
export const gemmKernels = (): Record<GemmKernel, string> => ops.gemmKernels();
/** The library files the BLAS kernels loaded from. */
export const gemmLibraries = (): { openblas: string; blis: string } => ops.gemmLibraries();
export const activeGemm = (): GemmKernel => ops.gemmKernel();
/** Makes `k` the kernel of fp32 linear/matmul in this process (an Error if it is unavailable). */
export function setGemm(k: GemmKernel): void {
  ops.gemmSetKernel(k);
}
/** a @ b (+ bias) with kernel `k`, no autograd: for tests and the bench. */
export const gemmMm = (k: GemmKernel, a: Tensor, b: Tensor, bias?: Tensor): Tensor =>
  new Tensor(ops.gemmMm(k, a.native, b.native, bias ? bias.native : null));

/** GFLOP/s of kernel `k` over `shapes` (x[M,K] @ w[N,K]^T, the weight layout of linear): best of `reps` each. */
export function measureGemm(k: GemmKernel, shapes: GemmShape[] = VIT_B_SHAPES, reps = 2): number {
  return noGrad(() =>
    scope(() => {
      let flops = 0;
      let seconds = 0;
      for (const [m, kk, n] of shapes) {
        const x = randn([m, kk], { seed: 1 });
        const wT = randn([n, kk], { seed: 2 }).transpose(0, 1);
        let best = Infinity;
        for (let i = 0; i <= reps; i++) {
          const t0 = performance.now();
          gemmMm(k, x, wT).dispose();
          if (i > 0) best = Math.min(best, performance.now() - t0); // the first run warms up (packing, JIT)
        }
        flops += 2 * m * kk * n;
        seconds += best / 1000;
      }
      return flops / seconds / 1e9;
    }),
  );
}

export function loaaHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOAA_HOME?.length ? env.LOAA_HOME : join(homedir(), '.cache', 'loaa');
}
export const gemmCachePath = (home: string): string => join(home, 'gemm-choice.json');

/** What makes a measurement valid elsewhere: the CPU (model and flags), libtorch, the thread count. */
export function gemmCacheKey(): string {
  // no /proc: the model name alone
  const flags = [...cpuFlags()].join(' ');
  const info = engineInfo();
  const flagHash = createHash('sha256').update(flags).digest('hex').slice(0, 16);
  return `${cpus()[0]?.model ?? 'unknown cpu'} | flags ${flagHash} | libtorch ${info.torchVersion} | ${info.threads} threads`;
}

/** One setup's measurement in the cache. */
interface CacheEntry {
  kernel: GemmKernel;
  rates: Partial<Record<GemmKernel, number>>;
}

/**
 * Version 2: a map from setup key to its measurement, newest last, so a machine with two libtorch
 * builds or thread counts (CI runs the wheel's and Debian's 1.13) keeps both instead of
 * overwriting one with the other and measuring again. Version 1 held one key; it is read as one entry.
 */
interface CacheFileV2 {
  format: 'loaa-gemm-choice';
  version: 2;
  entries: Record<string, CacheEntry>;
}

/** The most setups one cache file remembers (the oldest measured go first). */
export const GEMM_CACHE_ENTRIES = 16;

function checkEntry(v: unknown): CacheEntry {
  const e = v as CacheEntry;
  const ratesOk =
    !!e &&
    typeof e.rates === 'object' &&
    e.rates !== null &&
    Object.entries(e.rates).every(([k, r]) => isKernel(k) && typeof r === 'number' && r > 0);
  if (!ratesOk || typeof e.kernel !== 'string' || !isKernel(e.kernel)) throw new Error('not a GEMM choice file');
  return { kernel: e.kernel, rates: e.rates };
}

/** The cache's entries, newest last; empty with a warning where the file is corrupt or not a GEMM choice file. */
function readCache(path: string, warn: (l: string) => void): Map<string, CacheEntry> {
  const entries = new Map<string, CacheEntry>();
  if (!existsSync(path)) return entries;
  try {
    const c = readInputJson<Record<string, unknown>>(path, { what: 'the GEMM choice cache', maxBytes: 1 << 20 });
    if (c?.format !== 'loaa-gemm-choice') throw new Error('not a GEMM choice file');
    if (c.version === 1 && typeof c.key === 'string') entries.set(c.key, checkEntry(c));
    else if (c.version === 2 && c.entries && typeof c.entries === 'object' && !Array.isArray(c.entries)) {
      for (const [k, v] of Object.entries(c.entries as Record<string, unknown>)) entries.set(k, checkEntry(v));
    } else throw new Error(`not a GEMM choice file of version 1 or 2 (version ${JSON.stringify(c.version)})`);
  } catch (e) {
    warn(`${path}: ignored, ${(e as Error).message.split('\n')[0]}; measuring the GEMM kernels again`);
    entries.clear();
  }
  return entries;
}

/** Adds `key`'s measurement as the newest entry, keeping the newest GEMM_CACHE_ENTRIES. */
function writeCache(path: string, entries: Map<string, CacheEntry>, key: string, entry: CacheEntry): void {
  entries.delete(key);
  entries.set(key, entry);
  const kept = [...entries].slice(-GEMM_CACHE_ENTRIES);
  const file: CacheFileV2 = { format: 'loaa-gemm-choice', version: 2, entries: Object.fromEntries(kept) };
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`);
}

let chosen: GemmChoice | undefined;

/** The choice this process made (null before `chooseGemm`). */
export const gemmChoice = (): GemmChoice | null => chosen ?? null;

/**
 * Picks and activates the fp32 GEMM kernel, once per process: LOAA_GEMM if set and available, else
 * the cache's choice for this machine, else the fastest measured now (and cached).
 */
export function chooseGemm(o: ChooseOptions = {}): GemmChoice {
  if (chosen) return chosen;
  const env = o.env ?? process.env;
  const warn = o.warn ?? ((l: string) => process.stderr.write(`${l}\n`));
  const path = gemmCachePath(o.home ?? loaaHome(env));
  const avail = gemmKernels();
  const key = gemmCacheKey();
  const forced = env.LOAA_GEMM;
  let want: GemmKernel | null = null;
  if (forced !== undefined && forced !== '') {
    if (!isKernel(forced)) throw new Error(`LOAA_GEMM: must be ${GEMM_KERNELS.join(', ')}, not "${forced}"`);
    if (avail[forced] === '') want = forced;
    else warn(`LOAA_GEMM=${forced}: unavailable (${avail[forced]}); choosing the GEMM kernel by measurement`);
  }
  const entries = readCache(path, warn);
  const cache = entries.get(key) ?? null;
  if (want) {
    const rate = cache?.rates[want] ?? measureGemm(want, o.shapes, o.reps);
    chosen = { kernel: want, gflops: rate, rates: { ...cache?.rates, [want]: rate }, source: 'forced' };
  } else if (cache && avail[cache.kernel] === '') {
    chosen = { kernel: cache.kernel, gflops: cache.rates[cache.kernel] ?? null, rates: cache.rates, source: 'cache' };
  } else {
    const rates: Partial<Record<GemmKernel, number>> = {};
    for (const k of GEMM_KERNELS) if (avail[k] === '') rates[k] = measureGemm(k, o.shapes, o.reps);
    const best = (Object.keys(rates) as GemmKernel[]).reduce((a, b) => (rates[b]! > rates[a]! ? b : a), 'torch');
    chosen = { kernel: best, gflops: rates[best]!, rates, source: 'measured' };
    try {
      writeCache(path, entries, key, { kernel: best, rates });
    } catch (e) {
      warn(`${path}: cannot cache the GEMM choice (${(e as Error).message.split('\n')[0]})`);
    }
  }
  setGemm(chosen.kernel);
  return chosen;
}

/** Forgets this process's choice and returns to libtorch's kernel (tests). */
export function resetGemmChoice(): void {
  chosen = undefined;
  setGemm('torch');
}

/** For the `engine:` log line: "fp32 GEMM openblas 310 GFLOP/s (measured; torch 90, onednn 139)". */
export function describeGemm(c: GemmChoice): string {
  const fmt = (v: number): string => v.toFixed(0);
  const rate = c.gflops === null ? '' : ` ${fmt(c.gflops)} GFLOP/s`;
  const others = GEMM_KERNELS.filter((k) => k !== c.kernel && c.rates[k] !== undefined).map((k) => `${k} ${fmt(c.rates[k]!)}`);
  return `fp32 GEMM ${c.kernel}${rate} (${c.source}${others.length ? `; ${others.join(', ')}` : ''})`;
}
