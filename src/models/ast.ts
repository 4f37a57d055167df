/**
 * The Audio Spectrogram Transformer built from an image ViT/DeiT (docs/adapter-format.md section 1):
 * fbank [B, T, F] -> image [B, 1, F, T] -> 1-channel 16x16 patches with stride (fstride, tstride) ->
 * [cls, (dist), patches] + pos -> timm blocks -> norm -> pooled (cls, or the mean of cls and dist) ->
 * head = LayerNorm (eps 1e-5, AST's `mlp_head`) + Linear.
 *
 * Converting an image checkpoint: the patch weight is summed over RGB; the positional table loses
 * its special rows, becomes [D, H, H] (rows = frequency, columns = time) and is cropped from the
 * middle or bilinearly resized (align_corners false), time first, then frequency.
 * An audio AST checkpoint (Hugging Face ASTForAudioClassification, the original AST repository) is
 * converted the same way from its own f x t grid (12 x 101 for AudioSet's 1024 frames at stride 10).
 *
 * LayerNorm eps: timm's 1e-6 everywhere, except for Hugging Face checkpoints (hf-vit, hf-deit,
 * hf-ast), whose models use `layer_norm_eps` 1e-12: `loadAst` then builds the blocks and final norm
 * with 1e-12 (and the head too when it comes from an HF AST checkpoint), so the backbone computes what
 * it computed in transformers. The difference is below float32 noise for unit-variance activations.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { cat, fromRaw, interpolateBilinear, noGrad } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { Module } from '../nn/module.js';
import { LayerNorm, Linear } from '../nn/layers.js';
import type { RawTensor } from '../io/safetensors.js';
import { checkLoadDtype } from '../io/dtype_check.js';
import { assertBackbone, expectedBackboneShapes, getArch, inferArch, type ArchSpec } from './archs.js';
import { loadBackboneStateDict, type Container, type KeyFormat } from './checkpoint_keys.js';
import { SeedSeq, VIT_LN_EPS, VitTrunk, type AttentionRequest, type WithAttentions } from './vit.js';
import { readInputJson } from '../util/guarded_fs.js';
import {
  LEGACY_GRID_GETTERS,
  LEGACY_INPUT_GETTERS,
  legacyGetters,
  resolveInputNames,
  type InputGeometry,
  type PatchGrid,
  type WithLegacyInputNames,
} from './input_geometry.js';

export interface AstConfig extends InputGeometry {
  arch: string;
  numClasses: number;
  /** blocks to build (reduced-depth tests); default the architecture's */
  depth?: number;
  /** LayerNorm eps of the blocks and the final norm (default timm's 1e-6) */
  normEps?: number;
  /** LayerNorm eps of the head (default 1e-5, AST's `mlp_head`) */
  headNormEps?: number;
}

/**
 * An `AstConfig` as the constructor and loaders take it: `melBins` / `frames` may be given by their
 * deprecated names `fdim` / `tdim` (the names of adapter_config.json and the CLI flags).
 */
export type AstOptions = WithLegacyInputNames<AstConfig>;

export const AST_HEAD_LN_EPS = 1e-5;
/** Hugging Face ViT/DeiT/AST `layer_norm_eps` */
export const HF_LN_EPS = 1e-12;

/** A model's patch grid and its special tokens (cls, dist) before the patches. */
export interface AstGrid extends PatchGrid {
  special: number;
}

/**
 * AST's f_dim = (F - 16) // fstride + 1 rows and t_dim = (T - 16) // tstride + 1 columns, with checks
 * naming the bad value by its name in `keys` (a file's or a flag's; default the TypeScript name).
 */
export function astGrid(cfg: InputGeometry, patchSize = 16, keys: Partial<Record<keyof InputGeometry, string>> = {}): PatchGrid {
  for (const k of ['melBins', 'frames', 'fstride', 'tstride'] as const) {
    const v = cfg[k];
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${keys[k] ?? k}: expected a positive integer, got ${v}`);
  }
  if (cfg.melBins < patchSize)
    throw new Error(`${keys.melBins ?? 'melBins'}: ${cfg.melBins} mel bins are fewer than the ${patchSize}-bin patch`);
  if (cfg.frames < patchSize)
    throw new Error(`${keys.frames ?? 'frames'}: ${cfg.frames} frames are fewer than the ${patchSize}-frame patch`);
  return {
    gridRows: Math.floor((cfg.melBins - patchSize) / cfg.fstride) + 1,
    gridCols: Math.floor((cfg.frames - patchSize) / cfg.tstride) + 1,
  };
}

/** The architecture with the config's depth (reduced-depth models keep the arch's name). */
export function astArch(cfg: Pick<AstConfig, 'arch' | 'depth'>): ArchSpec {
  const a = getArch(cfg.arch);
  if (cfg.depth === undefined || cfg.depth === a.depth) return a;
  if (!Number.isSafeInteger(cfg.depth) || cfg.depth < 1) throw new Error(`depth: expected a positive integer, got ${cfg.depth}`);
  // depth reduces a model; more blocks than the architecture has would only allocate (--depth 100000 aborted)
  if (cfg.depth > a.depth)
    throw new Error(`depth: ${cfg.depth} is more than the ${a.depth} blocks of ${a.name} (depth builds a model with fewer blocks)`);
  return { ...a, depth: cfg.depth };
}

/** AST's `mlp_head`: LayerNorm + Linear, as `head.norm` / `head.fc`. */
export class AstHead extends Module {
  readonly norm: LayerNorm;
  readonly fc: Linear;
  constructor(
    readonly dim: number,
    readonly numClasses: number,
    eps = AST_HEAD_LN_EPS,
    seed?: number,
  ) {
    super();
    if (!Number.isSafeInteger(numClasses) || numClasses < 1) throw new Error(`numClasses: expected a positive integer, got ${numClasses}`);
    this.norm = this.child('norm', new LayerNorm(dim, eps));
    this.fc = this.child('fc', new Linear(dim, numClasses, { seed }));
  }
  forward(x: Tensor): Tensor {
    return scope(() => this.fc.forward(this.norm.forward(x)));
  }
}

/** Asks a forward for attention maps: which blocks, and heads averaged ([B, L, L]) or apart ([B, H, L, L]). */
export interface AstForwardOptions {
  /** true / 'last': the last block; 'all': every block */
  attention: true | 'last' | 'all';
  /** keep the heads apart instead of averaging them */
  attentionHeads?: boolean;
}

function attentionRequest(o: AstForwardOptions): AttentionRequest {
  return { mode: o.attentionHeads ? 'heads' : 'mean', layers: o.attention === 'all' ? 'all' : 'last' };
}

/** What loading a checkpoint did (set by `astFromImageStateDict` / `loadAst`). */
export interface AstLoadInfo {
  source: string;
  /** the checkpoint's tensors the AST does not use (image heads, extra blocks, a head of another size) */
  unused: string[];
  /** an AST head (`head.norm.*`, `head.fc.*`) was found and loaded */
  headLoaded: boolean;
  /** the positional grid of the checkpoint [rows (frequency), cols (time)] */
  sourceGrid: [number, number];
  /** 'image' (RGB patch weights summed) or 'audio' (a 1-channel AST checkpoint) */
  kind: 'image' | 'audio';
}

/**
 * The AST: the shared ViT trunk (src/models/vit.ts) over a 1-channel stem with stride
 * (fstride, tstride) on the [F, T] spectrogram image, pooled and put through `head`.
 */
export class AudioSpectrogramTransformer extends VitTrunk {
  #cfg: Readonly<AstConfig>;
  readonly embedDim: number;
  readonly grid: AstGrid;
  #head: AstHead;
  loadInfo?: AstLoadInfo;

  /** `cfg.fdim` / `cfg.tdim` are accepted as the deprecated names of `melBins` / `frames`. */
  constructor(options: AstOptions, opts: { seed?: number } = {}) {
    const cfg = resolveInputNames<AstConfig>(options);
    const arch = astArch(cfg);
    const g = astGrid(cfg, arch.patchSize);
    const seeds = new SeedSeq(opts.seed);
    super(arch, {
      inChans: 1,
      stride: [cfg.fstride, cfg.tstride],
      posGrid: [g.gridRows, g.gridCols],
      depth: arch.depth,
      eps: cfg.normEps ?? VIT_LN_EPS,
      seeds,
    });
    this.#cfg = frozenConfig(cfg);
    this.embedDim = arch.embedDim;
    this.grid = Object.freeze(
      legacyGetters({ gridRows: g.gridRows, gridCols: g.gridCols, special: this.numPrefixTokens }, LEGACY_GRID_GETTERS),
    );
    this.#head = this.child('head', new AstHead(this.embedDim, cfg.numClasses, cfg.headNormEps ?? AST_HEAD_LN_EPS, seeds.next()));
  }

  get cfg(): Readonly<AstConfig> {
    return this.#cfg;
  }
  get head(): AstHead {
    return this.#head;
  }
  get numClasses(): number {
    return this.#head.numClasses;
  }
  /** Patch tokens f_dim * t_dim. */
  get numPatches(): number {
    return this.grid.gridRows * this.grid.gridCols;
  }

  /** Replaces the head by a fresh one with `numClasses` outputs (the old one is disposed). */
  setHead(numClasses: number, opts: { seed?: number; eps?: number } = {}): AstHead {
    const old = this.removeChild('head') as AstHead | undefined;
    const eps = opts.eps ?? old?.norm.eps ?? AST_HEAD_LN_EPS;
    old?.dispose();
    this.#head = this.child('head', new AstHead(this.embedDim, numClasses, eps, opts.seed));
    this.#cfg = frozenConfig({ ...this.#cfg, numClasses });
    return this.#head;
  }

  /** fbank [B, T, F] -> the stem's image [B, 1, F, T] (rows = frequency), with the shape checked. */
  #image(fbank: Tensor): Tensor {
    const s = fbank.shape;
    if (s.length !== 3 || s[1] !== this.cfg.frames || s[2] !== this.cfg.melBins) {
      throw new Error(`fbank: expected [batch, ${this.cfg.frames} frames, ${this.cfg.melBins} mel bins], got [${s.join(', ')}]`);
    }
    return fbank.unsqueeze(1).transpose(2, 3);
  }

  /** Input of block 0: [cls, (dist), patches] + pos_embed, [B, S + f_dim*t_dim, D]. */
  embed(fbank: Tensor): Tensor {
    return scope(() => this.embedImage(this.#image(fbank)));
  }

  /** Final-norm tokens [B, L, D]. */
  tokens(fbank: Tensor): Tensor {
    return scope(() => this.encode(this.#image(fbank)).tokens);
  }

  /** Pooled features [B, D]: cls, or (cls + dist) / 2 for distilled models. */
  features(fbank: Tensor): Tensor {
    return scope(() => this.#pool(this.tokens(fbank)));
  }

  #pool(x: Tensor): Tensor {
    if (this.grid.special === 2) return x.select(1, 0).add(x.select(1, 1)).div(2);
    return x.select(1, 0);
  }

  /**
   * fbank [B, T, F] -> logits [B, C]. Asked for attention, `{ logits, attentions }`: the maps by
   * block index (null for the blocks not recorded), owned by the caller's scope like the logits.
   */
  forward(fbank: Tensor): Tensor;
  forward(fbank: Tensor, opts: AstForwardOptions): WithAttentions;
  forward(fbank: Tensor, opts?: AstForwardOptions): Tensor | WithAttentions {
    return scope(() => {
      const r = this.encode(this.#image(fbank), opts ? attentionRequest(opts) : null);
      const logits = this.#head.forward(this.#pool(r.tokens));
      return opts ? { logits, attentions: r.attentions } : logits;
    });
  }
}

/** The config a model hands out: frozen, and still readable by the deprecated `fdim` / `tdim`. */
function frozenConfig(cfg: AstConfig): Readonly<AstConfig> {
  return Object.freeze(legacyGetters({ ...cfg }, LEGACY_INPUT_GETTERS));
}

// ---------------------------------------------------------------------------------------- conversion

/**
 * AST's positional-embedding rule: special rows kept; the grid [rows, cols] (rows = frequency,
 * cols = time) cropped from the middle or bilinearly resized, time first, then frequency.
 */
export function resizePosEmbed(pos: Tensor, nSpecial: number, from: readonly [number, number], to: readonly [number, number]): Tensor {
  const [rows, cols] = from;
  const [gridRows, gridCols] = to;
  const D = pos.shape[2];
  if (pos.ndim !== 3 || pos.shape[1] !== nSpecial + rows * cols) {
    throw new Error(`pos_embed: expected [1, ${nSpecial + rows * cols}, D] for a ${rows}x${cols} grid, got [${pos.shape.join(', ')}]`);
  }
  return scope(() => {
    let p = pos
      .narrow(1, nSpecial, rows * cols)
      .transpose(1, 2)
      .reshape(1, D, rows, cols);
    if (gridCols <= cols) p = p.narrow(3, Math.floor(cols / 2) - Math.floor(gridCols / 2), gridCols);
    else p = interpolateBilinear(p.contiguous(), [rows, gridCols]);
    if (gridRows <= rows) p = p.narrow(2, Math.floor(rows / 2) - Math.floor(gridRows / 2), gridRows);
    else p = interpolateBilinear(p.contiguous(), [gridRows, gridCols]);
    const grid = p.reshape(1, D, gridRows * gridCols).transpose(1, 2);
    return cat([pos.narrow(1, 0, nSpecial), grid], 1).contiguous();
  });
}

const HEAD_KEYS = ['head.norm.weight', 'head.norm.bias', 'head.fc.weight', 'head.fc.bias'];

function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

interface ConvertOptions {
  kind: 'image' | 'audio';
  /** audio checkpoints: their own [f, t] grid */
  sourceGrid?: [number, number];
  seed?: number;
}

function convertAndLoad(tensors: Map<string, RawTensor>, cfg: AstConfig, source: string, o: ConvertOptions): AudioSpectrogramTransformer {
  const arch = astArch(cfg);
  const D = arch.embedDim;
  const S = arch.distilled ? 2 : 1;
  let sourceGrid: [number, number];
  if (o.kind === 'image') {
    assertBackbone(arch, tensors, source);
    const side = arch.imgSize / arch.patchSize;
    sourceGrid = [side, side];
  } else {
    const expected = expectedBackboneShapes(arch);
    const pos = tensors.get('pos_embed');
    const n = pos && pos.shape.length === 3 ? pos.shape[1] - S : -1;
    sourceGrid = o.sourceGrid ?? audioGridOf(n, source);
    expected.set('patch_embed.proj.weight', [D, 1, arch.patchSize, arch.patchSize]);
    expected.set('pos_embed', [1, S + sourceGrid[0] * sourceGrid[1], D]);
    const problems: string[] = [];
    for (const [k, shape] of expected) {
      const t = tensors.get(k);
      if (!t) problems.push(`missing ${k}`);
      else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
        problems.push(`${k}: expected ${shapeStr(shape)}, found ${shapeStr(t.shape)}`);
    }
    if (tensors.has('dist_token') !== arch.distilled)
      problems.push(arch.distilled ? 'no dist_token (not a distilled model)' : 'it has a dist_token (a distilled model)');
    if (problems.length) {
      const what = inferArch(tensors);
      throw new Error(
        `${source}: this audio checkpoint is ${what.description}, not ${arch.name} (depth ${arch.depth}, width ${D}): ${problems.slice(0, 4).join('; ')}${problems.length > 4 ? `; ... (${problems.length} in all)` : ''}`,
      );
    }
  }
  const model = new AudioSpectrogramTransformer(cfg, { seed: o.seed });
  try {
    const used = new Set<string>(expectedBackboneShapes(arch).keys());
    const load = new Map<string, RawTensor | Tensor>();
    const owned: Tensor[] = [];
    noGrad(() => {
      for (const k of used) {
        if (k === 'patch_embed.proj.weight' || k === 'pos_embed') continue;
        load.set(k, tensors.get(k)!);
      }
      // these two are resized here rather than loaded, so loadStateDict's dtype check never sees them
      for (const k of ['patch_embed.proj.weight', 'pos_embed']) checkLoadDtype(source, k, tensors.get(k)!.dtype, 'float32');
      const w = fromRaw(tensors.get('patch_embed.proj.weight')!);
      const w32 = w.to('float32');
      const w1 = w32.shape[1] === 1 ? w32 : w32.sum(1, true);
      const pos = fromRaw(tensors.get('pos_embed')!);
      const pos32 = pos.to('float32');
      const newPos = resizePosEmbed(pos32, S, sourceGrid, [model.grid.gridRows, model.grid.gridCols]);
      owned.push(w, w32, w1, pos, pos32, newPos);
      load.set('patch_embed.proj.weight', w1);
      load.set('pos_embed', newPos);
    });
    let headLoaded = false;
    const fcw = tensors.get('head.fc.weight');
    if (HEAD_KEYS.every((k) => tensors.has(k)) && fcw && fcw.shape[0] === cfg.numClasses && fcw.shape[1] === D) {
      for (const k of HEAD_KEYS) {
        load.set(k, tensors.get(k)!);
        used.add(k);
      }
      headLoaded = true;
    }
    try {
      model.loadStateDict(load, { source });
    } finally {
      for (const t of owned) if (!t.disposed) t.dispose();
    }
    const unused = [...tensors.keys()].filter((k) => !used.has(k));
    model.loadInfo = { source, unused, headLoaded, sourceGrid, kind: o.kind };
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * The AST from a timm-named image state dict: RGB patch weights summed, positional table cropped or
 * resized, image heads (`head`, `head_dist`) ignored and listed in `model.loadInfo.unused`. A state
 * dict that is not `cfg.arch` is an Error naming what it is. An AST head of `numClasses` outputs,
 * if present, is loaded.
 */
export function astFromImageStateDict(
  tensors: Map<string, RawTensor>,
  cfg: AstOptions,
  source: string,
  opts: { seed?: number } = {},
): AudioSpectrogramTransformer {
  const patch = tensors.get('patch_embed.proj.weight');
  if (patch && patch.shape.length === 4 && patch.shape[1] === 1) {
    throw new Error(`${source}: a 1-channel patch embedding: this is an audio (AST) checkpoint, not an image one (load it with loadAst)`);
  }
  return convertAndLoad(tensors, resolveInputNames<AstConfig>(cfg), source, { kind: 'image', seed: opts.seed });
}

/**
 * The AST from a timm-named audio AST state dict (1-channel patch embedding, its own [f, t] grid):
 * the grid is given, or read from `config.json`, or AudioSet's 128 mel bins at stride 10 (12 rows).
 */
export function astFromAudioStateDict(
  tensors: Map<string, RawTensor>,
  cfg: AstOptions,
  source: string,
  opts: { sourceGrid?: [number, number]; seed?: number } = {},
): AudioSpectrogramTransformer {
  return convertAndLoad(tensors, resolveInputNames<AstConfig>(cfg), source, {
    kind: 'audio',
    sourceGrid: opts.sourceGrid,
    seed: opts.seed,
  });
}

/** [f, t] of an audio checkpoint's n patch positions when nothing says: 12 rows (128 bins, stride 10), else square. */
function audioGridOf(n: number, source: string): [number, number] {
  if (n > 0 && n % 12 === 0) return [12, n / 12];
  const side = Math.round(Math.sqrt(n));
  if (n > 0 && side * side === n) return [side, side];
  throw new Error(`${source}: cannot tell the frequency x time grid of its ${n} positional embeddings (give sourceGrid)`);
}

/** A Hugging Face AST `config.json` beside the weights gives the grid exactly. */
function hfAudioGrid(path: string): [number, number] | undefined {
  let dir: string;
  try {
    dir = statSync(path).isDirectory() ? path : dirname(path);
  } catch {
    return undefined;
  }
  const file = join(dir, 'config.json');
  if (!existsSync(file)) return undefined;
  try {
    const c = readInputJson<Record<string, unknown>>(file, { what: 'Hugging Face config' });
    const num = (k: string): number | undefined => (typeof c[k] === 'number' ? (c[k] as number) : undefined);
    const bins = num('num_mel_bins');
    const frames = num('max_length');
    const fs = num('frequency_stride');
    const ts = num('time_stride');
    const patch = num('patch_size') ?? 16;
    if (bins === undefined || frames === undefined || fs === undefined || ts === undefined) return undefined;
    return [Math.floor((bins - patch) / fs) + 1, Math.floor((frames - patch) / ts) + 1];
  } catch {
    return undefined;
  }
}

export interface LoadedAst {
  model: AudioSpectrogramTransformer;
  /** the checkpoint's tensors not used (original names where the reader kept them) */
  unused: string[];
  /** the key layout found: timm, hf-vit, hf-deit, hf-ast, ast */
  format: KeyFormat;
  container: Container;
}

/**
 * Any backbone checkpoint (timm / DeiT safetensors or .pth, Hugging Face ViT/DeiT/AST, original AST)
 * -> the AST of `cfg`. `strict`: every backbone tensor of the checkpoint must be used (no blocks
 * beyond `depth`, no AST head of another class count).
 */
export function loadAst(
  path: string,
  options: AstOptions,
  opts: { strict?: boolean; sourceGrid?: [number, number]; seed?: number } = {},
): LoadedAst {
  const sd = loadBackboneStateDict(path);
  const patch = sd.tensors.get('patch_embed.proj.weight');
  const audio = sd.format === 'hf-ast' || sd.format === 'ast' || (patch !== undefined && patch.shape.length === 4 && patch.shape[1] === 1);
  const hf = sd.format.startsWith('hf-');
  const cfg = resolveInputNames<AstConfig>(options);
  const c: AstConfig = { ...cfg };
  if (hf && c.normEps === undefined) c.normEps = HF_LN_EPS;
  const hasHead = sd.tensors.get('head.fc.weight')?.shape[0] === cfg.numClasses;
  if (hf && audio && hasHead && c.headNormEps === undefined) c.headNormEps = HF_LN_EPS;
  const model = audio
    ? astFromAudioStateDict(sd.tensors, c, path, {
        sourceGrid: opts.sourceGrid ?? (sd.format === 'hf-ast' ? hfAudioGrid(path) : undefined),
        seed: opts.seed,
      })
    : astFromImageStateDict(sd.tensors, c, path, { seed: opts.seed });
  const info = model.loadInfo!;
  if (opts.strict && info.unused.length) {
    model.dispose();
    throw new Error(
      `${path}: ${info.unused.length} backbone tensor(s) not used by a depth-${model.depth}, ${cfg.numClasses}-class AST: ${info.unused.slice(0, 4).join(', ')}${info.unused.length > 4 ? ', ...' : ''}`,
    );
  }
  return { model, unused: [...sd.unused, ...info.unused], format: sd.format, container: sd.container };
}
