/**
 * Experiment grids: the cross product of named axes (datasets x methods x kernels x positions x
 * budgets x folds x seeds ...), each value a set of recipe overrides on one base recipe, run as a
 * resumable queue. One directory per run, `<out>/<axis>=<value>__<axis>=<value>...`, holding what
 * `loaa train` writes (recipe.json: the recipe that produced it, metrics.jsonl, results.json, best/)
 * plus `grid_run.json` (the axis values and the overrides) and `train.log`.
 *
 * A run with results.json is done and never repeated. A run that started and did not finish (a crash,
 * a kill, a reboot) is restarted with `--resume`, so it continues from its last checkpoint. A run
 * that another live `loaa grid` holds (`.grid-lock` with a live pid) is left alone.
 *
 * Grid file (YAML; paths in it are relative to the file):
 *
 *   name: fsdd_small
 *   base: ../recipes/fsdd_loaa.yaml      # the recipe every run starts from
 *   out: ../runs/fsdd_small               # default for --out
 *   jobs: 1                               # default for --jobs
 *   set: {train.epochs: 4}                # overrides for every run
 *   axes:                                 # in nesting order, the first outermost
 *     method:                             # named values, each a mapping of overrides
 *       loaa_t: {peft.method: loaa, peft.adapters: [{position: attn, kernel: [1, 3], bottleneck: 36}]}
 *       linear: {peft.method: linear, peft.adapters: []}
 *     seed: {key: seed, values: [0, 1]}   # shorthand: one key, its values name themselves
 *   exclude:                              # combinations to skip (every listed axis must match)
 *     - {method: linear, seed: 1}
 *   rules: [...]                          # overrides for the runs matching `when` (below)
 *   report: {...}                         # tables for `loaa report` (src/viz/report.ts)
 *
 * Overrides are recipe key paths (nested mappings are flattened: {optim: {lr: 1e-3}} = optim.lr),
 * passed to `loaa train` as `--set key=value`; a whole list or mapping is set before keys inside it.
 * When two axes set the same key, the later axis wins. Keys that are the grid's own:
 *   base: ../recipes/base/esc50.yaml              this run's base recipe (instead of the top-level one)
 * A base (top-level or not) may name axis values: `base: ../recipes/{dataset}_{method}.yaml`.
 *   kernel: [1, 3]                                every adapter of the run gets this kernel
 *   budget: {reference: [1, 3], bottleneck: 36}   every adapter gets the largest r whose size is at
 *                                                 most that adapter's (equal parameters per kernel)
 *   budget: {ratio: 0.005, classes: 50}           the largest r with trainable/total <= ratio
 *   classes: 50                                   the class count for a ratio budget
 * and `rules` applies overrides to the runs that match, after the axes:
 *   rules:
 *     - when: {dataset: [speechcommands, epic]}
 *       set: {data.fold: null}
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseYamlBounded } from '../io/yaml.js';
import { loadRecipe, type Recipe } from './recipe.js';
import { readInputText } from '../util/guarded_fs.js';

// ---------------------------------------------------------------- the grid file

export interface AxisValue {
  /** the value's name (directory names, tables) */
  name: string;
  /** flattened recipe overrides (and the grid's own keys, `budget` / `classes`) */
  set: Record<string, unknown>;
}

export interface GridAxis {
  name: string;
  values: AxisValue[];
}

export interface Grid {
  /** the grid file */
  file: string;
  name: string;
  description: string;
  /** absolute path of the base recipe (null: every run's axes name one with `base`) */
  base: string | null;
  /** default output directory (absolute), if the file names one */
  out: string | null;
  jobs: number | null;
  set: Record<string, unknown>;
  axes: GridAxis[];
  exclude: Record<string, string[]>[];
  rules: { when: Record<string, string[]>; set: Record<string, unknown> }[];
  /** the `report` section as written (checked by src/viz/report.ts) */
  report: unknown;
}

export class GridError extends Error {
  override name = 'GridError';
}

const TOP_KEYS = ['name', 'description', 'base', 'out', 'jobs', 'set', 'axes', 'exclude', 'rules', 'report'];
/** override keys that are the grid's own, not recipe keys */
const OWN_KEYS = new Set(['base', 'kernel', 'budget', 'classes']);
/** recipe keys holding paths: relative ones in a grid file are relative to the file */
const PATH_KEYS = new Set(['data.root', 'model.backbone']);

function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 50 ? `${s.slice(0, 47)}...` : s;
}

/** {a: {b: 1}, "c.d": 2} -> {"a.b": 1, "c.d": 2}; lists and the grid's own keys stay whole. */
export function flattenOverrides(o: Record<string, unknown>, where: string, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k.trim() === '') throw new GridError(`${where}: an empty key`);
    const key = prefix + k;
    if (isPlain(v) && !(prefix === '' && OWN_KEYS.has(k)) && key !== 'data.options') {
      Object.assign(out, flattenOverrides(v, where, `${key}.`));
    } else {
      if (Object.hasOwn(out, key)) throw new GridError(`${where}: ${key} is given twice`);
      out[key] = v;
    }
  }
  return out;
}

function sanitizeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._%+-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

function resolvePathKeys(set: Record<string, unknown>, dir: string): Record<string, unknown> {
  const out = { ...set };
  if (typeof out.base === 'string' && out.base !== '') out.base = resolve(dir, out.base);
  for (const k of PATH_KEYS) {
    const v = out[k];
    if (typeof v === 'string' && v !== '' && !isAbsolute(v) && !(k === 'model.backbone' && (v === 'pretrained' || v === 'random')))
      out[k] = resolve(dir, v);
  }
  return out;
}

function parseAxis(name: string, spec: unknown, file: string, dir: string): GridAxis {
  const where = `${file}: axes.${name}`;
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name))
    throw new GridError(`${where}: axis names are letters, digits, _ and - (starting with a letter)`);
  let values: AxisValue[];
  if (isPlain(spec) && Object.hasOwn(spec, 'key') && Object.hasOwn(spec, 'values')) {
    const extra = Object.keys(spec).filter((k) => k !== 'key' && k !== 'values');
    if (extra.length) throw new GridError(`${where}: with key/values, no other keys (found ${extra.join(', ')})`);
    const key = spec.key;
    if (typeof key !== 'string' || key.trim() === '') throw new GridError(`${where}.key: expected a recipe key path such as data.fold`);
    const list = spec.values;
    if (!Array.isArray(list) || list.length === 0) throw new GridError(`${where}.values: expected a non-empty list`);
    values = list.map((v, i) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v))
        throw new GridError(`${where}.values.${i}: expected a value for ${key}, got a mapping (use named values for several keys)`);
      const label = Array.isArray(v) ? v.join('x') : String(v);
      return { name: label, set: resolvePathKeys(flattenOverrides({ [key]: v }, `${where}.values.${i}`), dir) };
    });
  } else if (isPlain(spec)) {
    const entries = Object.entries(spec);
    if (entries.length === 0) throw new GridError(`${where}: no values`);
    values = entries.map(([vname, o]) => {
      if (o !== null && !isPlain(o))
        throw new GridError(`${where}.${vname}: expected a mapping of recipe overrides (or null for none), got ${show(o)}`);
      return { name: vname, set: resolvePathKeys(flattenOverrides(o ?? {}, `${where}.${vname}`), dir) };
    });
  } else {
    throw new GridError(
      `${where}: expected named values ({name: {key: value, ...}, ...}) or {key: <recipe key>, values: [...]}, got ${show(spec)}`,
    );
  }
  const seen = new Map<string, string>();
  for (const v of values) {
    const s = sanitizeName(v.name);
    if (seen.has(s)) throw new GridError(`${where}: values ${show(seen.get(s))} and ${show(v.name)} would share a directory name (${s})`);
    seen.set(s, v.name);
  }
  return { name, values };
}

/**
 * Reads and checks a grid file; every error names the file and the key. `checkBase: false` reads a
 * copy (the grid.yaml beside the runs, for `loaa report`) whose relative base may not resolve.
 */
export function readGrid(path: string, opts: { checkBase?: boolean } = {}): Grid {
  const file = path;
  const abs = resolve(path);
  const dir = dirname(abs);
  let raw: unknown;
  try {
    raw = parseYamlBounded(readInputText(file, { what: 'grid file' }), file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new GridError(`${file}: grid file not found`);
    throw new GridError((e as Error).message.startsWith(file) ? (e as Error).message : `${file}: ${(e as Error).message}`);
  }
  if (!isPlain(raw)) throw new GridError(`${file}: expected a mapping with base, axes, ... at the top level`);
  for (const k of Object.keys(raw))
    if (!TOP_KEYS.includes(k)) throw new GridError(`${file}: ${k}: unknown key (known: ${TOP_KEYS.join(', ')})`);
  const str = (k: string, required: boolean): string | null => {
    const v = raw[k];
    if (v === undefined || v === null) {
      if (required) throw new GridError(`${file}: ${k}: missing`);
      return null;
    }
    if (typeof v !== 'string' || v.trim() === '') throw new GridError(`${file}: ${k}: expected a string, got ${show(v)}`);
    return v;
  };
  const baseRaw = str('base', false);
  const base = baseRaw === null ? null : resolve(dir, baseRaw);
  // a base with {axis} placeholders is checked per run
  if (base && !/\{[^}]*\}/.test(base) && opts.checkBase !== false && !existsSync(base))
    throw new GridError(`${file}: base: recipe ${base} does not exist`);
  const outRaw = str('out', false);
  let jobs: number | null = null;
  if (raw.jobs !== undefined && raw.jobs !== null) {
    if (typeof raw.jobs !== 'number' || !Number.isInteger(raw.jobs) || raw.jobs < 1)
      throw new GridError(`${file}: jobs: expected a positive integer, got ${show(raw.jobs)}`);
    jobs = raw.jobs;
  }
  if (raw.set !== undefined && raw.set !== null && !isPlain(raw.set))
    throw new GridError(`${file}: set: expected a mapping of recipe overrides, got ${show(raw.set)}`);
  const set = resolvePathKeys(flattenOverrides((raw.set as Record<string, unknown>) ?? {}, `${file}: set`), dir);
  if (!isPlain(raw.axes) || Object.keys(raw.axes).length === 0)
    throw new GridError(`${file}: axes: expected a mapping of axis name -> values (at least one axis)`);
  const axes = Object.entries(raw.axes).map(([n, s]) => parseAxis(n, s, file, dir));
  const matcher = (e: unknown, where: string): Record<string, string[]> => {
    if (!isPlain(e) || Object.keys(e).length === 0) throw new GridError(`${where}: expected a mapping {axis: value or [values]}`);
    const m: Record<string, string[]> = {};
    for (const [an, v] of Object.entries(e)) {
      const axis = axes.find((a) => a.name === an);
      if (!axis) throw new GridError(`${where}.${an}: no such axis (axes: ${axes.map((a) => a.name).join(', ')})`);
      const names = (Array.isArray(v) ? v : [v]).map(String);
      for (const n of names) {
        if (!axis.values.some((x) => x.name === n))
          throw new GridError(`${where}.${an}: no value ${show(n)} (values: ${axis.values.map((x) => x.name).join(', ')})`);
      }
      m[an] = names;
    }
    return m;
  };
  const exclude: Record<string, string[]>[] = [];
  if (raw.exclude !== undefined && raw.exclude !== null) {
    if (!Array.isArray(raw.exclude)) throw new GridError(`${file}: exclude: expected a list of {axis: value(s)} mappings`);
    raw.exclude.forEach((e, i) => {
      exclude.push(matcher(e, `${file}: exclude.${i}`));
    });
  }
  const rules: Grid['rules'] = [];
  if (raw.rules !== undefined && raw.rules !== null) {
    if (!Array.isArray(raw.rules)) throw new GridError(`${file}: rules: expected a list of {when: {axis: value(s)}, set: {overrides}}`);
    raw.rules.forEach((r, i) => {
      const where = `${file}: rules.${i}`;
      if (!isPlain(r)) throw new GridError(`${where}: expected {when: {axis: value(s)}, set: {overrides}}`);
      for (const k of Object.keys(r)) if (k !== 'when' && k !== 'set') throw new GridError(`${where}.${k}: unknown key (known: when, set)`);
      if (!isPlain(r.set)) throw new GridError(`${where}.set: expected a mapping of recipe overrides`);
      rules.push({ when: matcher(r.when, `${where}.when`), set: resolvePathKeys(flattenOverrides(r.set, `${where}.set`), dir) });
    });
  }
  const desc = raw.description;
  if (desc !== undefined && typeof desc !== 'string') throw new GridError(`${file}: description: expected a string`);
  const name = str('name', false) ?? abs.replace(/^.*[\\/]/, '').replace(/\.ya?ml$/i, '');
  return {
    file: abs,
    name,
    description: desc ?? '',
    base,
    out: outRaw ? resolve(dir, outRaw) : null,
    jobs,
    set,
    axes,
    exclude,
    rules,
    report: raw.report ?? null,
  };
}

// ---------------------------------------------------------------- planning

export interface PlannedRun {
  /** `<axis>=<value>__...`: the directory name */
  id: string;
  dir: string;
  /** axis name -> value name */
  axes: Record<string, string>;
  /** the base recipe (absolute) */
  base: string;
  /** the `--set` arguments, in order (grid set, then axes in order, then computed budgets, then the command line's) */
  sets: string[];
}

/** The value of `--set key=value`: lists and mappings as JSON (the recipe reader parses them as YAML flow). */
export function setArg(key: string, v: unknown): string {
  if (v === null) return `${key}=null`;
  if (typeof v === 'string') return `${key}=${v}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${key}=${String(v)}`;
  return `${key}=${JSON.stringify(v)}`;
}

function matches(m: Record<string, string[]>, axes: Record<string, string>): boolean {
  return Object.entries(m).every(([a, names]) => names.includes(axes[a]!));
}

/** `a` before `a.b.c` (a whole list or mapping first, then the keys inside it); otherwise in order. */
function orderSets(merged: Record<string, unknown>): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const e of Object.entries(merged)) {
    const inside = out.findIndex(([q]) => q.startsWith(`${e[0]}.`));
    if (inside < 0) out.push(e);
    else out.splice(inside, 0, e);
  }
  return out;
}

/** Bottleneck overrides for the grid's `budget` key, from the run's recipe. */
async function budgetSets(budget: unknown, classes: unknown, recipe: Recipe, where: string): Promise<string[]> {
  const { getArch } = await import('../models/archs.js');
  const { bottleneckForBudget, equalizedBottleneck } = await import('../peft/params.js');
  if (!isPlain(budget)) throw new GridError(`${where}: budget: expected {reference: [kF, kT], bottleneck: r} or {ratio: f, classes: C}`);
  const adapters = recipe.peft.adapters;
  if (adapters.length === 0) return []; // a method without adapters: nothing to size
  const D = getArch(recipe.model.arch).embedDim;
  if (budget.reference !== undefined) {
    const ref = budget.reference;
    const r = budget.bottleneck;
    if (!Array.isArray(ref) || ref.length !== 2 || !ref.every((x) => Number.isInteger(x) && x >= 1))
      throw new GridError(`${where}: budget.reference: expected [kF, kT]`);
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 1)
      throw new GridError(`${where}: budget.bottleneck: expected a positive integer`);
    return adapters.map((a, i) =>
      setArg(
        `peft.adapters.${i}.bottleneck`,
        equalizedBottleneck(D, { kernel: [ref[0], ref[1]], bottleneck: r, bias: a.bias }, a.kernel, a.bias),
      ),
    );
  }
  const ratio = budget.ratio;
  const C = budget.classes ?? classes;
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1))
    throw new GridError(`${where}: budget.ratio: expected a fraction in (0, 1], got ${show(ratio)}`);
  if (typeof C !== 'number' || !Number.isInteger(C) || C < 1)
    throw new GridError(`${where}: budget.classes (or classes): the class count is needed to count the head`);
  const fe = recipe.frontend;
  const m = recipe.model;
  const r = bottleneckForBudget(
    { method: recipe.peft.method, adapters, lora: recipe.peft.lora ?? undefined, prompt: recipe.peft.prompt ?? undefined },
    {
      arch: m.arch,
      numClasses: C,
      melBins: fe.num_mel_bins,
      frames: fe.target_length,
      fstride: m.fstride,
      tstride: m.tstride,
      ...(m.depth !== null ? { depth: m.depth } : {}),
    },
    ratio,
  );
  return adapters.map((_, i) => setArg(`peft.adapters.${i}.bottleneck`, r.bottleneck));
}

/**
 * Every run of the grid, in order, with its overrides checked against the recipe schema (an unknown
 * key or a bad value is an error naming the run and the key). `extraSets` come from the command line.
 */
export async function planGrid(g: Grid, out: string, extraSets: string[] = []): Promise<PlannedRun[]> {
  const runs: PlannedRun[] = [];
  const combos: AxisValue[][] = [[]];
  for (const axis of g.axes) {
    const next: AxisValue[][] = [];
    for (const c of combos) for (const v of axis.values) next.push([...c, v]);
    combos.splice(0, combos.length, ...next);
  }
  for (const combo of combos) {
    const axes: Record<string, string> = {};
    g.axes.forEach((a, i) => {
      axes[a.name] = combo[i]!.name;
    });
    if (g.exclude.some((e) => matches(e, axes))) continue;
    const id = g.axes.map((a, i) => `${a.name}=${sanitizeName(combo[i]!.name)}`).join('__');
    const where = `${g.file}: run ${id}`;
    const merged: Record<string, unknown> = { ...g.set };
    for (const v of combo) Object.assign(merged, v.set);
    for (const r of g.rules) if (matches(r.when, axes)) Object.assign(merged, r.set);
    const own: Record<string, unknown> = {};
    for (const k of OWN_KEYS) {
      if (Object.hasOwn(merged, k)) {
        own[k] = merged[k];
        delete merged[k];
      }
    }
    const template = own.base !== undefined ? own.base : g.base;
    if (template === null) throw new GridError(`${where}: no base recipe (give base at the top of the grid file, or in an axis value)`);
    if (typeof template !== 'string') throw new GridError(`${where}: base: expected a recipe path, got ${show(template)}`);
    const base = template.replace(/\{([^}]*)\}/g, (_, a: string) => {
      if (!Object.hasOwn(axes, a))
        throw new GridError(`${where}: base: {${a}} is not an axis (axes: ${g.axes.map((x) => x.name).join(', ')})`);
      return axes[a]!;
    });
    if (!existsSync(base)) throw new GridError(`${where}: base: recipe ${base} does not exist`);
    const sets = orderSets(merged).map(([k, v]) => setArg(k, v));
    const load = (): Recipe => {
      try {
        return loadRecipe(base, { set: [...sets, ...extraSets] });
      } catch (e) {
        throw new GridError(`${where}: ${(e as Error).message}`);
      }
    };
    let recipe = load();
    if (own.kernel !== undefined) {
      const k = own.kernel;
      if (!Array.isArray(k) || k.length !== 2 || !k.every((x) => Number.isInteger(x) && x >= 1 && x % 2 === 1))
        throw new GridError(`${where}: kernel: expected two odd sizes [kF, kT], got ${show(k)}`);
      recipe.peft.adapters.forEach((_, i) => {
        sets.push(setArg(`peft.adapters.${i}.kernel`, k));
      });
      recipe = load();
    }
    if (own.budget !== undefined) {
      sets.push(...(await budgetSets(own.budget, own.classes, recipe, where)));
      recipe = load();
    }
    runs.push({ id, dir: join(out, id), axes, base, sets: [...sets, ...extraSets] });
  }
  if (runs.length === 0) throw new GridError(`${g.file}: exclude leaves no run`);
  return runs;
}

// ---------------------------------------------------------------- state
