/**
 * Counter-based synthetic weights, the bit-exact twin of tools/fixtures/synthetic_weights.py
 * (generator "loaa-synth/1"). The model fixtures commit only specs and digests (cases.json);
 * the tests regenerate backbones, PEFT tensors and inputs from them. Definition, uint32 mod 2^32:
 *
 *   s        = fnv1a32(utf8(name)) ^ seed
 *   u[i]     = lowbias32(lowbias32(i) ^ s)                     i: flat row-major index
 *   value[i] = fround((u[i] * 2^-32 - 0.5) * (2 * sqrt(3) * std) + mean)   (float64, left to right)
 *
 * std/mean come from the first init rule whose regex `pattern` is found in the name.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { numel, writeSafetensors, type RawTensor } from '../../src/io/safetensors.js';

export const GENERATOR = 'loaa-synth/1';

export interface InitRule {
  pattern: string;
  std: number;
  mean: number;
}

/** The backbone rule list (also recorded in every cases.json backbone as `init`). */
export const BACKBONE_INIT: readonly InitRule[] = [
  { pattern: '^(cls_token|dist_token|pos_embed)$', std: 0.2, mean: 0 },
  { pattern: '\\.bias$', std: 0.02, mean: 0 },
  { pattern: 'norm[0-9]*\\.weight$', std: 0.1, mean: 1 },
  { pattern: 'attn\\.qkv\\.weight$', std: 0.12, mean: 0 },
  { pattern: '', std: 0.02, mean: 0 },
];

/** A timm ViT/DeiT image checkpoint, as a `backbones` entry of fixtures/models/cases.json. */
export interface BackboneSpec {
  name?: string;
  arch?: string;
  embed_dim: number;
  depth: number;
  img_size: number;
  patch_size?: number;
  distilled: boolean;
  image_num_classes: number;
  seed: number;
  init?: readonly InitRule[];
  sha256?: string;
}

/** An explicit tensor list (adapter checkpoints, inputs): `adapter_weights`, `input.synthetic`. */
export interface TensorListSpec {
  seed: number;
  init: readonly InitRule[];
  tensors: Record<string, number[]>;
  sha256?: string;
}

export function fnv1a32(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

export function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const TWO_NEG_32 = 1 / 4294967296;

/** The raw uint32 stream of one tensor (exposed for the cross-language test vector). */
export function syntheticBits(name: string, count: number, seed: number): Uint32Array {
  const s = (fnv1a32(name) ^ seed) >>> 0;
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = lowbias32(lowbias32(i) ^ s);
  return out;
}

export function syntheticFloat32(name: string, shape: readonly number[], seed: number, std: number, mean: number): Float32Array {
  const n = numel(shape);
  if (n >= 2 ** 32) throw new Error(`${name}: ${n} elements do not fit the uint32 counter`);
  const s = (fnv1a32(name) ^ seed) >>> 0;
  const scale = 2 * Math.sqrt(3) * std;
  const out = new Float32Array(n); // the store rounds to nearest-even float32, as Math.fround
  for (let i = 0; i < n; i++) {
    const u = lowbias32(lowbias32(i) ^ s);
    out[i] = (u * TWO_NEG_32 - 0.5) * scale + mean;
  }
  return out;
}

export function ruleFor(name: string, rules: readonly InitRule[]): InitRule {
  for (const r of rules) if (new RegExp(r.pattern).test(name)) return r;
  throw new Error(`${name}: no init rule matches`);
}

function raw(data: Float32Array, shape: readonly number[]): RawTensor {
  return { dtype: 'float32', shape: [...shape], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function syntheticTensors(spec: TensorListSpec): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const name of Object.keys(spec.tensors).sort(byName)) {
    const shape = spec.tensors[name];
    const r = ruleFor(name, spec.init);
    out.set(name, raw(syntheticFloat32(name, shape, spec.seed, r.std, r.mean), shape));
  }
  return out;
}

/** Names and shapes of a timm VisionTransformer / VisionTransformerDistilled state dict. */
export function timmVitShapes(spec: BackboneSpec): Record<string, number[]> {
  const D = spec.embed_dim;
  const H = 4 * D;
  const P = spec.patch_size ?? 16;
  const S = spec.distilled ? 2 : 1;
  const grid = Math.floor(spec.img_size / P);
  const C = spec.image_num_classes;
  const shapes: Record<string, number[]> = {
    'patch_embed.proj.weight': [D, 3, P, P],
    'patch_embed.proj.bias': [D],
    cls_token: [1, 1, D],
    pos_embed: [1, grid * grid + S, D],
    'norm.weight': [D],
    'norm.bias': [D],
    'head.weight': [C, D],
    'head.bias': [C],
  };
  if (spec.distilled) Object.assign(shapes, { dist_token: [1, 1, D], 'head_dist.weight': [C, D], 'head_dist.bias': [C] });
  for (let i = 0; i < spec.depth; i++) {
    const p = `blocks.${i}.`;
    Object.assign(shapes, {
      [`${p}norm1.weight`]: [D],
      [`${p}norm1.bias`]: [D],
      [`${p}attn.qkv.weight`]: [3 * D, D],
      [`${p}attn.qkv.bias`]: [3 * D],
      [`${p}attn.proj.weight`]: [D, D],
      [`${p}attn.proj.bias`]: [D],
      [`${p}norm2.weight`]: [D],
      [`${p}norm2.bias`]: [D],
      [`${p}mlp.fc1.weight`]: [H, D],
      [`${p}mlp.fc1.bias`]: [H],
      [`${p}mlp.fc2.weight`]: [D, H],
      [`${p}mlp.fc2.bias`]: [D],
    });
  }
  return shapes;
}

/** The synthetic timm image checkpoint of a cases.json backbone (image heads included). */
export function syntheticStateDict(spec: BackboneSpec): Map<string, RawTensor> {
  return syntheticTensors({ seed: spec.seed, init: spec.init ?? BACKBONE_INIT, tensors: timmVitShapes(spec) });
}

/** sha256 over sorted names of utf8(`${name} ${shape.join(',')}\n`) + float32 LE bytes. */
export function stateDictDigest(tensors: Map<string, RawTensor>): string {
  const h = createHash('sha256');
  for (const name of [...tensors.keys()].sort(byName)) {
    const t = tensors.get(name)!;
    if (t.dtype !== 'float32') throw new Error(`${name}: digest covers float32 tensors only, found ${t.dtype}`);
    h.update(`${name} ${t.shape.join(',')}\n`, 'utf8');
    h.update(t.data);
  }
  return h.digest('hex');
}

function checkDigest(what: string, tensors: Map<string, RawTensor>, expected: string | undefined): void {
  if (expected === undefined) return;
  const got = stateDictDigest(tensors);
  if (got !== expected) throw new Error(`${what}: synthetic tensors have sha256 ${got}, the spec records ${expected}`);
}

/**
 * Write the backbone as a real timm checkpoint (`<dir>/<name>.safetensors`, metadata format "pt")
 * after checking its digest against the spec; returns the path.
 */
export function writeSyntheticBackbone(spec: BackboneSpec, dir: string, format: 'timm-safetensors' = 'timm-safetensors'): string {
  if (format !== 'timm-safetensors') throw new Error(`format: unsupported ${String(format)}`);
  const sd = syntheticStateDict(spec);
  checkDigest(`backbone ${spec.name ?? spec.arch}`, sd, spec.sha256);
  const path = join(dir, `${spec.name ?? spec.arch}.safetensors`);
  writeSafetensors(path, sd, { format: 'pt' });
  return path;
}

/** Write a tensor-list spec (e.g. a case's `adapter_weights`) as a safetensors file at `path`. */
export function writeSyntheticTensors(spec: TensorListSpec, path: string, metadata?: Record<string, string>): string {
  const tensors = syntheticTensors(spec);
  checkDigest(path, tensors, spec.sha256);
  writeSafetensors(path, tensors, metadata);
  return path;
}
