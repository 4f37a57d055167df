/**
 * The optimizer base: parameter groups with their own hyper-parameters, per-parameter state kept
 * outside every scope, and a state dict of plain bytes + JSON so that a run can be checkpointed and
 * resumed bit for bit (torch.optim's layout: state by global parameter index).
 */
import { Tensor } from '../tensor/tensor.js';
import { fromRaw, noGrad, toRaw } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../io/safetensors.js';

/** Hyper-parameters shared by every optimizer; subclasses add their own. */
export interface GroupOptions {
  lr: number;
}

export type ParamGroup<H extends GroupOptions> = H & {
  params: Tensor[];
  /** the lr the group was created with: what `scaleLr` multiplies (torch's `initial_lr`) */
  readonly initialLr: number;
};

/** A group as the caller gives it: hyper-parameters left out take the optimizer's defaults. */
export type GroupInput<H extends GroupOptions> = Partial<H> & { params: Tensor[] };

/** Per-parameter state: tensors (moments, buffers) and numbers (step counts). */
export type ParamState = Record<string, Tensor | number>;

export interface OptimizerStateDict {
  /** tensor state by `<global parameter index>.<name>`, e.g. `3.exp_avg` */
  tensors: Record<string, RawTensor>;
  /** JSON: optimizer kind, group hyper-parameters with their parameter indices, numeric state */
  meta: OptimizerMeta;
}

export interface OptimizerMeta {
  kind: string;
  groups: (Record<string, unknown> & { params: number[]; shapes: number[][] })[];
  state: Record<string, Record<string, number>>;
}

const META_KEY = 'loaa.optimizer';

export abstract class Optimizer<H extends GroupOptions> {
  readonly groups: ParamGroup<H>[];
  readonly #state = new Map<Tensor, ParamState>();

  protected constructor(
    readonly kind: string,
    params: Tensor[] | GroupInput<H>[],
    readonly defaults: H,
  ) {
    const inputs: GroupInput<H>[] =
      params.length > 0 && params[0] instanceof Tensor ? [{ params: params as Tensor[] } as GroupInput<H>] : (params as GroupInput<H>[]);
    const seen = new Set<Tensor>();
    this.groups = inputs.map((g, gi) => {
      if (!Array.isArray(g.params)) throw new TypeError(`${kind}: group ${gi}: params must be an array of tensors`);
      for (const p of g.params) {
        if (!(p instanceof Tensor)) throw new TypeError(`${kind}: group ${gi}: params must be tensors`);
        if (seen.has(p)) throw new Error(`${kind}: group ${gi}: a parameter appears in more than one place`);
        seen.add(p);
      }
      const group = { ...defaults, ...stripUndefined(g), params: [...g.params] } as ParamGroup<H>;
      (group as { initialLr: number }).initialLr = group.lr;
      this.validate(group, `${kind}: group ${gi}`);
      return group;
    });
  }

  /** Throws if a group's hyper-parameters are out of range. */
  protected abstract validate(group: ParamGroup<H>, where: string): void;

  /** Updates one parameter in place from its gradient; runs under noGrad inside a scope. */
  protected abstract update(p: Tensor, grad: Tensor, state: ParamState, group: ParamGroup<H>): void;

  /** The state of one parameter (created empty on first use). */
  protected stateOf(p: Tensor): ParamState {
    let s = this.#state.get(p);
    if (s === undefined) {
      s = {};
      this.#state.set(p, s);
    }
    return s;
  }

  /** Sets every gradient to null (torch's `zero_grad(set_to_none=True)`): no memory, no kernel. */
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) if (!p.disposed) p.grad = null;
  }

  /** One update of every parameter that has a gradient; parameters without one are left alone. */
  step(): void {
    noGrad(() => {
      for (const group of this.groups) {
        for (const p of group.params) {
          scope(() => {
            const grad = p.grad;
            if (grad === null) return;
            this.update(p, grad, this.stateOf(p), group);
          });
        }
      }
    });
  }

  /** Every group to `lr`. */
  setLr(lr: number): void {
    for (const g of this.groups) g.lr = lr;
  }
  /** Every group to its initial lr times `factor` (keeps the ratio between groups). */
  scaleLr(factor: number): void {
    for (const g of this.groups) g.lr = g.initialLr * factor;
  }

  /** Frees the state tensors; the parameters belong to their module. */
  dispose(): void {
    for (const s of this.#state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.#state.clear();
  }

  stateDict(): OptimizerStateDict {
    const tensors: Record<string, RawTensor> = {};
    const state: Record<string, Record<string, number>> = {};
    const groups: OptimizerMeta['groups'] = [];
    let index = 0;
    for (const g of this.groups) {
      const { params, initialLr, ...hyper } = g;
      const indices: number[] = [];
      for (const p of params) {
        const s = this.#state.get(p);
        if (s !== undefined) {
          for (const [k, v] of Object.entries(s)) {
            if (v instanceof Tensor) tensors[`${index}.${k}`] = toRaw(v);
            else {
              state[index] ??= {};
              state[index]![k] = v;
            }
          }
        }
        indices.push(index++);
      }
      groups.push({ ...hyper, initialLr, params: indices, shapes: params.map((p) => [...p.shape]) });
    }
    return { tensors, meta: { kind: this.kind, groups, state } };
  }

  /**
   * Restores hyper-parameters and state saved by `stateDict()` of an optimizer built over the same
   * parameters in the same order. Everything is checked before anything changes.
   */
  loadStateDict(sd: OptimizerStateDict, source = 'optimizer state'): void {
    const { meta, tensors } = sd;
    if (meta === null || typeof meta !== 'object' || !Array.isArray(meta.groups)) throw new Error(`${source}: no optimizer metadata`);
    if (meta.kind !== this.kind) throw new Error(`${source}: state of a ${String(meta.kind)} optimizer, this is ${this.kind}`);
    if (meta.groups.length !== this.groups.length) {
      throw new Error(`${source}: ${meta.groups.length} parameter group(s), this optimizer has ${this.groups.length}`);
    }
    const byIndex: Tensor[] = [];
    this.groups.forEach((g, gi) => {
      const mg = meta.groups[gi];
      if (!Array.isArray(mg.params) || mg.params.length !== g.params.length) {
        throw new Error(`${source}: group ${gi} has ${mg.params?.length} parameter(s), this optimizer's has ${g.params.length}`);
      }
      g.params.forEach((p, i) => {
        const shape = mg.shapes?.[i];
        if (shape !== undefined && !sameShape(shape, p.shape)) {
          throw new Error(`${source}: group ${gi} parameter ${i}: saved shape [${shape.join(', ')}], parameter is [${p.shape.join(', ')}]`);
        }
        byIndex[mg.params[i]] = p;
      });
    });
    const incoming = new Map<Tensor, ParamState>();
    const slot = (index: number, key: string): ParamState => {
      const p = byIndex[index];
      if (p === undefined) throw new Error(`${source}: state "${key}" is for parameter ${index}, which no group has`);
      let s = incoming.get(p);
      if (s === undefined) {
        s = {};
        incoming.set(p, s);
      }
      return s;
    };
    for (const [key, raw] of Object.entries(tensors)) {
      const m = /^(\d+)\.(.+)$/.exec(key);
      if (!m) throw new Error(`${source}: unexpected tensor "${key}"`);
      const p = byIndex[Number(m[1])];
      const s = slot(Number(m[1]), key);
      if (!sameShape(raw.shape, p.shape)) {
        throw new Error(`${source}: "${key}" has shape [${raw.shape.join(', ')}], parameter is [${p.shape.join(', ')}]`);
      }
      s[m[2]] = raw as unknown as Tensor; // converted below, once everything has been checked
    }
    for (const [index, entries] of Object.entries(meta.state ?? {})) {
      for (const [k, v] of Object.entries(entries)) {
        if (typeof v !== 'number') throw new Error(`${source}: state ${index}.${k} is not a number`);
        slot(Number(index), `${index}.${k}`)[k] = v;
      }
    }
    // all checked: now replace
    this.dispose();
    for (const [p, s] of incoming) {
      const out: ParamState = {};
      for (const [k, v] of Object.entries(s)) {
        if (typeof v === 'number') out[k] = v;
        else {
          const t = fromRaw(v as unknown as RawTensor);
          out[k] = (t.dtype === p.dtype && t.device === p.device ? t : convert(t, p)).keep();
        }
      }
      this.#state.set(p, out);
    }
    this.groups.forEach((g, gi) => {
      const { params: _p, shapes: _s, initialLr, ...hyper } = meta.groups[gi];
      Object.assign(g, hyper);
      if (typeof initialLr === 'number') (g as { initialLr: number }).initialLr = initialLr;
    });
  }

  /** Writes the state dict as safetensors (atomically), the metadata as JSON in its header. */
  saveSafetensors(path: string): void {
    const sd = this.stateDict();
    writeSafetensors(path, sd.tensors, { [META_KEY]: JSON.stringify(sd.meta) });
  }
  loadSafetensors(path: string): void {
    const f = readSafetensors(path);
    const json = f.metadata[META_KEY];
    if (json === undefined) throw new Error(`${path}: no "${META_KEY}" metadata: not an optimizer state file`);
    let meta: OptimizerMeta;
    try {
      meta = JSON.parse(json) as OptimizerMeta;
    } catch (e) {
      throw new Error(`${path}: "${META_KEY}" metadata is not JSON (${(e as Error).message})`);
    }
    this.loadStateDict({ tensors: Object.fromEntries(f.tensors), meta }, path);
  }
}

function convert(t: Tensor, like: Tensor): Tensor {
  const c = noGrad(() => t.to(like.dtype, like.device));
  t.dispose();
  return c;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Checks a hyper-parameter is a finite number within [min, max]. */
export function checkRange(where: string, name: string, v: unknown, min: number, max = Infinity): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new RangeError(`${where}: ${name} must be a number in [${min}, ${max}], not ${String(v)}`);
  }
}
