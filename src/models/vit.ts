/**
 * timm's Vision Transformer / DeiT on loaa's tensor library, with timm's parameter names and shapes
 * (`patch_embed.proj`, `cls_token`, `dist_token`, `pos_embed`, `blocks.{i}.{norm1,attn.qkv,attn.proj,
 * norm2,mlp.fc1,mlp.fc2}`, `norm`). Pre-norm blocks, LayerNorm eps 1e-6, exact-erf GELU, fused qkv.
 *
 * The blocks carry the hooks the PEFT methods plug into (src/peft may import models, not the other
 * way round, so the hooks are interfaces here): a side adapter per sub-layer (`attn_adapter`,
 * `ffn_adapter`), low-rank q/k/v deltas on the attention (`attn.lora_q`, ...), and deep prompt
 * tokens (`blocks.{i}.prompt`).
 */
import type { Tensor } from '../tensor/tensor.js';
import { attention, cat, conv2d, randn } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { Module } from '../nn/module.js';
import { Conv2d, LayerNorm, Linear } from '../nn/layers.js';
import type { ArchSpec } from './archs.js';

/** timm's LayerNorm eps in ViT/DeiT blocks and the final norm. */
export const VIT_LN_EPS = 1e-6;

/** Deterministic per-tensor seeds from one model seed (undefined: the global generator). */
export class SeedSeq {
  #next: number;
  constructor(readonly seed: number | undefined) {
    this.#next = (Math.abs(Math.trunc(seed ?? 0)) % 2147483646) + 1;
  }
  next(): number | undefined {
    if (this.seed === undefined) return undefined;
    this.#next = (this.#next * 48271) % 2147483647; // MINSTD: exact in doubles
    return this.#next;
  }
}

/** An indexed list of modules: children named "0", "1", ... (torch.nn.ModuleList). */
export class ModuleList<M extends Module> extends Module {
  readonly items: M[];
  constructor(items: M[]) {
    super();
    this.items = items;
    items.forEach((m, i) => {
      this.child(String(i), m);
    });
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    const m = this.items[i];
    if (!m) throw new Error(`ModuleList: no item ${i} (length ${this.items.length})`);
    return m;
  }
}

/** Conv2d(in, D, 16x16, stride) -> tokens [B, rows*cols, D], row-major (rows = image height). */
export class PatchEmbed extends Module {
  readonly proj: Conv2d;
  constructor(
    readonly inChans: number,
    readonly embedDim: number,
    readonly patchSize = 16,
    readonly stride: [number, number] = [patchSize, patchSize],
    seed?: number,
  ) {
    super();
    this.proj = this.child('proj', new Conv2d(inChans, embedDim, [patchSize, patchSize], { stride, seed }));
  }
  /** Output grid of an input of `h x w`. */
  grid(h: number, w: number): [number, number] {
    return [Math.floor((h - this.patchSize) / this.stride[0]) + 1, Math.floor((w - this.patchSize) / this.stride[1]) + 1];
  }
  forward(x: Tensor): Tensor {
    return scope(() => conv2d(x, this.proj.weight, this.proj.bias, { stride: this.stride }).flatten(2).transpose(1, 2));
  }
}

/**
 * A side branch on one sub-layer (src/peft/adapter.ts): `forward(u, nPre, grid)` returns the term that
 * is added (already scaled); `mode` says where (see `Block`).
 */
export interface SideAdapter extends Module {
  readonly mode: 'parallel' | 'sequential';
  forward(u: Tensor, nPre: number, grid: readonly [number, number]): Tensor;
}

/** A low-rank delta on q, k or v (src/peft/lora.ts): `forward(x)` is added to that third of qkv(x). */
export interface QkvDelta extends Module {
  forward(x: Tensor): Tensor;
  /** the dense [D, D] update it is equivalent to (for merging into qkv) */
  deltaWeight(): Tensor;
}

export type QkvTarget = 'q' | 'k' | 'v';
const QKV: readonly QkvTarget[] = ['q', 'k', 'v'];

/** How attention probabilities are reported: averaged over heads or per head. */
export type AttentionRecord = 'mean' | 'heads';

export class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  readonly scale: number;
  readonly #lora = new Map<QkvTarget, QkvDelta>();

  constructor(
    readonly dim: number,
    readonly numHeads: number,
    seeds = new SeedSeq(undefined),
  ) {
    super();
    if (dim % numHeads !== 0) throw new Error(`Attention: width ${dim} is not divisible by ${numHeads} heads`);
    this.headDim = dim / numHeads;
    this.scale = this.headDim ** -0.5;
    this.qkv = this.child('qkv', new Linear(dim, dim * 3, { seed: seeds.next() }));
    this.proj = this.child('proj', new Linear(dim, dim, { seed: seeds.next() }));
  }

  /** Attaches (or with null, detaches and returns) the low-rank delta of q, k or v: `lora_q` etc. */
  setLora(target: QkvTarget, delta: QkvDelta | null): QkvDelta | undefined {
    const name = `lora_${target}`;
    const old = this.#lora.get(target);
    if (old) this.removeChild(name);
    this.#lora.delete(target);
    if (delta) {
      this.child(name, delta);
      this.#lora.set(target, delta);
    }
    return old;
  }
  lora(target: QkvTarget): QkvDelta | undefined {
    return this.#lora.get(target);
  }
  get hasLora(): boolean {
    return this.#lora.size > 0;
  }

  /** x [B, N, D] -> [B, N, D]; with `record`, also the softmax probabilities [B, (H,) N, N]. */
  forward(x: Tensor, record?: AttentionRecord | null): { out: Tensor; probs: Tensor | null } {
    return scope(() => {
      const [B, N, C] = x.shape;
      let qkv = this.qkv.forward(x);
      if (this.#lora.size) {
        const parts = qkv.split([C, C, C], -1);
        QKV.forEach((t, i) => {
          const d = this.#lora.get(t);
          if (d) parts[i] = parts[i].add(d.forward(x));
        });
        qkv = cat(parts, -1);
      }
      const heads = qkv.reshape(B, N, 3, this.numHeads, this.headDim).permute(2, 0, 3, 1, 4);
      // unbind, as timm: three select()s would each zero-fill a full [3, B, H, N, hd] gradient
      const [q, k, v] = heads.unbind(0) as [Tensor, Tensor, Tensor];
      let ctx: Tensor;
      let probs: Tensor | null = null;
      if (record) {
        // explicit softmax only when the probabilities are wanted: timm's (q * scale) @ k^T
        const attn = q.mul(this.scale).matmul(k.transpose(-2, -1)).softmax(-1);
        ctx = attn.matmul(v);
        probs = record === 'mean' ? attn.detach().mean(1) : attn.detach();
      } else {
        ctx = attention(q, k, v, this.scale);
      }
      const out = this.proj.forward(ctx.transpose(1, 2).reshape(B, N, C));
      return { out, probs };
    });
  }
}

export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(
    readonly dim: number,
    readonly hidden: number,
    seeds = new SeedSeq(undefined),
  ) {
    super();
    this.fc1 = this.child('fc1', new Linear(dim, hidden, { seed: seeds.next() }));
    this.fc2 = this.child('fc2', new Linear(hidden, dim, { seed: seeds.next() }));
  }
  forward(x: Tensor): Tensor {
    return scope(() => this.fc2.forward(this.fc1.forward(x).gelu()));
  }
}

/** What a block needs to know about the token layout. */
export interface BlockContext {
  /** special tokens in front (cls, dist) */
  nSpecial: number;
  /** the patch-token grid [rows, cols] (for the AST: [f_dim, t_dim]) */
  grid: readonly [number, number];
  /** record this block's attention probabilities */
  record?: AttentionRecord | null;
}

export type AdapterPosition = 'attn' | 'ffn';

/**
 * Pre-norm transformer block. With side adapters (the paper's Eq. 1/2):
 *   parallel:   x = x + f(u) + A(u),  u = LN(x)
 *   sequential: y = f(LN(x)); x = x + y + A(y)
 * With deep prompts the block sees [specials, prompt, patches] and drops the prompt rows after.
 */
export class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  #adapters: Partial<Record<AdapterPosition, SideAdapter>> = {};
  #prompt: Tensor | null = null;

  constructor(
    readonly dim: number,
    numHeads: number,
    mlpRatio = 4,
    eps = VIT_LN_EPS,
    seeds = new SeedSeq(undefined),
  ) {
    super();
    this.norm1 = this.child('norm1', new LayerNorm(dim, eps));
    this.attn = this.child('attn', new Attention(dim, numHeads, seeds));
    this.norm2 = this.child('norm2', new LayerNorm(dim, eps));
    this.mlp = this.child('mlp', new Mlp(dim, Math.round(dim * mlpRatio), seeds));
  }

  /** Attaches (or with null, detaches and returns) the adapter at `attn_adapter` / `ffn_adapter`. */
  setAdapter(position: AdapterPosition, adapter: SideAdapter | null): SideAdapter | undefined {
    const name = `${position}_adapter`;
    const old = this.#adapters[position];
    if (old) this.removeChild(name);
    delete this.#adapters[position];
    if (adapter) {
      this.child(name, adapter);
      this.#adapters[position] = adapter;
    }
    return old;
  }
  adapter(position: AdapterPosition): SideAdapter | undefined {
    return this.#adapters[position];
  }

  /** Deep prompt tokens `[1, N, D]` as parameter `prompt` (kept, trainable); null removes them (returned, undisposed). */
  setPrompt(p: Tensor | null): Tensor | null {
    const old = this.#prompt;
    if (p) {
      if (p.ndim !== 3 || p.shape[0] !== 1 || p.shape[2] !== this.dim) {
        throw new Error(`prompt: expected [1, N, ${this.dim}], got [${p.shape.join(', ')}]`);
      }
      p.keep().requiresGrad = true;
    }
    this.#prompt = p;
    return old;
  }
  get prompt(): Tensor | null {
    return this.#prompt;
  }

  // the prompt is a parameter of this module without a child of its own: Module keeps its maps private
  override *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    yield* super.namedParameters(prefix);
    if (this.#prompt) yield [`${prefix}prompt`, this.#prompt];
  }

  forward(x: Tensor, ctx: BlockContext): { out: Tensor; probs: Tensor | null } {
    return scope(() => {
      const nS = ctx.nSpecial;
      let nPre = nS;
      const prompt = this.#prompt;
      if (prompt) {
        const [B, L] = x.shape;
        const p = prompt.expand(B, -1, -1);
        x = cat([x.narrow(1, 0, nS), p, x.narrow(1, nS, L - nS)], 1);
        nPre += prompt.shape[1];
      }
      let probs: Tensor | null = null;
      x = this.#sublayer(
        x,
        this.norm1,
        (u) => {
          const r = this.attn.forward(u, ctx.record);
          probs = r.probs;
          return r.out;
        },
        this.#adapters.attn,
        nPre,
        ctx.grid,
      );
      x = this.#sublayer(x, this.norm2, (u) => this.mlp.forward(u), this.#adapters.ffn, nPre, ctx.grid);
      if (prompt) {
        const L = x.shape[1];
        x = cat([x.narrow(1, 0, nS), x.narrow(1, nPre, L - nPre)], 1);
      }
      return { out: x, probs };
    });
  }

  #sublayer(
    x: Tensor,
    norm: LayerNorm,
    f: (u: Tensor) => Tensor,
    adapter: SideAdapter | undefined,
    nPre: number,
    grid: readonly [number, number],
  ): Tensor {
    const u = norm.forward(x);
    const y = f(u);
    if (!adapter) return x.add(y);
    if (adapter.mode === 'parallel') return x.add(y).add(adapter.forward(u, nPre, grid));
    return x.add(y.add(adapter.forward(y, nPre, grid)));
  }
}

/**
 * Runs blocks in order; records attention of the blocks `recordAt` selects. Returns the final
 * tokens and the recorded probabilities by block index.
 */
export function runBlocks(
  blocks: ModuleList<Block>,
  x: Tensor,
  ctx: Omit<BlockContext, 'record'>,
  record?: { mode: AttentionRecord; layers: 'last' | 'all' } | null,
): { x: Tensor; attentions: (Tensor | null)[] } {
  const attentions: (Tensor | null)[] = [];
  const n = blocks.length;
  for (let i = 0; i < n; i++) {
    const rec = record && (record.layers === 'all' || i === n - 1) ? record.mode : null;
    const r = blocks.at(i).forward(x, { ...ctx, record: rec });
    x = r.out;
    attentions.push(r.probs);
  }
  return { x, attentions };
}

/** Which blocks' attention a forward records: 'last' or 'all', averaged over heads or per head. */
export interface AttentionRequest {
  mode: AttentionRecord;
  layers: 'last' | 'all';
}

/** A forward that was asked for attention: the logits and the maps by block index (null where not recorded). */
export interface WithAttentions {
  logits: Tensor;
  /** [B, L, L] ('mean') or [B, H, L, L] ('heads') per block; only the last is set for 'last' */
  attentions: (Tensor | null)[];
}

export interface TrunkOptions {
  inChans: number;
  stride: [number, number];
  /** the patch grid [rows, cols] the positional table covers */
  posGrid: readonly [number, number];
  depth: number;
  eps: number;
  seeds: SeedSeq;
}

/**
 * What the timm image model and the AST share (their stems differ only in channels, stride and
 * grid): patch tokens, [cls, (dist)] in front, the positional table, the blocks and the final norm,
 * with timm's names. Parameters are made in timm's order so that a seed gives both the same weights.
 */
export class VitTrunk extends Module {
  readonly patch_embed: PatchEmbed;
  readonly cls_token: Tensor;
  readonly dist_token: Tensor | null;
  pos_embed: Tensor;
  readonly blocks: ModuleList<Block>;
  readonly norm: LayerNorm;
  /** special tokens in front of the patches: cls, and dist for distilled models */
  readonly numPrefixTokens: number;
  readonly depth: number;

  constructor(
    readonly arch: ArchSpec,
    o: TrunkOptions,
  ) {
    super();
    const D = arch.embedDim;
    const seeds = o.seeds;
    this.depth = o.depth;
    this.numPrefixTokens = arch.distilled ? 2 : 1;
    this.patch_embed = this.child('patch_embed', new PatchEmbed(o.inChans, D, arch.patchSize, o.stride, seeds.next()));
    // timm: trunc_normal(std .02) for the tokens and the table; plain normal is as good for a fresh model
    this.cls_token = this.param('cls_token', randn([1, 1, D], { seed: seeds.next() }).mul_(0.02));
    this.dist_token = arch.distilled ? this.param('dist_token', randn([1, 1, D], { seed: seeds.next() }).mul_(0.02)) : null;
    const [rows, cols] = o.posGrid;
    this.pos_embed = this.param('pos_embed', randn([1, this.numPrefixTokens + rows * cols, D], { seed: seeds.next() }).mul_(0.02));
    const blocks: Block[] = [];
    for (let i = 0; i < this.depth; i++) blocks.push(new Block(D, arch.numHeads, arch.mlpRatio, o.eps, seeds));
    this.blocks = this.child('blocks', new ModuleList(blocks));
    this.norm = this.child('norm', new LayerNorm(D, o.eps));
  }

  /** img [B, C, H, W] -> the input of block 0: [cls, (dist), patches] + pos_embed, [B, S + rows*cols, D]. */
  embedImage(img: Tensor): Tensor {
    return scope(() => {
      const x = this.patch_embed.forward(img);
      const B = x.shape[0];
      const special = [this.cls_token.expand(B, -1, -1)];
      if (this.dist_token) special.push(this.dist_token.expand(B, -1, -1));
      return cat([...special, x], 1).add(this.pos_embed);
    });
  }

  /** img -> final-norm tokens [B, L, D], and the attention of the blocks `record` asks for. */
  encode(img: Tensor, record: AttentionRequest | null = null): { tokens: Tensor; attentions: (Tensor | null)[] } {
    return scope(() => {
      const x = this.embedImage(img);
      const grid = this.patch_embed.grid(img.shape[2], img.shape[3]);
      const r = runBlocks(this.blocks, x, { nSpecial: this.numPrefixTokens, grid }, record);
      return { tokens: this.norm.forward(r.x), attentions: r.attentions };
    });
  }
}

export interface VitOptions {
  /** image classes of the timm head (`head`, and `head_dist` for distilled models); 0: no head */
  numClasses?: number;
  /** blocks to build (reduced-depth tests); default the architecture's */
  depth?: number;
  eps?: number;
  seed?: number;
}

/** The timm image model (VisionTransformer / VisionTransformerDistilled), eval forward. */
export class VisionTransformer extends VitTrunk {
  readonly head: Linear | null;
  readonly head_dist: Linear | null;

  constructor(arch: ArchSpec, opts: VitOptions = {}) {
    const seeds = new SeedSeq(opts.seed);
    const g = arch.imgSize / arch.patchSize;
    const eps = opts.eps ?? VIT_LN_EPS;
    super(arch, {
      inChans: arch.inChans,
      stride: [arch.patchSize, arch.patchSize],
      posGrid: [g, g],
      depth: opts.depth ?? arch.depth,
      eps,
      seeds,
    });
    const D = arch.embedDim;
    const C = opts.numClasses ?? 0;
    this.head = C > 0 ? this.child('head', new Linear(D, C, { seed: seeds.next() })) : null;
    this.head_dist = C > 0 && arch.distilled ? this.child('head_dist', new Linear(D, C, { seed: seeds.next() })) : null;
  }

  /** img [B, C, H, W] -> normalised tokens [B, L, D] (and attention probabilities when asked). */
  forwardFeatures(
    img: Tensor,
    opts: { attention?: AttentionRecord; layers?: 'last' | 'all' } = {},
  ): { tokens: Tensor; attentions: (Tensor | null)[] } {
    return this.encode(img, opts.attention ? { mode: opts.attention, layers: opts.layers ?? 'all' } : null);
  }

  /** img -> image logits (distilled: mean of the two heads, timm's eval behaviour); with `attention`, the maps too. */
  forward(img: Tensor): Tensor;
  forward(img: Tensor, record: AttentionRequest): WithAttentions;
  forward(img: Tensor, record?: AttentionRequest): Tensor | WithAttentions {
    if (!this.head) throw new Error('VisionTransformer: built without a classifier head (numClasses 0)');
    return scope(() => {
      const r = this.encode(img, record ?? null);
      const t = r.tokens;
      let logits = this.head!.forward(t.select(1, 0));
      if (this.head_dist) logits = logits.add(this.head_dist.forward(t.select(1, 1))).div(2);
      return record ? { logits, attentions: r.attentions } : logits;
    });
  }
}
