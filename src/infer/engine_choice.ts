/**
 * Which runtime computes the logits: libtorch, or onnxruntime-node on the graph `loaa export`
 * writes. `auto` takes onnxruntime where it is installed and measured faster on this machine for
 * this model shape (measured once, remembered under $LOAA_HOME like other machine facts), libtorch
 * otherwise; onnxruntime here is CPU fp32 only, so a GPU or a low precision means libtorch.
 */
import { existsSync } from 'node:fs';
import { arch, cpus } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../tensor/engine.js';
import { loaaHome } from '../models/pull.js';
import { readInputJson } from '../util/guarded_fs.js';
import { writeFileAtomic } from '../util/fs.js';

export const INFER_ENGINES = ['auto', 'onnx', 'torch'] as const;
export type InferEngineSpec = (typeof INFER_ENGINES)[number];
export type InferEngine = 'onnx' | 'torch';

/** How errors name the option (`--engine` on the command line, `engine` in the API). */
export interface EngineChoiceNames {
  engine: string;
  device: string;
  precision: string;
}

export function parseInferEngine(v: string | undefined, where = '--engine'): InferEngineSpec {
  if (v === undefined) return 'auto';
  if ((INFER_ENGINES as readonly string[]).includes(v)) return v as InferEngineSpec;
  throw new Error(`${where}: expected ${INFER_ENGINES.join(', ')}, got "${v}"`);
}

/**
 * The engine `spec` leaves before anything is measured: torch for `torch`, and for `auto` on a GPU
 * or in a low precision; `onnx` there is an error naming the flag that rules it out. Null: `auto`
 * on CPU fp32, to be measured.
 */
export function engineBeforeMeasuring(spec: InferEngineSpec, torch: Engine, names: EngineChoiceNames): InferEngine | null {
  if (spec === 'torch') return 'torch';
  const why =
    torch.device !== 'cpu'
      ? `${names.device}: ${torch.device}`
      : torch.precision !== 'fp32'
        ? `${names.precision}: ${torch.precision}`
        : null;
  if (why === null) return spec === 'onnx' ? 'onnx' : null;
  if (spec === 'onnx')
    throw new Error(`${why}: the onnx engine runs on the CPU in fp32 only (choose the torch or auto engine, or the CPU in fp32)`);
  return 'torch';
}

export interface Measured {
  engine: InferEngine;
  torchMs: number;
  onnxMs: number;
}

/** This machine as the cache keys it: the CPU model, its cores, the architecture. */
export function machineKey(): string {
  const c = cpus();
  return `${c[0]?.model.trim() ?? 'unknown cpu'} x${c.length} ${arch()}`;
}

export function engineCacheFile(home: string = loaaHome()): string {
  return join(home, 'machine', 'inference_engine.json');
}

type CacheFile = Record<string, Measured>;

/** The most verdicts the cache keeps (machine x model shape x GEMM kernel; the oldest measured go first). */
export const ENGINE_CACHE_ENTRIES = 32;

function validEntry(v: unknown): v is Measured {
  const m = v as Measured;
  return (
    !!m &&
    typeof m === 'object' &&
    (m.engine === 'onnx' || m.engine === 'torch') &&
    typeof m.torchMs === 'number' &&
    typeof m.onnxMs === 'number'
  );
}

/** The cached measurements; a file that is not one is ignored with a warning (and rewritten later). */
export function readEngineCache(file: string, warn: (line: string) => void): CacheFile {
  if (!existsSync(file)) return {};
  let raw: unknown;
  try {
    raw = readInputJson(file, { what: 'inference engine cache' });
  } catch (e) {
    warn(`loaa: ${file}: ignored, measuring again (${(e as Error).message})`);
    return {};
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || !Object.values(raw).every(validEntry)) {
    warn(`loaa: ${file}: ignored, measuring again (not a map of {engine, torchMs, onnxMs})`);
    return {};
  }
  return raw as CacheFile;
}

export interface ChooseOptions {
  /** the cache file (default $LOAA_HOME/machine/inference_engine.json) */
  cacheFile?: string;
  warn?: (line: string) => void;
}

/**
 * `auto`'s verdict for `shape` on this machine: the cached one, else `measure()`'s, then cached.
 * A cache that cannot be written costs a warning, not the run.
 */
export async function chooseMeasured(
  shape: string,
  measure: () => Promise<{ torchMs: number; onnxMs: number }>,
  opts: ChooseOptions = {},
): Promise<Measured & { cached: boolean }> {
  const file = opts.cacheFile ?? engineCacheFile();
  const warn = opts.warn ?? ((l: string) => process.stderr.write(`${l}\n`));
  const key = `${machineKey()} | ${shape}`;
  const cache = readEngineCache(file, warn);
  const hit = cache[key];
  if (hit) return { ...hit, cached: true };
  const { torchMs, onnxMs } = await measure();
  const m: Measured = { engine: onnxMs < torchMs ? 'onnx' : 'torch', torchMs, onnxMs };
  delete cache[key];
  const kept = Object.fromEntries([...Object.entries(cache), [key, m]].slice(-ENGINE_CACHE_ENTRIES));
  try {
    writeFileAtomic(file, `${JSON.stringify(kept, null, 1)}\n`);
  } catch (e) {
    warn(`loaa: ${(e as Error).message} (the engine measurement is not remembered)`);
  }
  return { ...m, cached: false };
}
