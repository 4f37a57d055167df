/**
 * The model fixtures (fixtures/models/cases.json) for the model, PEFT and CLI tests: backbones are
 * regenerated from their synthetic specs and written as real timm safetensors checkpoints in a temp
 * directory (once per process), adapter checkpoints likewise, so everything loads through the real
 * readers.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, rawToFloat32, type RawTensor } from '../../src/io/safetensors.js';
import { fromRaw } from '../../src/tensor/functional.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { loadAst, type AstConfig, type AudioSpectrogramTransformer } from '../../src/models/ast.js';
import { applyPeft } from '../../src/peft/methods.js';
import { loadAdapter } from '../../src/peft/checkpoint.js';
import { fixture } from '../helpers.js';
import {
  syntheticTensors,
  writeSyntheticBackbone,
  writeSyntheticTensors,
  type BackboneSpec,
  type TensorListSpec,
} from './synthetic_weights.js';

export interface FixtureCase {
  name: string;
  backbone: string;
  arch: string;
  depth: number;
  full_depth: boolean;
  fstride: number;
  tstride: number;
  input: { tensor: string; shape: number[]; synthetic: TensorListSpec };
  fdim: number;
  tdim: number;
  f_dim: number;
  t_dim: number;
  tokens: number;
  pos_embed_path: { time: 'crop' | 'resize'; freq: 'crop' | 'resize' };
  num_classes: number;
  method: string;
  adapters: {
    position: 'attn' | 'ffn';
    kernel: [number, number];
    bottleneck: number;
    bias: boolean;
    scale: number;
    mode: 'parallel' | 'sequential';
  }[];
  lora: { rank: number; alpha: number; targets: ('q' | 'k' | 'v')[] } | null;
  prompt: { tokens: number } | null;
  head_file: string | null;
  adapter_weights: TensorListSpec | null;
  adapter_config_file: string | null;
  expected: { file: string; tensors: Record<string, number[]> };
  params: { total: number; trainable: number; frozen: number };
  sensitivity: number;
}

export interface Manifest {
  backbones: Record<string, BackboneSpec & { name: string; arch: string; depth: number; full_depth: boolean }>;
  cases: FixtureCase[];
  suggested_tolerance: { atol: number; rtol: number };
}

export const manifest = JSON.parse(readFileSync(fixture('models', 'cases.json'), 'utf8')) as Manifest;
export const cases = manifest.cases;

export function caseNamed(name: string): FixtureCase {
  const c = cases.find((x) => x.name === name);
  if (!c) throw new Error(`cases.json: no case ${name}`);
  return c;
}

let tmp: string | undefined;
/** A per-process temp directory, removed at exit. */
export function tempDir(): string {
  if (!tmp) {
    tmp = mkdtempSync(join(tmpdir(), 'loaa-models-'));
    const dir = tmp;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return tmp;
}

export function freshDir(name: string): string {
  const d = join(tempDir(), `${name}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(d, { recursive: true });
  return d;
}

const backbonePaths = new Map<string, string>();
/** The case backbone as a timm safetensors checkpoint on disk (written once). */
export function backbonePath(name: string): string {
  let p = backbonePaths.get(name);
  if (!p) {
    const spec = manifest.backbones[name];
    if (!spec) throw new Error(`cases.json: no backbone ${name}`);
    const dir = join(tempDir(), 'backbones');
    mkdirSync(dir, { recursive: true });
    p = writeSyntheticBackbone(spec, dir, 'timm-safetensors');
    backbonePaths.set(name, p);
  }
  return p;
}

/** The case's adapter checkpoint directory (config copied, weights regenerated), or null. */
export function adapterDir(c: FixtureCase): string | null {
  if (!c.adapter_weights || !c.adapter_config_file) return null;
  const d = join(tempDir(), 'adapters', c.name);
  mkdirSync(d, { recursive: true });
  copyFileSync(fixture('models', c.adapter_config_file), join(d, 'adapter_config.json'));
  writeSyntheticTensors(c.adapter_weights, join(d, 'adapter_model.safetensors'));
  return d;
}

export function astConfigOf(c: FixtureCase): AstConfig {
  return {
    arch: c.arch,
    numClasses: c.num_classes,
    melBins: c.fdim,
    frames: c.tdim,
    fstride: c.fstride,
    tstride: c.tstride,
    depth: c.depth,
  };
}

/** The case input fbank [B, T, F]. */
export function caseInput(c: FixtureCase): Tensor {
  return fromRaw(syntheticTensors(c.input.synthetic).get(c.input.tensor)!);
}
export function caseInputRaw(c: FixtureCase): RawTensor {
  return syntheticTensors(c.input.synthetic).get(c.input.tensor)!;
}

export function expectedOf(c: FixtureCase): Map<string, Float32Array> {
  const t = readSafetensors(fixture('models', c.expected.file)).tensors;
  return new Map([...t].map(([k, v]) => [k, rawToFloat32(v, k).slice()]));
}

/** The case's model: backbone through loadAst, then its head (linear probe) or its adapter checkpoint. */
export function loadCase(c: FixtureCase): { model: AudioSpectrogramTransformer; unused: string[] } {
  const { model, unused } = loadAst(backbonePath(c.backbone), astConfigOf(c));
  if (c.head_file) {
    applyPeft(model, { method: 'linear' });
    model.loadSafetensors(fixture('models', c.head_file), { strict: false });
  }
  const dir = adapterDir(c);
  if (dir) loadAdapter(dir, model);
  model.eval();
  return { model, unused };
}

/** max |a - b| and max |b| */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  if (a.length !== b.length) throw new Error(`maxDiff: lengths ${a.length} and ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}
