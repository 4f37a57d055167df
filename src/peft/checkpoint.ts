/**
 * Adapter checkpoints (docs/adapter-format.md section 2): a directory with `adapter_config.json`
 * (format "loaa-adapter/1") and `adapter_model.safetensors` (float32) holding the tensors that
 * train: the head (`head.norm.*`, `head.fc.*`), adapters (`blocks.{i}.{attn,ffn}_adapter.{down,up}.*`),
 * LoRA (`blocks.{i}.attn.lora_{q,k,v}.{A,B}`), prompts (`blocks.{i}.prompt`), BitFit's biases and full
 * fine-tuning's backbone tensors under their timm names (the AST's shapes: 1-channel patch embedding,
 * the input's pos_embed).
 *
 * Each file is written atomically, the weights first and the config last, so a directory with a
 * config always has the weights it describes. `loadAdapter` checks that the adapter fits the model
 * (architecture, depth, width, input grid, every tensor's name and shape) before touching it; a
 * model serves one adapter after another without reloading its backbone (`loadAdapter` again): the
 * old modules are removed and overwritten backbone tensors (BitFit, full) restored first.
 * `backbone` records which backbone the adapter was trained on (`BackboneRecord`): read, checked and
 * written only here, by `saveAdapter` (meta.backbone) and `recordBackbone`.
 * Optional key `depth` is written for reduced-depth models (tests); absent, the depth is the arch's
 * or, on reading, the one the tensors show.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { toRaw } from '../tensor/functional.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../io/safetensors.js';
import { readRegularText, writeFileAtomic } from '../util/fs.js';
import { readInputJson } from '../util/guarded_fs.js';
import { checkPatchTokens, LIMITS } from '../util/bounds.js';
import { astGrid, type AudioSpectrogramTransformer, type AstConfig } from '../models/ast.js';
import {
  inputFromFile,
  inputToFile,
  LEGACY_INPUT_GETTERS,
  legacyGetters,
  INPUT_FILE_KEYS,
  type InputGeometry,
  type InputGeometryFile,
} from '../models/input_geometry.js';
import { isArchName, getArch } from '../models/archs.js';
import { isTrainable, isAddedParam, applyPeft, peftOf, removePeft, resolvePeft } from './methods.js';
import { describePeft, parsePeft, type PeftConfig, type ResolvedAdapter, type ResolvedPeft } from './config.js';
import { astParamShapes, type AstGeometry } from './params.js';
import { recordOriginal } from './state.js';
import type { FrontendFile } from '../audio/frontend.js';

export const ADAPTER_FORMAT = 'loaa-adapter/1';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** adapter_config.json's `frontend`: the front end's file form, defined with it in src/audio. */
export type FrontendConfig = FrontendFile;

/**
 * adapter_config.json's `backbone`: `source` is `pull:<arch>` (the cache of `loaa pull`),
 * `file:<path>` or `random` (rebuilt from `seed`); `sha256` is the file's, or for a random backbone
 * the hash of its freshly initialised parameters (src/infer/provenance.ts computes both).
 */
export interface BackboneRecord {
  arch: string;
  source: 'random' | `pull:${string}` | `file:${string}`;
  /** the seed a random backbone is rebuilt from (required when `source` is "random") */
  seed?: number;
  sha256: string;
}

/**
 * adapter_config.json as read and written: the file's keys, except that `input`'s `fdim` / `tdim`
 * are `melBins` / `frames` in memory (renamed on reading and back on writing; `input.fdim` and
 * `input.tdim` of a config this module hands out still read, deprecated).
 */
export interface AdapterConfigFile {
  format: typeof ADAPTER_FORMAT;
  arch: string;
  method: ResolvedPeft['method'];
  adapters: ResolvedAdapter[];
  lora?: NonNullable<ResolvedPeft['lora']>;
  prompt?: NonNullable<ResolvedPeft['prompt']>;
  input: InputGeometry;
  num_classes: number;
  labels?: string[];
  frontend?: FrontendConfig;
  /** only for models built with fewer blocks than the architecture */
  depth?: number;
  /** absent in adapters saved before provenance */
  backbone?: BackboneRecord;
}

export interface AdapterMeta {
  labels?: string[];
  frontend?: FrontendConfig;
  backbone?: BackboneRecord;
}

/** The file form of a record: keys in a fixed order, `seed` only when there is one. */
function backboneJson(b: BackboneRecord): BackboneRecord {
  return { arch: b.arch, source: b.source, ...(b.seed !== undefined ? { seed: b.seed } : {}), sha256: b.sha256 };
}

/** Checks `backbone` as read from `file`; errors name the file and the key. */
export function parseBackboneRecord(b: unknown, file: string): BackboneRecord {
  const bad = (k: string, why: string) => new Error(`${file}: backbone.${k}: ${why}`);
  if (typeof b !== 'object' || b === null || Array.isArray(b))
    throw new Error(`${file}: backbone: expected an object {arch, source, seed?, sha256}`);
  const o = b as Record<string, unknown>;
  if (typeof o.arch !== 'string') throw bad('arch', 'expected a string');
  if (typeof o.source !== 'string' || !/^(random|pull:.+|file:.+)$/.test(o.source))
    throw bad('source', `expected "random", "pull:<arch>" or "file:<path>", got ${JSON.stringify(o.source)}`);
  if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) throw bad('sha256', 'expected 64 hex digits');
  if (o.source === 'random' && !Number.isSafeInteger(o.seed)) throw bad('seed', 'a random backbone needs its integer seed');
  return backboneJson({
    arch: o.arch,
    source: o.source as BackboneRecord['source'],
    ...(o.seed !== undefined ? { seed: o.seed as number } : {}),
    sha256: o.sha256,
  });
}

/** Adds (or replaces) `backbone` in an adapter directory's config, keeping every other key as it is. */
export function recordBackbone(dir: string, b: BackboneRecord): void {
  const file = join(dir, ADAPTER_CONFIG_FILE);
  const cfg = readInputJson<Record<string, unknown>>(file, { what: 'adapter config' });
  cfg.backbone = backboneJson(parseBackboneRecord(b, 'backbone record'));
  writeFileAtomic(file, `${JSON.stringify(cfg, null, 1)}\n`);
}

/** The recorded backbone, checked; null when the adapter predates provenance. */
export function readBackbone(dir: string): BackboneRecord | null {
  const file = join(dir, ADAPTER_CONFIG_FILE);
  const b = readInputJson<{ backbone?: unknown }>(file, { what: 'adapter config' }).backbone;
  return b === undefined ? null : parseBackboneRecord(b, file);
}

/** The resolved PEFT config an adapter config describes. */
export function peftFromConfig(c: AdapterConfigFile): ResolvedPeft {
  return resolvePeft({ method: c.method, adapters: c.adapters, lora: c.lora, prompt: c.prompt });
}

/** The AST config an adapter config was trained with. */
export function astConfigFromAdapter(c: AdapterConfigFile): AstConfig {
  const { melBins, frames, fstride, tstride } = c.input;
  return {
    arch: c.arch,
    numClasses: c.num_classes,
    melBins,
    frames,
    fstride,
    tstride,
    ...(c.depth !== undefined ? { depth: c.depth } : {}),
  };
}

/** Geometry of a built model (for analytic shapes). */
function geometryOf(model: AudioSpectrogramTransformer, numClasses = model.numClasses): AstGeometry {
  const c = model.cfg;
  return { arch: c.arch, numClasses, melBins: c.melBins, frames: c.frames, fstride: c.fstride, tstride: c.tstride, depth: model.depth };
}

/** Names of the tensors an adapter checkpoint of this config holds: what trains. */
export function adapterTensorNames(shapes: Map<string, number[]>, peft: ResolvedPeft): string[] {
  return [...shapes.keys()].filter((n) => isTrainable(n, peft));
}

/**
 * Writes the model's trainable tensors (as the config selects them) and the config. `peft` defaults
 * to what `applyPeft` put on the model (a bare model saves as a linear probe).
 */
export function saveAdapter(
  dir: string,
  model: AudioSpectrogramTransformer,
  peft?: PeftConfig | ResolvedPeft,
  meta: AdapterMeta = {},
): AdapterConfigFile {
  const p = resolvePeft(peft ?? peftOf(model) ?? { method: 'linear' });
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`${dir}: exists and is not a directory`);
  const C = model.numClasses;
  if (meta.labels && meta.labels.length !== C) throw new Error(`labels: ${meta.labels.length} labels for a ${C}-class head`);
  const raw = new Map<string, RawTensor>();
  const own = new Map(model.namedParameters());
  for (const name of adapterTensorNames(astParamShapes(geometryOf(model), p), p)) {
    const t = own.get(name);
    if (!t) throw new Error(`${name}: the model has no such tensor (was the PEFT config applied?)`);
    const d = t.detach();
    const f = d.dtype === 'float32' && d.device === 'cpu' ? d : d.to('float32', 'cpu');
    raw.set(name, toRaw(f));
    if (f !== d) f.dispose();
    d.dispose();
  }
  const c = model.cfg;
  const config: AdapterConfigFile = {
    format: ADAPTER_FORMAT,
    arch: c.arch,
    method: p.method,
    adapters: p.adapters.map((a) => ({
      position: a.position,
      kernel: [a.kernel[0], a.kernel[1]],
      bottleneck: a.bottleneck,
      bias: a.bias,
      scale: a.scale,
      mode: a.mode,
    })),
    ...(p.lora ? { lora: { rank: p.lora.rank, alpha: p.lora.alpha, targets: [...p.lora.targets] } } : {}),
    ...(p.prompt ? { prompt: { tokens: p.prompt.tokens } } : {}),
    input: inputWithLegacyNames({ melBins: c.melBins, frames: c.frames, fstride: c.fstride, tstride: c.tstride }),
    num_classes: C,
    labels: meta.labels ?? Array.from({ length: C }, (_, i) => String(i)),
    ...(meta.frontend ? { frontend: meta.frontend } : {}),
    ...(getArch(c.arch).depth !== model.depth ? { depth: model.depth } : {}),
    ...(meta.backbone ? { backbone: backboneJson(parseBackboneRecord(meta.backbone, 'meta.backbone')) } : {}),
  };
  writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), raw, { format: 'pt', loaa: ADAPTER_FORMAT });
  writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(adapterConfigJson(config), null, 1)}\n`);
  return config;
}

/** adapter_config.json as the file holds it. */
export type AdapterConfigJson = Omit<AdapterConfigFile, 'input'> & { input: InputGeometryFile };

/** The file form of a config: `input` with the format's `fdim` / `tdim`, every other key as it is. */
export function adapterConfigJson(c: AdapterConfigFile): AdapterConfigJson {
  return { ...c, input: inputToFile(c.input) };
}

function inputWithLegacyNames(g: InputGeometry): InputGeometry {
  return legacyGetters(g, LEGACY_INPUT_GETTERS);
}

// ---------------------------------------------------------------------------------------- reading

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
function posInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

/** Reads and validates `adapter_config.json`; errors name the file and the key. */
export function readAdapterConfig(dir: string): AdapterConfigFile {
  const file = join(dir, ADAPTER_CONFIG_FILE);
  let text: string;
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (e as Error).message;
    throw new Error(`${dir}: not an adapter directory (${why})`);
  }
  try {
    // regular files only: /dev/zero or a FIFO named adapter_config.json is refused, not read forever
    text = readRegularText(file, 'adapter config');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${file}: cannot read: no ${ADAPTER_CONFIG_FILE} in ${dir}`);
    throw e;
  }
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const bad = (key: string, msg: string): never => {
    throw new Error(`${file}: ${key}: ${msg}`);
  };
  if (!isObj(c)) bad('(top level)', 'expected a JSON object');
  const o = c as Record<string, unknown>;
  if (o.format === undefined) bad('format', `missing (expected "${ADAPTER_FORMAT}")`);
  if (o.format !== ADAPTER_FORMAT) bad('format', `unsupported ${JSON.stringify(o.format)} (this version reads "${ADAPTER_FORMAT}")`);
  if (typeof o.arch !== 'string') bad('arch', 'missing or not a string');
  if (!isArchName(o.arch as string)) {
    try {
      getArch(o.arch as string);
    } catch (e) {
      bad('arch', (e as Error).message);
    }
  }
  let peft: ResolvedPeft;
  try {
    // the file lists every adapter: an absent list is none, not the method's default
    peft = parsePeft({ method: o.method, adapters: o.adapters ?? [], lora: o.lora, prompt: o.prompt }, '');
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (!isObj(o.input)) bad('input', 'missing or not an object {fdim, tdim, fstride, tstride}');
  const inp = o.input as Record<string, unknown>;
  for (const k of ['fdim', 'tdim', 'fstride', 'tstride'])
    if (!posInt(inp[k])) bad(`input.${k}`, `expected a positive integer, got ${JSON.stringify(inp[k])}`);
  const input = inputWithLegacyNames(inputFromFile(inp as unknown as InputGeometryFile));
  try {
    astGrid(input, 16, INPUT_FILE_KEYS);
  } catch (e) {
    bad('input', (e as Error).message);
  }
  try {
    checkPatchTokens(input, 'input', 16, peft.prompt?.tokens ?? 0);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (!posInt(o.num_classes) || o.num_classes > LIMITS.classes)
    bad('num_classes', `expected an integer in [1, ${LIMITS.classes}], got ${JSON.stringify(o.num_classes)}`);
  const C = o.num_classes as number;
  let labels: string[] | undefined;
  if (o.labels !== undefined && o.labels !== null) {
    if (!Array.isArray(o.labels) || !o.labels.every((l) => typeof l === 'string')) bad('labels', 'expected a list of strings');
    if ((o.labels as string[]).length !== C) bad('labels', `${(o.labels as string[]).length} labels for num_classes ${C}`);
    labels = o.labels as string[];
  }
  let frontend: FrontendConfig | undefined;
  if (o.frontend !== undefined && o.frontend !== null) {
    if (!isObj(o.frontend)) bad('frontend', 'expected an object');
    const f = o.frontend as Record<string, unknown>;
    for (const k of ['sample_rate', 'num_mel_bins', 'target_length'])
      if (!posInt(f[k])) bad(`frontend.${k}`, `expected a positive integer, got ${JSON.stringify(f[k])}`);
    // the front end allocates by these: bounded here, naming the key (sample_rate 1e9 hung before)
    const range = (k: string, lo: number, hi: number): void => {
      if ((f[k] as number) < lo || (f[k] as number) > hi) bad(`frontend.${k}`, `${f[k] as number} is outside [${lo}, ${hi}]`);
    };
    range('sample_rate', LIMITS.minSampleRate, LIMITS.maxSampleRate);
    range('num_mel_bins', 1, LIMITS.melBins);
    range('target_length', 1, LIMITS.frames);
    const hasMean = f.mean !== undefined && f.mean !== null;
    const hasStd = f.std !== undefined && f.std !== null;
    if (hasMean !== hasStd) bad(hasMean ? 'frontend.std' : 'frontend.mean', 'mean and std go together');
    if (hasMean && (typeof f.mean !== 'number' || !Number.isFinite(f.mean)))
      bad('frontend.mean', `expected a number, got ${JSON.stringify(f.mean)}`);
    if (hasStd && (typeof f.std !== 'number' || !(f.std > 0)))
      bad('frontend.std', `expected a positive number, got ${JSON.stringify(f.std)}`);
    if (f.num_mel_bins !== input.melBins) bad('frontend.num_mel_bins', `${f.num_mel_bins} does not match input.fdim ${input.melBins}`);
    if (f.target_length !== input.frames) bad('frontend.target_length', `${f.target_length} does not match input.tdim ${input.frames}`);
    if (f.type !== undefined && f.type !== 'ast' && f.type !== 'epic')
      bad('frontend.type', `expected "ast" or "epic", got ${JSON.stringify(f.type)}`);
    frontend = {
      ...(f.type === 'epic' ? { type: 'epic' as const } : {}),
      sample_rate: f.sample_rate as number,
      num_mel_bins: f.num_mel_bins as number,
      target_length: f.target_length as number,
      ...(hasMean ? { mean: f.mean as number, std: f.std as number } : {}),
    };
  }
  if (o.depth !== undefined && (!posInt(o.depth) || o.depth > LIMITS.depth))
    bad('depth', `expected an integer in [1, ${LIMITS.depth}], got ${JSON.stringify(o.depth)}`);
  return {
    format: ADAPTER_FORMAT,
    arch: o.arch as string,
    method: peft.method,
    adapters: peft.adapters.map((a) => ({ ...a, kernel: [a.kernel[0], a.kernel[1]] })),
    ...(peft.lora ? { lora: peft.lora } : {}),
    ...(peft.prompt ? { prompt: peft.prompt } : {}),
    input,
    num_classes: C,
    ...(labels ? { labels } : {}),
    ...(frontend ? { frontend } : {}),
    ...(o.depth !== undefined ? { depth: o.depth as number } : {}),
    ...(o.backbone !== undefined ? { backbone: parseBackboneRecord(o.backbone, file) } : {}),
  };
}

function blockDepthOf(names: Iterable<string>): number {
  let d = 0;
  for (const n of names) {
    const m = /^blocks\.(\d+)\./.exec(n);
    if (m) d = Math.max(d, Number(m[1]) + 1);
  }
  return d;
}

export interface LoadedAdapter {
  config: AdapterConfigFile;
  peft: ResolvedPeft;
  /** tensors loaded into the model */
  loaded: string[];
}

/**
 * Puts the adapter of `dir` on `model`: checks it fits (arch, depth, width, input grid, tensor names
 * and shapes; the error says what differs), removes any adapter already there (restoring backbone
 * tensors it overwrote), replaces the head when the class count differs, injects the adapter's
 * modules, loads its tensors. The backbone is never reloaded.
 */
export function loadAdapter(dir: string, model: AudioSpectrogramTransformer): LoadedAdapter {
  const config = readAdapterConfig(dir);
  const cfgFile = join(dir, ADAPTER_CONFIG_FILE);
  const wFile = join(dir, ADAPTER_WEIGHTS_FILE);
  const peft = peftFromConfig(config);
  const m = model.cfg;
  if (config.arch !== m.arch) {
    throw new Error(`${cfgFile}: arch: the adapter is for ${config.arch}, the backbone is ${m.arch}`);
  }
  const inp = config.input;
  if (inp.melBins !== m.melBins || inp.frames !== m.frames || inp.fstride !== m.fstride || inp.tstride !== m.tstride) {
    const g = astGrid(inp);
    const desc = (x: InputGeometry, f: number, t: number) =>
      `${x.frames} frames x ${x.melBins} mel bins at stride ${x.fstride}x${x.tstride} (grid ${f}x${t})`;
    throw new Error(
      `${cfgFile}: input: the adapter was trained on ${desc(inp, g.gridRows, g.gridCols)}, the model is built for ${desc(m, model.grid.gridRows, model.grid.gridCols)}`,
    );
  }
  if (!existsSync(wFile))
    throw new Error(`${wFile}: missing (an adapter directory holds ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE})`);
  const tensors = readSafetensors(wFile).tensors;
  const depth = config.depth ?? (blockDepthOf(tensors.keys()) || model.depth);
  if (depth !== model.depth) throw new Error(`${wFile}: depth: the adapter has ${depth} blocks, the backbone ${model.depth}`);
  const headW = tensors.get('head.norm.weight');
  if (headW && headW.shape[0] !== model.embedDim) {
    throw new Error(`${wFile}: width: the adapter is for width ${headW.shape[0]}, the backbone has ${model.embedDim}`);
  }
  const shapes = astParamShapes(geometryOf(model, config.num_classes), peft);
  const expected = adapterTensorNames(shapes, peft);
  const missing = expected.filter((n) => !tensors.has(n));
  const unknown = [...tensors.keys()].filter((n) => !expected.includes(n));
  const list = (xs: string[]) => `${xs.slice(0, 4).join(', ')}${xs.length > 4 ? `, ... (${xs.length} in all)` : ''}`;
  if (unknown.length) throw new Error(`${wFile}: tensors a ${describePeft(peft)} adapter does not have: ${list(unknown)}`);
  if (missing.length) throw new Error(`${wFile}: missing tensors of its ${describePeft(peft)} config: ${list(missing)}`);
  const mismatched = expected.filter((n) => {
    const a = tensors.get(n)!.shape;
    const b = shapes.get(n)!;
    return a.length !== b.length || a.some((d, i) => d !== b[i]);
  });
  if (mismatched.length) {
    throw new Error(
      `${wFile}: shape mismatch with the backbone: ${mismatched
        .slice(0, 3)
        .map((n) => `${n}: expected [${shapes.get(n)!.join(', ')}], found [${tensors.get(n)!.shape.join(', ')}]`)
        .join('; ')}`,
    );
  }
  // fits: now change the model
  if (peftOf(model)) removePeft(model);
  if (model.numClasses !== config.num_classes) model.setHead(config.num_classes);
  applyPeft(model, peft);
  const own = new Map(model.namedParameters());
  for (const n of expected) if (!n.startsWith('head.') && !isAddedParam(n)) recordOriginal(model, n, own.get(n)!);
  model.loadStateDict(tensors, { source: wFile });
  return { config, peft, loaded: expected };
}

/** Takes the adapter off, leaving the bare backbone (head kept). */
export function removeAdapter(model: AudioSpectrogramTransformer): void {
  removePeft(model);
}
