/**
 * The backbone architectures loaa knows, as data (timm names), where `loaa pull` fetches their
 * weights, and the shape checks that turn "wrong checkpoint" into a message saying what it is.
 */
import type { RawTensor } from '../io/safetensors.js';

export type ArchName =
  | 'deit_tiny_patch16_224'
  | 'deit_small_patch16_224'
  | 'deit_base_patch16_224'
  | 'deit_tiny_distilled_patch16_224'
  | 'deit_small_distilled_patch16_224'
  | 'deit_base_distilled_patch16_224'
  | 'deit_base_distilled_patch16_384'
  | 'vit_base_patch16_224'
  | 'vit_base_patch16_384';

export interface ArchSpec {
  name: ArchName;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  imgSize: number;
  patchSize: number;
  inChans: number;
  /** has `dist_token` (and, in the image model, `head_dist`) */
  distilled: boolean;
  /** cls (+ dist) tokens in front of the patch tokens */
  numPrefixTokens: number;
  /** Hugging Face hub location of timm's weights for `loaa pull` */
  hub: { repo: string; file: string; revision: string };
}

function spec(name: ArchName, embedDim: number, numHeads: number, imgSize: number, distilled: boolean, repo: string): ArchSpec {
  return {
    name,
    embedDim,
    depth: 12,
    numHeads,
    mlpRatio: 4,
    imgSize,
    patchSize: 16,
    inChans: 3,
    distilled,
    numPrefixTokens: distilled ? 2 : 1,
    hub: { repo, file: 'model.safetensors', revision: 'main' },
  };
}

/** timm's default pretrained tag for each (timm/models/deit.py, vision_transformer.py). */
export const ARCHS: Readonly<Record<ArchName, ArchSpec>> = Object.freeze({
  deit_tiny_patch16_224: spec('deit_tiny_patch16_224', 192, 3, 224, false, 'timm/deit_tiny_patch16_224.fb_in1k'),
  deit_small_patch16_224: spec('deit_small_patch16_224', 384, 6, 224, false, 'timm/deit_small_patch16_224.fb_in1k'),
  deit_base_patch16_224: spec('deit_base_patch16_224', 768, 12, 224, false, 'timm/deit_base_patch16_224.fb_in1k'),
  deit_tiny_distilled_patch16_224: spec(
    'deit_tiny_distilled_patch16_224',
    192,
    3,
    224,
    true,
    'timm/deit_tiny_distilled_patch16_224.fb_in1k',
  ),
  deit_small_distilled_patch16_224: spec(
    'deit_small_distilled_patch16_224',
    384,
    6,
    224,
    true,
    'timm/deit_small_distilled_patch16_224.fb_in1k',
  ),
  deit_base_distilled_patch16_224: spec(
    'deit_base_distilled_patch16_224',
    768,
    12,
    224,
    true,
    'timm/deit_base_distilled_patch16_224.fb_in1k',
  ),
  deit_base_distilled_patch16_384: spec(
    'deit_base_distilled_patch16_384',
    768,
    12,
    384,
    true,
    'timm/deit_base_distilled_patch16_384.fb_in1k',
  ),
  vit_base_patch16_224: spec('vit_base_patch16_224', 768, 12, 224, false, 'timm/vit_base_patch16_224.augreg2_in21k_ft_in1k'),
  vit_base_patch16_384: spec('vit_base_patch16_384', 768, 12, 384, false, 'timm/vit_base_patch16_384.augreg_in21k_ft_in1k'),
});

export const ARCH_NAMES = Object.keys(ARCHS) as ArchName[];

export function isArchName(name: string): name is ArchName {
  return Object.hasOwn(ARCHS, name);
}

/** The spec for a name, or an Error listing the names that exist. */
export function getArch(name: string): ArchSpec {
  if (!isArchName(name)) throw new Error(`${name}: unknown architecture (known: ${ARCH_NAMES.join(', ')})`);
  return ARCHS[name];
}

/** Tokens in the positional embedding: prefix tokens plus the (img/patch)^2 patch grid. */
export function posTokens(arch: ArchSpec): number {
  const g = arch.imgSize / arch.patchSize;
  return arch.numPrefixTokens + g * g;
}

/** Where a model built on the backbone differs from the image model (the AST, a PEFT method). */
export interface BackboneShapeOptions {
  /** input channels of the patch embedding (default the arch's: 3; the AST's is 1) */
  inChans?: number;
  /** tokens in pos_embed, prefix included (default the arch's image grid) */
  posTokens?: number;
  /** tensors a method adds to block `b` (its name prefix, "blocks.<i>."), after the attention's */
  afterAttention?: (b: string) => [string, number[]][];
  /** ... and after the MLP's, at the end of the block */
  afterMlp?: (b: string) => [string, number[]][];
}

/**
 * Every backbone tensor (heads excluded) with its shape, in the model's order: the one
 * per-architecture shape table, which the AST's parameter accounting (src/peft/params.ts) extends.
 */
export function expectedBackboneShapes(arch: ArchSpec, o: BackboneShapeOptions = {}): Map<string, number[]> {
  const D = arch.embedDim;
  const H = Math.round(D * arch.mlpRatio);
  const m = new Map<string, number[]>();
  const add = (entries: [string, number[]][] | undefined): void => entries?.forEach(([k, v]) => void m.set(k, v));
  m.set('cls_token', [1, 1, D]);
  if (arch.distilled) m.set('dist_token', [1, 1, D]);
  m.set('pos_embed', [1, o.posTokens ?? posTokens(arch), D]);
  m.set('patch_embed.proj.weight', [D, o.inChans ?? arch.inChans, arch.patchSize, arch.patchSize]);
  m.set('patch_embed.proj.bias', [D]);
  for (let i = 0; i < arch.depth; i++) {
    const p = `blocks.${i}.`;
    m.set(`${p}norm1.weight`, [D]);
    m.set(`${p}norm1.bias`, [D]);
    m.set(`${p}attn.qkv.weight`, [3 * D, D]);
    m.set(`${p}attn.qkv.bias`, [3 * D]);
    m.set(`${p}attn.proj.weight`, [D, D]);
    m.set(`${p}attn.proj.bias`, [D]);
    add(o.afterAttention?.(p));
    m.set(`${p}norm2.weight`, [D]);
    m.set(`${p}norm2.bias`, [D]);
    m.set(`${p}mlp.fc1.weight`, [H, D]);
    m.set(`${p}mlp.fc1.bias`, [H]);
    m.set(`${p}mlp.fc2.weight`, [D, H]);
    m.set(`${p}mlp.fc2.bias`, [D]);
    add(o.afterMlp?.(p));
  }
  m.set('norm.weight', [D]);
  m.set('norm.bias', [D]);
  return m;
}

export interface InferredArch {
  depth: number;
  embedDim: number;
  /** hidden width of the MLP (4 x embedDim in every arch here) */
  mlpHidden: number;
  /** tokens in pos_embed, prefix included */
  numTokens: number;
  numPrefixTokens: number;
  /** side x side when the patch tokens form a square grid (image models); null otherwise (audio grids) */
  posGrid: [number, number] | null;
  patchSize: number;
  inChans: number;
  distilled: boolean;
  /** known architectures whose every backbone shape this state dict matches (several can: deit_base and vit_base) */
  matches: ArchName[];
  /** "deit_tiny_patch16_224 (depth 12, width 192)" or, for an unknown one, its dimensions */
  description: string;
}

function shapeOf(t: Map<string, RawTensor>, k: string): number[] | undefined {
  return t.get(k)?.shape;
}

/** What a (timm-named) state dict is: read from its shapes, not its file name. */
export function inferArch(tensors: Map<string, RawTensor>): InferredArch {
  let depth = 0;
  for (const k of tensors.keys()) {
    const m = /^blocks\.(\d+)\./.exec(k);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  const cls = shapeOf(tensors, 'cls_token');
  const pos = shapeOf(tensors, 'pos_embed');
  const patch = shapeOf(tensors, 'patch_embed.proj.weight');
  const norm = shapeOf(tensors, 'norm.weight');
  const embedDim = cls?.[cls.length - 1] ?? pos?.[pos.length - 1] ?? norm?.[0] ?? patch?.[0] ?? 0;
  const mlpHidden = shapeOf(tensors, 'blocks.0.mlp.fc1.weight')?.[0] ?? 0;
  const distilled = tensors.has('dist_token');
  const numPrefixTokens = (cls ? 1 : 0) + (distilled ? 1 : 0);
  const numTokens = pos && pos.length >= 2 ? pos[pos.length - 2] : 0;
  const patchTokens = numTokens - numPrefixTokens;
  const side = Math.round(Math.sqrt(Math.max(0, patchTokens)));
  const posGrid: [number, number] | null = patchTokens > 0 && side * side === patchTokens ? [side, side] : null;
  const patchSize = patch && patch.length === 4 ? patch[2] : 0;
  const inChans = patch && patch.length === 4 ? patch[1] : 0;
  const matches = ARCH_NAMES.filter((n) => {
    const r = checkBackbone(ARCHS[n], tensors);
    return r.missing.length === 0 && r.mismatched.length === 0 && depth === ARCHS[n].depth;
  });
  const dims = `depth ${depth}, width ${embedDim}`;
  let description: string;
  if (matches.length) {
    description = `${matches.join(' / ')} (${dims})`;
  } else {
    const extra = [
      distilled ? 'distilled' : 'not distilled',
      posGrid ? `${posGrid[0]}x${posGrid[1]} patch grid` : `${numTokens} position tokens`,
      inChans && inChans !== 3 ? `${inChans} input channel${inChans === 1 ? '' : 's'}` : '',
    ].filter(Boolean);
    description = `an unknown ViT (${dims}, ${extra.join(', ')})`;
  }
  return { depth, embedDim, mlpHidden, numTokens, numPrefixTokens, posGrid, patchSize, inChans, distilled, matches, description };
}

export interface ShapeMismatch {
  key: string;
  expected: number[];
  found: number[];
}

export interface BackboneCheck {
  ok: boolean;
  missing: string[];
  mismatched: ShapeMismatch[];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Missing keys and shape mismatches of a timm-named state dict against an architecture. */
export function checkBackbone(arch: ArchSpec | ArchName, tensors: Map<string, RawTensor>): BackboneCheck {
  const a = typeof arch === 'string' ? getArch(arch) : arch;
  const missing: string[] = [];
  const mismatched: ShapeMismatch[] = [];
  for (const [key, expected] of expectedBackboneShapes(a)) {
    const t = tensors.get(key);
    if (!t) missing.push(key);
    else if (!sameShape(t.shape, expected)) mismatched.push({ key, expected, found: [...t.shape] });
  }
  return { ok: missing.length === 0 && mismatched.length === 0, missing, mismatched };
}

function list<T>(items: T[], show: (x: T) => string, max = 4): string {
  const shown = items.slice(0, max).map(show).join(', ');
  return items.length > max ? `${shown}, ... (${items.length} in all)` : shown;
}

/**
 * Throw, naming the checkpoint, what it actually is, and the first few differences, unless the
 * state dict fits the architecture.
 */
export function assertBackbone(arch: ArchSpec | ArchName, tensors: Map<string, RawTensor>, source: string): void {
  const a = typeof arch === 'string' ? getArch(arch) : arch;
  const r = checkBackbone(a, tensors);
  if (r.ok) return;
  const what = inferArch(tensors);
  const parts: string[] = [];
  if (r.missing.length) parts.push(`missing ${list(r.missing, (k) => k)}`);
  if (r.mismatched.length) {
    parts.push(
      `shape mismatches ${list(r.mismatched, (m) => `${m.key}: expected [${m.expected.join(', ')}], found [${m.found.join(', ')}]`)}`,
    );
  }
  throw new Error(
    `${source}: this checkpoint is ${what.description}, not ${a.name} (depth ${a.depth}, width ${a.embedDim}): ${parts.join('; ')}`,
  );
}
