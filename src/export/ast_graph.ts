/**
 * The AST with its PEFT additions as an ONNX graph, built from a state dict (timm names, the adapter
 * names of docs/interfaces.md section 2, LoRA `attn.lora_{q,k,v}.{A,B}`, prompts `blocks.{i}.prompt`)
 * and the geometry, never from loaa's module classes, so refactors of src/models and src/peft leave
 * it alone as long as the names hold.
 *
 * Computation (docs/interfaces.md section 1): fbank [B, T, F] -> [B, 1, F, T] -> Conv 16x16 with
 * stride (fstride, tstride) -> tokens frequency-major -> [cls, (dist), patches] + pos -> blocks ->
 * LayerNorm -> pooled (cls, or the mean of cls and dist) -> head LayerNorm + linear.
 * Folded at export time, exactly up to float rounding: LoRA into qkv (W += alpha/r B A), the attention
 * scale into q, the adapter scale s into Up, the positional rows of the special tokens into them.
 */
import { GraphBuilder } from './graph.js';

export interface StateTensor {
  data: Float32Array;
  shape: number[];
}
export type StateDict = Map<string, StateTensor>;

export interface ExportAdapterSpec {
  position: 'attn' | 'ffn';
  kernel: [number, number];
  bottleneck: number;
  bias: boolean;
  scale: number;
  mode: 'parallel' | 'sequential';
}

export interface AstGraphSpec {
  embedDim: number;
  numHeads: number;
  depth: number;
  distilled: boolean;
  patchSize: number;
  melBins: number;
  frames: number;
  fstride: number;
  tstride: number;
  numClasses: number;
  /** LayerNorm eps of the blocks and the final norm (timm 1e-6) */
  normEps: number;
  /** LayerNorm eps of the head (AST 1e-5) */
  headNormEps: number;
  adapters: ExportAdapterSpec[];
  lora?: { rank: number; alpha: number; targets: ('q' | 'k' | 'v')[] } | null;
  prompt?: { tokens: number } | null;
  /** a number, or 'dynamic' for a symbolic batch dimension */
  batch: number | 'dynamic';
}

const SQRT1_2 = Math.SQRT1_2;

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

class AstGraph {
  readonly g = new GraphBuilder();
  readonly D: number;
  readonly S: number;
  readonly gridRows: number;
  readonly gridCols: number;
  #batchShape?: string;

  constructor(
    readonly sd: StateDict,
    readonly spec: AstGraphSpec,
  ) {
    this.D = spec.embedDim;
    this.S = spec.distilled ? 2 : 1;
    this.gridRows = Math.floor((spec.melBins - spec.patchSize) / spec.fstride) + 1;
    this.gridCols = Math.floor((spec.frames - spec.patchSize) / spec.tstride) + 1;
  }

  /** The tensor `name` with the expected shape; the error names the key. */
  t(name: string, shape?: number[]): StateTensor {
    const x = this.sd.get(name);
    if (!x) throw new Error(`${name}: missing from the state dict`);
    if (shape && (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i]))) {
      throw new Error(`${name}: expected [${shape.join(', ')}], found [${x.shape.join(', ')}]`);
    }
    return x;
  }

  /** [B] of the running batch (a Shape node made once). */
  batchDim(x: string): string {
    this.#batchShape ??= this.g.node('Shape', [x], { start: 0, end: 1 }, 'batch_size');
    return this.#batchShape;
  }

  /** y = x W^T + b for a torch Linear weight [out, in]. */
  linear(x: string, w: Float32Array, outDim: number, inDim: number, b: Float32Array | null, name: string): string {
    const wt = this.g.weight(`${name}.weight_t`, transpose2d(w, outDim, inDim), [inDim, outDim]);
    let y = this.g.node('MatMul', [x, wt], {}, `${name}.mm`);
    if (b) y = this.g.node('Add', [y, this.g.weight(`${name}.bias`, b, [outDim])], {}, `${name}.out`);
    return y;
  }

  layerNorm(x: string, prefix: string, eps: number): string {
    const w = this.g.weight(`${prefix}.weight`, this.t(`${prefix}.weight`, [this.D]).data, [this.D]);
    const b = this.g.weight(`${prefix}.bias`, this.t(`${prefix}.bias`, [this.D]).data, [this.D]);
    return this.g.node('LayerNormalization', [x, w, b], { axis: -1, epsilon: { float: eps } }, `${prefix}.out`);
  }

  /** Exact GELU: x * 0.5 * (1 + erf(x / sqrt 2)) (opset 17 has no Gelu op). */
  gelu(x: string, name: string): string {
    const e = this.g.node('Erf', [this.g.node('Mul', [x, this.g.scalar(SQRT1_2, 'sqrt1_2')], {}, `${name}.scaled`)], {}, `${name}.erf`);
    const one = this.g.node('Add', [e, this.g.scalar(1, 'one')], {}, `${name}.1p`);
    return this.g.node('Mul', [this.g.node('Mul', [x, this.g.scalar(0.5, 'half')], {}, `${name}.half`), one], {}, name);
  }

  /** x[:, start:end] on the token axis. */
  tokens(x: string, start: number, end: number, name: string): string {
    return this.g.node('Slice', [x, this.g.ints([start]), this.g.ints([end]), this.g.ints([1])], {}, name);
  }

  /** A constant [1, n, D] broadcast over the batch. */
  expandBatch(c: string, n: number, like: string, name: string): string {
    const shape = this.g.node('Concat', [this.batchDim(like), this.g.ints([n, this.D])], { axis: 0 }, `${name}.shape`);
    return this.g.node('Expand', [c, shape], {}, name);
  }

  build(): GraphBuilder {
    const { g, D, S, spec } = this;
    const P = spec.patchSize;
    const batch = spec.batch === 'dynamic' ? 'batch' : spec.batch;
    const inp = g.input('fbank', [batch, spec.frames, spec.melBins]);
    // [B, T, F] -> [B, 1, F, T]
    const img = g.node('Unsqueeze', [g.node('Transpose', [inp], { perm: [0, 2, 1] }, 'fbank_ft'), g.ints([1])], {}, 'image');
    const pw = g.weight('patch_embed.proj.weight', this.t('patch_embed.proj.weight', [D, 1, P, P]).data, [D, 1, P, P]);
    const pb = g.weight('patch_embed.proj.bias', this.t('patch_embed.proj.bias', [D]).data, [D]);
    const conv = g.node('Conv', [img, pw, pb], { kernel_shape: [P, P], strides: [spec.fstride, spec.tstride] }, 'patch_conv');
    const N = this.gridRows * this.gridCols;
    const patches = g.node(
      'Transpose',
      [g.node('Reshape', [conv, g.ints([0, D, N])], {}, 'patch_flat')],
      { perm: [0, 2, 1] },
      'patch_tokens',
    );
    const pos = this.t('pos_embed', [1, S + N, D]).data;
    const posPatches = g.weight('pos_embed.patches', pos.subarray(S * D), [1, N, D]);
    const xp = g.node('Add', [patches, posPatches], {}, 'patches_pos');
    const special = new Float32Array(S * D);
    special.set(this.t('cls_token', [1, 1, D]).data, 0);
    if (S === 2) special.set(this.t('dist_token', [1, 1, D]).data, D);
    for (let i = 0; i < S * D; i++) special[i] += pos[i];
    const sp = this.expandBatch(g.weight('special_tokens_pos', special, [1, S, D]), S, xp, 'special');
    let x = g.node('Concat', [sp, xp], { axis: 1 }, 'tokens');
    for (let i = 0; i < spec.depth; i++) x = this.block(x, i);
    x = this.layerNorm(x, 'norm', spec.normEps);
    const gather = (k: number) => g.node('Gather', [x, g.ints([k], true)], { axis: 1 }, `token${k}`);
    let pooled = gather(0);
    if (S === 2) pooled = g.node('Mul', [g.node('Add', [pooled, gather(1)], {}, 'cls_dist'), g.scalar(0.5, 'half')], {}, 'pooled');
    const h = this.layerNorm(pooled, 'head.norm', spec.headNormEps);
    const C = spec.numClasses;
    const fc = this.linear(h, this.t('head.fc.weight', [C, D]).data, C, D, this.t('head.fc.bias', [C]).data, 'head.fc');
    g.output(g.node('Identity', [fc], {}, 'logits'), [batch, C]);
    return g;
  }

  block(x: string, i: number): string {
    const { g, D, S, spec } = this;
    const pre = `blocks.${i}`;
    let nPre = S;
    const promptName = `${pre}.prompt`;
    const nPrompt = spec.prompt ? spec.prompt.tokens : 0;
    if (nPrompt) {
      const p = g.weight(promptName, this.t(promptName, [1, nPrompt, D]).data, [1, nPrompt, D]);
      const pe = this.expandBatch(p, nPrompt, x, `${pre}.prompt_b`);
      x = g.node(
        'Concat',
        [this.tokens(x, 0, S, `${pre}.special_in`), pe, this.tokens(x, S, 1 << 30, `${pre}.patches_in`)],
        { axis: 1 },
        `${pre}.with_prompt`,
      );
      nPre += nPrompt;
    }
    const adapter = (pos: 'attn' | 'ffn') => spec.adapters.find((a) => a.position === pos);
    x = this.sublayer(x, `${pre}.norm1`, (u) => this.attention(u, i), adapter('attn'), `${pre}.attn_adapter`, nPre);
    x = this.sublayer(x, `${pre}.norm2`, (u) => this.mlp(u, i), adapter('ffn'), `${pre}.ffn_adapter`, nPre);
    if (nPrompt)
      x = g.node(
        'Concat',
        [this.tokens(x, 0, S, `${pre}.special_out`), this.tokens(x, nPre, 1 << 30, `${pre}.patches_out`)],
        { axis: 1 },
        `${pre}.out`,
      );
    return x;
  }

  sublayer(x: string, norm: string, f: (u: string) => string, a: ExportAdapterSpec | undefined, aName: string, nPre: number): string {
    const u = this.layerNorm(x, norm, this.spec.normEps);
    const y = f(u);
    if (!a) return this.g.node('Add', [x, y], {}, `${norm}.res`);
    if (a.mode === 'parallel')
      return this.g.node('Add', [this.g.node('Add', [x, y], {}, `${norm}.res`), this.adapter(u, a, aName, nPre)], {}, `${aName}.res`);
    return this.g.node('Add', [x, this.g.node('Add', [y, this.adapter(y, a, aName, nPre)], {}, `${aName}.seq`)], {}, `${aName}.res`);
  }

  attention(u: string, i: number): string {
    const { g, D, spec } = this;
    const H = spec.numHeads;
    const hd = D / H;
    const pre = `blocks.${i}.attn`;
    const w = this.t(`${pre}.qkv.weight`, [3 * D, D]).data.slice();
    const b = this.t(`${pre}.qkv.bias`, [3 * D]).data.slice();
    if (spec.lora) {
      const { rank: r, alpha } = spec.lora;
      const s = alpha / r;
      spec.lora.targets.forEach((tg) => {
        const k = ['q', 'k', 'v'].indexOf(tg);
        const A = this.t(`${pre}.lora_${tg}.A`, [r, D]).data;
        const B = this.t(`${pre}.lora_${tg}.B`, [D, r]).data;
        for (let o = 0; o < D; o++) {
          const row = (k * D + o) * D;
          for (let j = 0; j < r; j++) {
            const bo = B[o * r + j] * s;
            if (bo === 0) continue;
            for (let c = 0; c < D; c++) w[row + c] += bo * A[j * D + c];
          }
        }
      });
    }
    const scale = hd ** -0.5;
    for (let j = 0; j < D * D; j++) w[j] *= scale;
    for (let j = 0; j < D; j++) b[j] *= scale;
    const proj = (k: number, name: string) =>
      this.linear(u, w.subarray(k * D * D, (k + 1) * D * D), D, D, b.subarray(k * D, (k + 1) * D), `${pre}.${name}`);
    const heads = (t: string, name: string, perm: number[]) =>
      g.node('Transpose', [g.node('Reshape', [t, g.ints([0, 0, H, hd])], {}, `${pre}.${name}_split`)], { perm }, `${pre}.${name}_heads`);
    const q = heads(proj(0, 'q'), 'q', [0, 2, 1, 3]);
    const kT = heads(proj(1, 'k'), 'k', [0, 2, 3, 1]);
    const v = heads(proj(2, 'v'), 'v', [0, 2, 1, 3]);
    const probs = g.node('Softmax', [g.node('MatMul', [q, kT], {}, `${pre}.scores`)], { axis: -1 }, `${pre}.probs`);
    const ctx = g.node('MatMul', [probs, v], {}, `${pre}.ctx`);
    const merged = g.node(
      'Reshape',
      [g.node('Transpose', [ctx], { perm: [0, 2, 1, 3] }, `${pre}.ctx_t`), g.ints([0, 0, D])],
      {},
      `${pre}.ctx_merged`,
    );
    return this.linear(merged, this.t(`${pre}.proj.weight`, [D, D]).data, D, D, this.t(`${pre}.proj.bias`, [D]).data, `${pre}.proj`);
  }

  mlp(u: string, i: number): string {
    const D = this.D;
    const pre = `blocks.${i}.mlp`;
    const Hd = this.t(`${pre}.fc1.weight`).shape[0];
    const h = this.linear(u, this.t(`${pre}.fc1.weight`, [Hd, D]).data, Hd, D, this.t(`${pre}.fc1.bias`, [Hd]).data, `${pre}.fc1`);
    const a = this.gelu(h, `${pre}.gelu`);
    return this.linear(a, this.t(`${pre}.fc2.weight`, [D, Hd]).data, D, Hd, this.t(`${pre}.fc2.bias`, [D]).data, `${pre}.fc2`);
  }

  /** s * Up(GELU(Down(u))) on the grid; tokens before the grid see the kernel's centre tap only. */
  adapter(u: string, a: ExportAdapterSpec, name: string, nPre: number): string {
    const { g, D } = this;
    const [kF, kT] = a.kernel;
    const r = a.bottleneck;
    const wd = this.t(`${name}.down.weight`, [r, D, kF, kT]).data;
    const wu = this.t(`${name}.up.weight`, [D, r, kF, kT]).data;
    const bd = a.bias ? this.t(`${name}.down.bias`, [r]).data : null;
    const bu0 = a.bias ? this.t(`${name}.up.bias`, [D]).data : null;
    const s = a.scale;
    const wuS = wu.map((v) => v * s);
    const bu = bu0 ? bu0.map((v) => v * s) : null;
    const cF = kF >> 1;
    const cT = kT >> 1;
    const centre = (w: Float32Array, out: number, inn: number) => {
      const c = new Float32Array(out * inn);
      for (let o = 0; o < out; o++) for (let k = 0; k < inn; k++) c[o * inn + k] = w[((o * inn + k) * kF + cF) * kT + cT];
      return c;
    };
    const centreBranch = (x: string, tag: string) => {
      const h = this.gelu(this.linear(x, centre(wd, r, D), r, D, bd, `${name}.down_c${tag}`), `${name}.gelu_c${tag}`);
      return this.linear(h, centre(wuS, D, r), D, r, bu, `${name}.up_c${tag}`);
    };
    if (kF === 1 && kT === 1) return centreBranch(u, '');
    const N = this.gridRows * this.gridCols;
    const pads = [cF, cT, cF, cT];
    const gridIn = g.node(
      'Reshape',
      [
        g.node('Transpose', [this.tokens(u, nPre, 1 << 30, `${name}.grid_tokens`)], { perm: [0, 2, 1] }, `${name}.grid_t`),
        g.ints([0, D, this.gridRows, this.gridCols]),
      ],
      {},
      `${name}.grid`,
    );
    const downIn = [gridIn, g.weight(`${name}.down.weight`, wd, [r, D, kF, kT])];
    if (bd) downIn.push(g.weight(`${name}.down.bias`, bd, [r]));
    const h = this.gelu(g.node('Conv', downIn, { kernel_shape: [kF, kT], pads }, `${name}.down`), `${name}.gelu`);
    const upIn = [h, g.weight(`${name}.up.weight`, wuS, [D, r, kF, kT])];
    if (bu) upIn.push(g.weight(`${name}.up.bias`, bu, [D]));
    const up = g.node('Conv', upIn, { kernel_shape: [kF, kT], pads }, `${name}.up`);
    const gridOut = g.node(
      'Transpose',
      [g.node('Reshape', [up, g.ints([0, D, N])], {}, `${name}.up_flat`)],
      { perm: [0, 2, 1] },
      `${name}.grid_out`,
    );
    const pre = centreBranch(this.tokens(u, 0, nPre, `${name}.pre_tokens`), '_pre');
    return g.node('Concat', [pre, gridOut], { axis: 1 }, `${name}.out`);
  }
}

/** The graph of the AST described by `spec` with the weights of `sd`. Errors name the missing or misshapen key. */
export function buildAstGraph(sd: StateDict, spec: AstGraphSpec): GraphBuilder {
  return new AstGraph(sd, spec).build();
}
