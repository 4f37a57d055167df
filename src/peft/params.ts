/**
 * Parameter accounting from the config alone: the names and shapes of every tensor the AST + PEFT
 * model would have (no tensor is allocated, so a ViT-Base costs nothing to count), classified with
 * the same `isTrainable` rule that `applyPeft` uses. Convention (the paper's, and
 * fixtures/models/param_counts.json): the AST as built (1-channel patch embedding, resized pos_embed,
 * cls/dist tokens, blocks, final norm, head) plus the method's tensors; image heads not counted.
 *
 * `ratio` = trainable / total. `bottleneckForBudget` finds the largest r whose ratio is within a
 * budget; `equalizedBottleneck` gives each kernel shape the largest r whose adapter is no bigger than
 * a reference adapter (the paper's Table 1: 1x1 r 108 = 1x3 r 36).
 */
import { numel } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { astArch, astGrid, type AstConfig } from '../models/ast.js';
import { resolveInputNames, type WithLegacyInputNames } from '../models/input_geometry.js';
import { expectedBackboneShapes } from '../models/archs.js';
import { adapterParamCount, type AdapterSpec } from './adapter.js';
import { isTrainable, resolvePeft, type PeftConfig, type ResolvedPeft } from './methods.js';

export type AstGeometry = Pick<AstConfig, 'arch' | 'numClasses' | 'melBins' | 'frames' | 'fstride' | 'tstride' | 'depth'>;
/** An `AstGeometry` as the public counters take it: `fdim` / `tdim` are the deprecated names of `melBins` / `frames`. */
export type AstGeometryOptions = WithLegacyInputNames<AstGeometry>;

export interface ParamCounts {
  total: number;
  trainable: number;
  frozen: number;
  /** trainable / total */
  ratio: number;
}

function counts(total: number, trainable: number): ParamCounts {
  return { total, trainable, frozen: total - trainable, ratio: total > 0 ? trainable / total : 0 };
}

/**
 * Name -> shape of every parameter of the AST with `peft` applied, in the model's order: the
 * backbone's table (src/models/archs.ts) on a 1-channel patch embedding and the AST's token grid,
 * the method's tensors in their blocks, then the AST head.
 */
export function astParamShapes(options: AstGeometryOptions, peft: PeftConfig | ResolvedPeft): Map<string, number[]> {
  const geom = resolveInputNames<AstGeometry>(options);
  const arch = astArch(geom);
  const p = resolvePeft(peft);
  const { gridRows, gridCols } = astGrid(geom, arch.patchSize);
  const D = arch.embedDim;
  const m = expectedBackboneShapes(arch, {
    inChans: 1,
    posTokens: arch.numPrefixTokens + gridRows * gridCols,
    afterAttention: (b) =>
      p.lora
        ? p.lora.targets.flatMap((t): [string, number[]][] => [
            [`${b}attn.lora_${t}.A`, [p.lora!.rank, D]],
            [`${b}attn.lora_${t}.B`, [D, p.lora!.rank]],
          ])
        : [],
    afterMlp: (b) => {
      const out: [string, number[]][] = [];
      for (const a of p.adapters) {
        const [kF, kT] = a.kernel;
        const r = a.bottleneck;
        const n = `${b}${a.position}_adapter.`;
        out.push([`${n}down.weight`, [r, D, kF, kT]]);
        if (a.bias) out.push([`${n}down.bias`, [r]]);
        out.push([`${n}up.weight`, [D, r, kF, kT]]);
        if (a.bias) out.push([`${n}up.bias`, [D]]);
      }
      if (p.prompt) out.push([`${b}prompt`, [1, p.prompt.tokens, D]]);
      return out;
    },
  });
  m.set('head.norm.weight', [D]);
  m.set('head.norm.bias', [D]);
  m.set('head.fc.weight', [geom.numClasses, D]);
  m.set('head.fc.bias', [geom.numClasses]);
  return m;
}

/** Counts of the AST with `peft` applied, from the config alone. */
export function countAst(geom: AstGeometryOptions, peft: PeftConfig | ResolvedPeft): ParamCounts {
  const p = resolvePeft(peft);
  let total = 0;
  let trainable = 0;
  for (const [name, shape] of astParamShapes(geom, p)) {
    const n = numel(shape);
    total += n;
    if (isTrainable(name, p)) trainable += n;
  }
  return counts(total, trainable);
}

/** Counts of a built model, from its parameters' requiresGrad. */
export function countModel(model: Module): ParamCounts {
  let total = 0;
  let trainable = 0;
  for (const [, t] of model.namedParameters()) {
    total += t.numel;
    if (t.requiresGrad) trainable += t.numel;
  }
  return counts(total, trainable);
}

/** Reference adapter for equalising: its kernel and bottleneck (and bias). */
export interface EqualizeReference {
  kernel: [number, number];
  bottleneck: number;
  bias?: boolean;
}

/** Largest r for which an adapter of `kernel` has no more parameters than the reference adapter. */
export function equalizedBottleneck(
  dim: number,
  reference: EqualizeReference,
  kernel: [number, number],
  bias = reference.bias ?? false,
): number {
  const target = adapterParamCount(reference, dim);
  const per = 2 * dim * kernel[0] * kernel[1] + (bias ? 1 : 0);
  const r = Math.floor((target - (bias ? dim : 0)) / per);
  if (r < 1)
    throw new Error(
      `equalize: a ${kernel[0]}x${kernel[1]} adapter cannot be as small as ${reference.kernel[0]}x${reference.kernel[1]} r ${reference.bottleneck} (${target} parameters)`,
    );
  return r;
}

/** Adapters with r equalised to the reference (each keeps its own kernel and bias). */
export function equalizeAdapters(adapters: AdapterSpec[], dim: number, reference: EqualizeReference): AdapterSpec[] {
  return adapters.map((a) => ({ ...a, bottleneck: equalizedBottleneck(dim, reference, a.kernel, a.bias ?? false) }));
}

/**
 * The largest bottleneck r whose trainable ratio (trainable / total) is at most `fraction`, with
 * every adapter at r, or with `equalize` at the equalised r of a reference adapter of this kernel
 * and r. Throws when even r = 1 is over the budget.
 */
export function bottleneckForBudget(
  peft: PeftConfig,
  geom: AstGeometryOptions,
  fraction: number,
  opts: { equalize?: [number, number] } = {},
): { bottleneck: number; adapters: AdapterSpec[]; counts: ParamCounts } {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`budget: expected a fraction in (0, 1], got ${fraction}`);
  const base = resolvePeft(peft);
  if (base.adapters.length === 0) throw new Error(`budget: method "${base.method}" has no adapters whose bottleneck could be chosen`);
  const D = astArch(geom).embedDim;
  const at = (r: number): { adapters: AdapterSpec[]; counts: ParamCounts } => {
    const adapters = opts.equalize
      ? equalizeAdapters(base.adapters, D, { kernel: opts.equalize, bottleneck: r, bias: base.adapters[0].bias })
      : base.adapters.map((a) => ({ ...a, bottleneck: r }));
    return { adapters, counts: countAst(geom, withAdapters(base, adapters)) };
  };
  const fits = (r: number): boolean => {
    try {
      return at(r).counts.ratio <= fraction;
    } catch {
      return false; // equalised r < 1
    }
  };
  let lo = 1;
  while (!fits(lo) && lo < 64) lo++; // equalised kernels may need a few reference r before r >= 1
  if (!fits(lo)) {
    const c = countAst(
      geom,
      withAdapters(
        base,
        base.adapters.map((a) => ({ ...a, bottleneck: 1 })),
      ),
    );
    throw new Error(
      `budget: ${(fraction * 100).toPrecision(3)}% is below the smallest adapter (r 1 trains ${(c.ratio * 100).toPrecision(3)}%)`,
    );
  }
  let hi = lo;
  while (fits(hi * 2) && hi < 1 << 20) hi *= 2;
  let top = hi * 2;
  while (top - hi > 1) {
    const mid = (hi + top) >> 1;
    if (fits(mid)) hi = mid;
    else top = mid;
  }
  return { bottleneck: hi, ...at(hi) };
}

function withAdapters(p: ResolvedPeft, adapters: AdapterSpec[]): PeftConfig {
  return { method: p.method, adapters, ...(p.lora ? { lora: p.lora } : {}), ...(p.prompt ? { prompt: p.prompt } : {}) };
}
