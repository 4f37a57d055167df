/**
 * The one PEFT configuration: its types, the paper's defaults and `parsePeft`, the only validator.
 * Recipes (`peft:`), `adapter_config.json` and the API all go through `parsePeft`, so a config means
 * the same thing wherever it is written (docs/adapter-format.md).
 *
 * Defaults, when a config lists no adapters (the paper's settings):
 * - `loaa`: attn 1x3 (time) + ffn 3x1 (frequency), r 36;
 * - `adapter`: attn 1x1 + ffn 1x1, r 108 (the same trainable count as loaa's);
 * - `lora`: r 8, alpha 16 on q and v; `prompt`: 10 deep prompts per block.
 *
 * Errors name the key as a dot path under `where`: `peft.adapters.1.kernel: ...`.
 */
import { LIMITS } from '../util/bounds.js';

export const PEFT_METHODS = ['loaa', 'adapter', 'linear', 'full', 'lora', 'bitfit', 'prompt'] as const;
export type PeftMethod = (typeof PEFT_METHODS)[number];
export type AdapterMode = 'parallel' | 'sequential';
export type AdapterPosition = 'attn' | 'ffn';
export type QkvTarget = 'q' | 'k' | 'v';

export interface AdapterSpec {
  position: AdapterPosition;
  /** [kF, kT]: (1,3) time, (3,1) frequency, (1,1) plain parallel adapter (the default in raw configs); odd sizes */
  kernel: [number, number];
  /** r */
  bottleneck: number;
  /** biases on Down and Up (default false) */
  bias?: boolean;
  /** s (default 1) */
  scale?: number;
  /** default 'parallel' */
  mode?: AdapterMode;
}
export type ResolvedAdapter = Required<AdapterSpec>;

export interface LoraSpec {
  rank: number;
  alpha: number;
  /** default ['q', 'v'] */
  targets?: QkvTarget[];
}

export interface PromptSpec {
  tokens: number;
}

/** A config as written: anything left out takes the method's default. */
export interface PeftConfig {
  method: PeftMethod;
  adapters?: AdapterSpec[];
  lora?: LoraSpec | null;
  prompt?: PromptSpec | null;
}

/** A config with every default filled in and every value checked. */
export interface ResolvedPeft {
  method: PeftMethod;
  adapters: ResolvedAdapter[];
  lora: Required<LoraSpec> | null;
  prompt: PromptSpec | null;
}

export const LORA_DEFAULTS: Required<LoraSpec> = Object.freeze({ rank: 8, alpha: 16, targets: ['q', 'v'] as QkvTarget[] });
export const PROMPT_DEFAULTS: PromptSpec = Object.freeze({ tokens: 10 });

/** The bottleneck a method's adapters get when none is given. */
export function defaultBottleneck(method: PeftMethod): number {
  return method === 'adapter' ? 108 : 36;
}

/** The adapters a method gets when the config lists none. */
export function defaultAdapters(method: PeftMethod, bottleneck = defaultBottleneck(method)): ResolvedAdapter[] {
  const a = (position: AdapterPosition, kernel: [number, number]): ResolvedAdapter => ({
    position,
    kernel,
    bottleneck,
    bias: false,
    scale: 1,
    mode: 'parallel',
  });
  if (method === 'loaa') return [a('attn', [1, 3]), a('ffn', [3, 1])];
  if (method === 'adapter') return [a('attn', [1, 1]), a('ffn', [1, 1])];
  return [];
}

export function isPeftMethod(m: unknown): m is PeftMethod {
  return typeof m === 'string' && (PEFT_METHODS as readonly string[]).includes(m);
}

const at = (where: string, key: string | number): string => (where === '' ? String(key) : `${where}.${key}`);
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

function unknownKeys(o: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new Error(`${at(where, k)}: unknown key (known here: ${known.join(', ')})`);
}

/** Checks one adapter; `where` names it in errors (e.g. `peft.adapters.1`). */
export function checkAdapterSpec(a: unknown, where = 'adapter'): ResolvedAdapter {
  if (!isObj(a)) throw new Error(`${where}: expected an object`);
  unknownKeys(a, ['position', 'kernel', 'bottleneck', 'bias', 'scale', 'mode'], where);
  if (a.position !== 'attn' && a.position !== 'ffn')
    throw new Error(`${at(where, 'position')}: expected "attn" or "ffn", got ${JSON.stringify(a.position)}`);
  // a raw config (recipe, JSON) may leave the kernel out: the plain 1x1 adapter
  const k = a.kernel ?? [1, 1];
  if (!Array.isArray(k) || k.length !== 2 || !k.every((v) => posInt(v) && v % 2 === 1)) {
    throw new Error(`${at(where, 'kernel')}: expected two odd positive integers [kF, kT], got ${JSON.stringify(k)}`);
  }
  // these size allocations (weights bottleneck x width x kF x kT per block): bounded before any exists
  if (!k.every((v) => (v as number) <= LIMITS.kernel))
    throw new Error(`${at(where, 'kernel')}: ${JSON.stringify(k)} has a side over ${LIMITS.kernel}`);
  if (!posInt(a.bottleneck))
    throw new Error(`${at(where, 'bottleneck')}: expected a positive integer, got ${JSON.stringify(a.bottleneck)}`);
  if (a.bottleneck > LIMITS.width)
    throw new Error(
      `${at(where, 'bottleneck')}: ${a.bottleneck} is over the limit of ${LIMITS.width} (adapters are narrower than the model: 8 to 64 is usual)`,
    );
  if (a.bias !== undefined && typeof a.bias !== 'boolean')
    throw new Error(`${at(where, 'bias')}: expected true or false, got ${JSON.stringify(a.bias)}`);
  if (a.scale !== undefined && (typeof a.scale !== 'number' || !Number.isFinite(a.scale)))
    throw new Error(`${at(where, 'scale')}: expected a number, got ${JSON.stringify(a.scale)}`);
  const mode = a.mode ?? 'parallel';
  if (mode !== 'parallel' && mode !== 'sequential')
    throw new Error(`${at(where, 'mode')}: expected "parallel" or "sequential", got ${JSON.stringify(a.mode)}`);
  return {
    position: a.position,
    kernel: [k[0] as number, k[1] as number],
    bottleneck: a.bottleneck,
    bias: (a.bias as boolean | undefined) ?? false,
    scale: (a.scale as number | undefined) ?? 1,
    mode,
  };
}

export function checkLoraSpec(l: unknown, where = 'lora'): Required<LoraSpec> {
  if (!isObj(l)) throw new Error(`${where}: expected an object`);
  unknownKeys(l, ['rank', 'alpha', 'targets'], where);
  if (!posInt(l.rank)) throw new Error(`${at(where, 'rank')}: expected a positive integer, got ${JSON.stringify(l.rank)}`);
  if (l.rank > LIMITS.width) throw new Error(`${at(where, 'rank')}: ${l.rank} is over the limit of ${LIMITS.width}`);
  const alpha = l.alpha ?? LORA_DEFAULTS.alpha;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0)
    throw new Error(`${at(where, 'alpha')}: expected a positive number, got ${JSON.stringify(l.alpha)}`);
  const targets = l.targets ?? LORA_DEFAULTS.targets;
  if (
    !Array.isArray(targets) ||
    targets.length === 0 ||
    !targets.every((t) => t === 'q' || t === 'k' || t === 'v') ||
    new Set(targets).size !== targets.length
  ) {
    throw new Error(`${at(where, 'targets')}: expected distinct "q", "k", "v", got ${JSON.stringify(l.targets)}`);
  }
  return { rank: l.rank, alpha, targets: [...(targets as QkvTarget[])] };
}

export function checkPromptSpec(p: unknown, where = 'prompt'): PromptSpec {
  if (!isObj(p)) throw new Error(`${where}: expected an object`);
  unknownKeys(p, ['tokens'], where);
  if (!posInt(p.tokens)) throw new Error(`${at(where, 'tokens')}: expected a positive integer, got ${JSON.stringify(p.tokens)}`);
  if (p.tokens > LIMITS.tokens) throw new Error(`${at(where, 'tokens')}: ${p.tokens} is over the limit of ${LIMITS.tokens}`);
  return { tokens: p.tokens };
}

/**
 * Checks a PEFT config (a recipe's `peft:`, adapter_config.json's keys, an API argument) and fills
 * the method's defaults. Adapters, LoRA and prompts may be added to any method; at most one adapter
 * per position. Unknown keys are errors, except in `ignore` (the other keys of adapter_config.json).
 */
export function parsePeft(raw: unknown, where = 'peft', ignore: readonly string[] = []): ResolvedPeft {
  if (!isObj(raw)) throw new Error(`${where || 'peft'}: expected an object`);
  unknownKeys(raw, ['method', 'adapters', 'lora', 'prompt', ...ignore], where);
  const method = raw.method;
  if (!isPeftMethod(method))
    throw new Error(`${at(where, 'method')}: expected one of ${PEFT_METHODS.join(', ')}, got ${JSON.stringify(method)}`);
  const given = raw.adapters;
  if (given !== undefined && given !== null && !Array.isArray(given)) throw new Error(`${at(where, 'adapters')}: expected a list`);
  const adapters =
    given === undefined || given === null
      ? defaultAdapters(method)
      : given.map((a, i) => checkAdapterSpec(a, at(at(where, 'adapters'), i)));
  if ((method === 'loaa' || method === 'adapter') && adapters.length === 0)
    throw new Error(`${at(where, 'adapters')}: method "${method}" needs at least one adapter`);
  const seen = new Set<string>();
  for (const [i, a] of adapters.entries()) {
    if (seen.has(a.position))
      throw new Error(`${at(at(at(where, 'adapters'), i), 'position')}: a second "${a.position}" adapter (one per position)`);
    seen.add(a.position);
  }
  let lora = raw.lora === undefined || raw.lora === null ? null : checkLoraSpec(raw.lora, at(where, 'lora'));
  if (!lora && method === 'lora') lora = { ...LORA_DEFAULTS, targets: [...LORA_DEFAULTS.targets] };
  let prompt = raw.prompt === undefined || raw.prompt === null ? null : checkPromptSpec(raw.prompt, at(where, 'prompt'));
  if (!prompt && method === 'prompt') prompt = { ...PROMPT_DEFAULTS };
  return { method, adapters, lora, prompt };
}

/** One line naming what a config adds: `loaa, attn 1x3 r 36, ffn 3x1 r 36`. */
export function describePeft(p: ResolvedPeft): string {
  const parts: string[] = [p.method];
  for (const a of p.adapters)
    parts.push(
      `${a.position} ${a.kernel[0]}x${a.kernel[1]} r ${a.bottleneck}${a.bias ? ' bias' : ''}${a.mode === 'sequential' ? ' sequential' : ''}`,
    );
  if (p.lora) parts.push(`LoRA ${p.lora.targets.join('')} r ${p.lora.rank}`);
  if (p.prompt) parts.push(`${p.prompt.tokens} prompts`);
  return parts.join(', ');
}
