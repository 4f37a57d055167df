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
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { writeFileAtomic } from '../util/fs.js';
import { loadRecipe, type Recipe } from './recipe.js';

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
  return s === undefined ? String(v) : s.length > 50 ? s.slice(0, 47) + '...' : s;
}

/** {a: {b: 1}, "c.d": 2} -> {"a.b": 1, "c.d": 2}; lists and the grid's own keys stay whole. */
export function flattenOverrides(o: Record<string, unknown>, where: string, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k.trim() === '') throw new GridError(`${where}: an empty key`);
    const key = prefix + k;
    if (isPlain(v) && !(prefix === '' && OWN_KEYS.has(k)) && key !== 'data.options') {
      Object.assign(out, flattenOverrides(v, where, key + '.'));
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
    if (typeof v === 'string' && v !== '' && !isAbsolute(v) && !(k === 'model.backbone' && (v === 'pretrained' || v === 'random'))) out[k] = resolve(dir, v);
  }
  return out;
}

function parseAxis(name: string, spec: unknown, file: string, dir: string): GridAxis {
  const where = `${file}: axes.${name}`;
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) throw new GridError(`${where}: axis names are letters, digits, _ and - (starting with a letter)`);
  let values: AxisValue[];
  if (isPlain(spec) && Object.hasOwn(spec, 'key') && Object.hasOwn(spec, 'values')) {
    const extra = Object.keys(spec).filter((k) => k !== 'key' && k !== 'values');
    if (extra.length) throw new GridError(`${where}: with key/values, no other keys (found ${extra.join(', ')})`);
    const key = spec.key;
    if (typeof key !== 'string' || key.trim() === '') throw new GridError(`${where}.key: expected a recipe key path such as data.fold`);
    const list = spec.values;
    if (!Array.isArray(list) || list.length === 0) throw new GridError(`${where}.values: expected a non-empty list`);
    values = list.map((v, i) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) throw new GridError(`${where}.values.${i}: expected a value for ${key}, got a mapping (use named values for several keys)`);
      const label = Array.isArray(v) ? v.join('x') : String(v);
      return { name: label, set: resolvePathKeys(flattenOverrides({ [key]: v }, `${where}.values.${i}`), dir) };
    });
  } else if (isPlain(spec)) {
    const entries = Object.entries(spec);
    if (entries.length === 0) throw new GridError(`${where}: no values`);
    values = entries.map(([vname, o]) => {
      if (o !== null && !isPlain(o)) throw new GridError(`${where}.${vname}: expected a mapping of recipe overrides (or null for none), got ${show(o)}`);
      return { name: vname, set: resolvePathKeys(flattenOverrides(o ?? {}, `${where}.${vname}`), dir) };
    });
  } else {
    throw new GridError(`${where}: expected named values ({name: {key: value, ...}, ...}) or {key: <recipe key>, values: [...]}, got ${show(spec)}`);
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
    raw = parseYaml(readFileSync(abs, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new GridError(`${file}: grid file not found`);
    const msg = e instanceof YAMLParseError ? e.message.split('\n')[0] : (e as Error).message;
    throw new GridError(`${file}: not valid YAML: ${msg}`);
  }
  if (!isPlain(raw)) throw new GridError(`${file}: expected a mapping with base, axes, ... at the top level`);
  for (const k of Object.keys(raw)) if (!TOP_KEYS.includes(k)) throw new GridError(`${file}: ${k}: unknown key (known: ${TOP_KEYS.join(', ')})`);
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
  if (base && !/\{[^}]*\}/.test(base) && opts.checkBase !== false && !existsSync(base)) throw new GridError(`${file}: base: recipe ${base} does not exist`);
  const outRaw = str('out', false);
  let jobs: number | null = null;
  if (raw.jobs !== undefined && raw.jobs !== null) {
    if (typeof raw.jobs !== 'number' || !Number.isInteger(raw.jobs) || raw.jobs < 1) throw new GridError(`${file}: jobs: expected a positive integer, got ${show(raw.jobs)}`);
    jobs = raw.jobs;
  }
  if (raw.set !== undefined && raw.set !== null && !isPlain(raw.set)) throw new GridError(`${file}: set: expected a mapping of recipe overrides, got ${show(raw.set)}`);
  const set = resolvePathKeys(flattenOverrides((raw.set as Record<string, unknown>) ?? {}, `${file}: set`), dir);
  if (!isPlain(raw.axes) || Object.keys(raw.axes).length === 0) throw new GridError(`${file}: axes: expected a mapping of axis name -> values (at least one axis)`);
  const axes = Object.entries(raw.axes).map(([n, s]) => parseAxis(n, s, file, dir));
  const matcher = (e: unknown, where: string): Record<string, string[]> => {
    if (!isPlain(e) || Object.keys(e).length === 0) throw new GridError(`${where}: expected a mapping {axis: value or [values]}`);
    const m: Record<string, string[]> = {};
    for (const [an, v] of Object.entries(e)) {
      const axis = axes.find((a) => a.name === an);
      if (!axis) throw new GridError(`${where}.${an}: no such axis (axes: ${axes.map((a) => a.name).join(', ')})`);
      const names = (Array.isArray(v) ? v : [v]).map(String);
      for (const n of names) {
        if (!axis.values.some((x) => x.name === n)) throw new GridError(`${where}.${an}: no value ${show(n)} (values: ${axis.values.map((x) => x.name).join(', ')})`);
      }
      m[an] = names;
    }
    return m;
  };
  const exclude: Record<string, string[]>[] = [];
  if (raw.exclude !== undefined && raw.exclude !== null) {
    if (!Array.isArray(raw.exclude)) throw new GridError(`${file}: exclude: expected a list of {axis: value(s)} mappings`);
    raw.exclude.forEach((e, i) => exclude.push(matcher(e, `${file}: exclude.${i}`)));
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
  return { file: abs, name, description: desc ?? '', base, out: outRaw ? resolve(dir, outRaw) : null, jobs, set, axes, exclude, rules, report: raw.report ?? null };
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
    const inside = out.findIndex(([q]) => q.startsWith(e[0] + '.'));
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
    if (!Array.isArray(ref) || ref.length !== 2 || !ref.every((x) => Number.isInteger(x) && x >= 1)) throw new GridError(`${where}: budget.reference: expected [kF, kT]`);
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw new GridError(`${where}: budget.bottleneck: expected a positive integer`);
    return adapters.map((a, i) => setArg(`peft.adapters.${i}.bottleneck`, equalizedBottleneck(D, { kernel: [ref[0], ref[1]], bottleneck: r, bias: a.bias }, a.kernel, a.bias)));
  }
  const ratio = budget.ratio;
  const C = budget.classes ?? classes;
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1)) throw new GridError(`${where}: budget.ratio: expected a fraction in (0, 1], got ${show(ratio)}`);
  if (typeof C !== 'number' || !Number.isInteger(C) || C < 1) throw new GridError(`${where}: budget.classes (or classes): the class count is needed to count the head`);
  const fe = recipe.frontend;
  const m = recipe.model;
  const r = bottleneckForBudget(
    { method: recipe.peft.method, adapters, lora: recipe.peft.lora ?? undefined, prompt: recipe.peft.prompt ?? undefined },
    { arch: m.arch, numClasses: C, fdim: fe.num_mel_bins, tdim: fe.target_length, fstride: m.fstride, tstride: m.tstride, ...(m.depth !== null ? { depth: m.depth } : {}) },
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
    g.axes.forEach((a, i) => (axes[a.name] = combo[i]!.name));
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
      if (!Object.hasOwn(axes, a)) throw new GridError(`${where}: base: {${a}} is not an axis (axes: ${g.axes.map((x) => x.name).join(', ')})`);
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
      if (!Array.isArray(k) || k.length !== 2 || !k.every((x) => Number.isInteger(x) && x >= 1 && x % 2 === 1)) throw new GridError(`${where}: kernel: expected two odd sizes [kF, kT], got ${show(k)}`);
      recipe.peft.adapters.forEach((_, i) => sets.push(setArg(`peft.adapters.${i}.kernel`, k)));
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

export type RunState = 'done' | 'pending' | 'interrupted' | 'running';

interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

const LOCK = '.grid-lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock held by a live process on this machine (locks of other machines count as held). */
function lockHolder(dir: string): LockInfo | null {
  const f = join(dir, LOCK);
  if (!existsSync(f)) return null;
  try {
    const l = JSON.parse(readFileSync(f, 'utf8')) as LockInfo;
    if (l.host !== hostname()) return l;
    return l.pid !== process.pid && alive(l.pid) ? l : null;
  } catch {
    return null;
  }
}

/** done: results.json; running: another live grid holds it; interrupted: started, not finished. */
export function runState(run: PlannedRun): RunState {
  if (existsSync(join(run.dir, 'results.json'))) return 'done';
  if (lockHolder(run.dir)) return 'running';
  if (existsSync(join(run.dir, 'recipe.json'))) return 'interrupted';
  return 'pending';
}

/** Takes the run's lock (exclusive create; a stale lock is replaced). False when someone else holds it. */
function takeLock(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  const f = join(dir, LOCK);
  if (lockHolder(dir)) return false;
  rmSync(f, { force: true });
  try {
    const fd = openSync(f, 'wx');
    writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() }));
    closeSync(fd);
    return true;
  } catch {
    return false;
  }
}

function dropLock(dir: string): void {
  rmSync(join(dir, LOCK), { force: true });
}

// ---------------------------------------------------------------- running

export interface RunContext {
  run: PlannedRun;
  /** continue a run that started before (`loaa train --resume`) */
  resume: boolean;
  /** the log file of this attempt (appended) */
  log: string;
  /** CPU threads this run may use, and which (for pinning) */
  threads: number;
  cpus: number[];
  signal: AbortSignal;
}

/** Runs one training run to its end; resolves to the exit status (0: results.json should exist). */
export type Runner = (ctx: RunContext) => Promise<number>;

export const LOAA_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'loaa.js');

/** The `loaa train` arguments of a run. */
export function trainArgs(ctx: Pick<RunContext, 'run' | 'resume'> & { base?: string }): string[] {
  return ['train', '--config', ctx.base ?? ctx.run.base, ...ctx.run.sets.flatMap((s) => ['--set', s]), '--out', ctx.run.dir, ...(ctx.resume ? ['--resume'] : [])];
}

/** The default runner: `node bin/loaa.js train ...` as a child process, output into the run's log. */
export const spawnTrain: Runner = (ctx) =>
  new Promise((res, rej) => {
    const fd = openSync(ctx.log, 'a');
    const env: NodeJS.ProcessEnv = { ...process.env, LOAA_NUM_THREADS: process.env.LOAA_NUM_THREADS ?? String(ctx.threads) };
    // several runs at once: each on its own cores, so OpenMP's binding does not stack them on one
    if (ctx.cpus.length && process.env.OMP_PLACES === undefined) env.OMP_PLACES = ctx.cpus.map((c) => `{${c}}`).join(',');
    const child = spawn(process.execPath, [LOAA_BIN, ...trainArgs(ctx)], { stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    const kill = (): void => {
      child.kill('SIGTERM');
    };
    ctx.signal.addEventListener('abort', kill, { once: true });
    child.on('error', (e) => {
      ctx.signal.removeEventListener('abort', kill);
      rej(e);
    });
    child.on('exit', (code, sig) => {
      ctx.signal.removeEventListener('abort', kill);
      res(code ?? (sig ? 128 + 15 : 1));
    });
  });

export interface GridEvent {
  kind: 'skip' | 'start' | 'done' | 'fail' | 'busy';
  run: PlannedRun;
  /** 1-based position among the runs this invocation starts */
  index: number;
  total: number;
  resume?: boolean;
  seconds?: number;
  code?: number;
  /** the last lines of the log of a failed run */
  tail?: string;
}

export interface GridRunOptions {
  out: string;
  jobs?: number;
  runner?: Runner;
  signal?: AbortSignal;
  onEvent?: (e: GridEvent) => void;
  /** cores to share among the jobs (default: all) */
  cores?: number;
}

export interface GridSummary {
  total: number;
  done: number;
  skipped: number;
  failed: string[];
  busy: string[];
  /** not started because the grid was stopped */
  left: number;
}

function tailOf(file: string, lines = 8): string {
  try {
    const text = readFileSync(file, 'utf8').replace(/\r/g, '\n');
    return text.split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

interface StatusRow {
  id: string;
  axes: Record<string, string>;
  state: RunState | 'failed';
  exit_code?: number;
  seconds?: number;
}

/**
 * Runs every run of the grid that is not done, `jobs` at a time. Never throws for a failed run: it is
 * reported (event `fail`), recorded in grid_status.json, and retried by the next invocation.
 */
export async function runGrid(g: Grid, runs: PlannedRun[], o: GridRunOptions): Promise<GridSummary> {
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  // the grid file beside the runs: `loaa report <out>` finds the tables there
  writeFileAtomic(join(out, 'grid.yaml'), readFileSync(g.file));
  const jobs = Math.max(1, Math.min(o.jobs ?? g.jobs ?? 1, runs.length));
  const cores = o.cores ?? availableParallelism();
  const threads = Math.max(1, Math.floor(cores / jobs));
  const runner = o.runner ?? spawnTrain;
  const signal = o.signal ?? new AbortController().signal;
  const emit = o.onEvent ?? (() => {});
  const status = new Map<string, StatusRow>(runs.map((r) => [r.id, { id: r.id, axes: r.axes, state: runState(r) }]));
  const writeStatus = (): void => {
    writeFileAtomic(join(out, 'grid_status.json'), JSON.stringify({ grid: g.name, file: g.file, base: g.base, updated: new Date().toISOString(), runs: [...status.values()] }, null, 1) + '\n');
  };
  const todo = runs.filter((r) => status.get(r.id)!.state !== 'done');
  const summary: GridSummary = { total: runs.length, done: 0, skipped: runs.length - todo.length, failed: [], busy: [], left: 0 };
  for (const r of runs) if (status.get(r.id)!.state === 'done') emit({ kind: 'skip', run: r, index: 0, total: todo.length });
  writeStatus();
  let next = 0;
  let started = 0;
  const worker = async (slot: number): Promise<void> => {
    while (next < todo.length && !signal.aborted) {
      const run = todo[next++]!;
      if (existsSync(join(run.dir, 'results.json'))) {
        status.get(run.id)!.state = 'done';
        summary.skipped++;
        continue;
      }
      if (!takeLock(run.dir)) {
        status.get(run.id)!.state = 'running';
        summary.busy.push(run.id);
        emit({ kind: 'busy', run, index: 0, total: todo.length });
        continue;
      }
      const index = ++started;
      const resume = existsSync(join(run.dir, 'recipe.json'));
      const log = join(run.dir, 'train.log');
      const t0 = performance.now();
      try {
        writeFileAtomic(join(run.dir, 'grid_run.json'), JSON.stringify({ grid: g.name, grid_file: g.file, id: run.id, axes: run.axes, base: run.base, sets: run.sets, command: ['loaa', ...trainArgs({ run, resume })] }, null, 1) + '\n');
        const fd = openSync(log, 'a');
        writeSync(fd, `\n==== ${new Date().toISOString()} loaa grid: ${resume ? 'resuming' : 'starting'} ${run.id}\n`);
        closeSync(fd);
        status.get(run.id)!.state = 'running';
        writeStatus();
        emit({ kind: 'start', run, index, total: todo.length, resume });
        const cpus = jobs > 1 ? Array.from({ length: threads }, (_, k) => (slot * threads + k) % cores) : [];
        let code: number;
        try {
          code = await runner({ run, resume, log, threads, cpus, signal });
        } catch (e) {
          code = 1;
          const fd2 = openSync(log, 'a');
          writeSync(fd2, `loaa grid: could not run: ${(e as Error).message}\n`);
          closeSync(fd2);
        }
        const seconds = (performance.now() - t0) / 1000;
        const row = status.get(run.id)!;
        row.seconds = seconds;
        if (code === 0 && existsSync(join(run.dir, 'results.json'))) {
          row.state = 'done';
          delete row.exit_code;
          summary.done++;
          emit({ kind: 'done', run, index, total: todo.length, seconds });
        } else {
          row.state = 'failed';
          row.exit_code = code;
          if (!signal.aborted) summary.failed.push(run.id);
          emit({ kind: 'fail', run, index, total: todo.length, seconds, code, tail: tailOf(log) });
        }
      } finally {
        dropLock(run.dir);
        writeStatus();
      }
    }
  };
  await Promise.all(Array.from({ length: jobs }, (_, s) => worker(s)));
  summary.left = todo.length - next;
  writeStatus();
  return summary;
}

/** The state of every run, for --dry-run and `loaa report`. */
export function gridStates(runs: PlannedRun[]): { run: PlannedRun; state: RunState }[] {
  return runs.map((run) => ({ run, state: runState(run) }));
}
