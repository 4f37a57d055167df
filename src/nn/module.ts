/**
 * `Module`: a tree of named parameters with timm's dotted names (`blocks.3.attn.qkv.weight`), as in
 * torch.nn.Module. Parameters and buffers are kept tensors (outside every scope); a module owns
 * them and frees them in `dispose()`.
 */
import { Tensor } from '../tensor/tensor.js';
import { fromRaw, noGrad, toRaw } from '../tensor/functional.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../io/safetensors.js';
import { checkLoadDtype } from '../io/dtype_check.js';
import { moveTo_ } from '../tensor/device.js';
import type { LowDType } from '../tensor/autocast.js';

export class Module {
  training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  /** Registers a trainable tensor under `name` (kept, requires grad). */
  protected param(name: string, t: Tensor): Tensor {
    t.keep().requiresGrad = true;
    this.#params.set(name, t);
    return t;
  }
  /** Registers a non-trainable tensor that is still part of the state dict. */
  protected buffer(name: string, t: Tensor): Tensor {
    t.keep();
    this.#buffers.set(name, t);
    return t;
  }
  protected child<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }
  /** Replaces a registered parameter's tensor (checkpoint loading; pos-embed resizing). */
  protected replaceParam(name: string, t: Tensor): Tensor {
    const old = this.#params.get(name);
    if (!old) throw new Error(`${this.constructor.name}: no parameter "${name}"`);
    const req = old.requiresGrad;
    old.dispose();
    t.keep().requiresGrad = req;
    this.#params.set(name, t);
    return t;
  }
  /** Removes a child (e.g. an adapter being swapped out); returns it undisposed. */
  protected removeChild(name: string): Module | undefined {
    const m = this.#children.get(name);
    this.#children.delete(name);
    return m;
  }
  getChild(name: string): Module | undefined {
    return this.#children.get(name);
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, p] of this.#params) yield [prefix + n, p];
    for (const [n, c] of this.#children) yield* c.namedParameters(`${prefix}${n}.`);
  }
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, b] of this.#buffers) yield [prefix + n, b];
    for (const [n, c] of this.#children) yield* c.namedBuffers(`${prefix}${n}.`);
  }
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix.replace(/\.$/, ''), this];
    for (const [n, c] of this.#children) yield* c.namedModules(`${prefix}${n}.`);
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }
  trainableParameters(): [string, Tensor][] {
    return [...this.namedParameters()].filter(([, p]) => p.requiresGrad);
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /**
   * Sets requiresGrad by name pattern: `freeze()` freezes everything, `unfreeze([/^head\./])` thaws
   * the head. Frozen tensors get no gradient at all: libtorch skips their weight-gradient kernels.
   */
  freeze(patterns: RegExp[] = [/.*/]): this {
    return this.#setTrainable(patterns, false);
  }
  unfreeze(patterns: RegExp[] = [/.*/]): this {
    return this.#setTrainable(patterns, true);
  }
  #setTrainable(patterns: RegExp[], v: boolean): this {
    for (const [n, p] of this.namedParameters()) if (patterns.some((re) => re.test(n))) p.requiresGrad = v;
    return this;
  }

  /**
   * Moves every parameter and buffer to `device` (torch's `module.to(device)`): the tensors behind
   * the existing handles are replaced, so layers, adapters and optimizers built on them follow.
   * Low-precision weight copies are dropped (make them again with `castFrozenWeights`).
   */
  to(device: string): this {
    this.castFrozenWeights(null);
    noGrad(() => {
      for (const [, t] of this.namedParameters()) moveTo_(t, device);
      for (const [, t] of this.namedBuffers()) moveTo_(t, device);
    });
    return this;
  }
  /** The device of the first parameter ('cpu' for a module without any). */
  get device(): string {
    for (const [, p] of this.namedParameters()) return p.device;
    return 'cpu';
  }

  /**
   * Under autocast, libtorch caches its low-precision casts of trainable weights for the region,
   * but casts frozen ones again at every op, every step. This makes `dtype` copies of the frozen
   * weights of the layers autocast runs in low precision (linear, conv) once; those layers use
   * them while autocast runs in that dtype. The result is identical: autocast would cast the same
   * values to the same dtype. Weights of float32 ops (layer norm) stay as they are. `null` drops
   * the copies. Call after freezing and loading weights; loading drops them.
   */
  castFrozenWeights(dtype: LowDType | null): this {
    for (const [, m] of this.namedModules()) m.lowPrecisionCopies(dtype);
    return this;
  }
  /** Layers with autocast low-precision weights override this (see `castFrozenWeights`). */
  protected lowPrecisionCopies(_dtype: LowDType | null): void {}

  /** Detached handles on every parameter and buffer, by name. The caller disposes them. */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [n, t] of this.namedParameters()) out.set(n, t.detach());
    for (const [n, t] of this.namedBuffers()) out.set(n, t.detach());
    return out;
  }

  /**
   * Copies values in by name. Shapes must match; `strict` also requires every tensor of the
   * module to be present. Returns the keys that were not used.
   */
  loadStateDict(
    tensors: Map<string, RawTensor | Tensor>,
    opts: { strict?: boolean; source?: string } = {},
  ): { missing: string[]; unused: string[] } {
    const source = opts.source ?? 'state dict';
    const own = new Map<string, Tensor>([...this.namedParameters(), ...this.namedBuffers()]);
    const missing = [...own.keys()].filter((k) => !tensors.has(k));
    const unused = [...tensors.keys()].filter((k) => !own.has(k));
    if (opts.strict && missing.length) {
      throw new Error(
        `${source}: missing ${missing.length} tensor(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`,
      );
    }
    this.castFrozenWeights(null); // copies of the old values would go stale
    const mismatched: string[] = [];
    for (const [k, t] of own) {
      const src = tensors.get(k);
      if (!src) continue;
      const shape = src instanceof Tensor ? src.shape : src.shape;
      if (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i])) {
        mismatched.push(`${k}: expected [${t.shape.join(', ')}], found [${shape.join(', ')}]`);
      }
      checkLoadDtype(source, k, src.dtype, t.dtype);
    }
    if (mismatched.length)
      throw new Error(`${source}: shape mismatch: ${mismatched.slice(0, 5).join('; ')}${mismatched.length > 5 ? '; ...' : ''}`);
    noGrad(() => {
      for (const [k, t] of own) {
        const src = tensors.get(k);
        if (!src) continue;
        const v = src instanceof Tensor ? src : fromRaw(src);
        const cast = v.dtype === t.dtype && v.device === t.device ? v : v.to(t.dtype, t.device);
        t.copy_(cast);
        if (cast !== v) cast.dispose();
        if (v !== src) v.dispose();
      }
    });
    return { missing, unused };
  }

  saveSafetensors(path: string, filter: (name: string) => boolean = () => true, metadata?: Record<string, string>): void {
    const sd = this.stateDict();
    const raw = new Map<string, RawTensor>();
    for (const [k, t] of sd) {
      if (filter(k)) raw.set(k, toRaw(t));
      t.dispose();
    }
    writeSafetensors(path, raw, metadata);
  }
  loadSafetensors(path: string, opts: { strict?: boolean } = {}): { missing: string[]; unused: string[] } {
    return this.loadStateDict(readSafetensors(path).tensors, { ...opts, source: path });
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    this.castFrozenWeights(null);
    for (const [, p] of this.namedParameters()) p.dispose();
    for (const [, b] of this.namedBuffers()) b.dispose();
  }
}

/** Parameter counts: what the paper's tables report. */
export function countParameters(m: Module): { total: number; trainable: number; frozen: number } {
  let total = 0;
  let trainable = 0;
  for (const [, p] of m.namedParameters()) {
    total += p.numel;
    if (p.requiresGrad) trainable += p.numel;
  }
  return { total, trainable, frozen: total - trainable };
}
