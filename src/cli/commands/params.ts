/** `loaa params`: parameter counts of an AST + PEFT method, from the config alone (nothing is allocated). */
import { UsageError } from '../command.js';
import { defineCommand, parseCommandArgs, type FlagDef } from '../define.js';
import { ARCH_NAMES, getArch } from '../../models/archs.js';
import { astGrid } from '../../models/ast.js';
import {
  defaultAdapters,
  defaultBottleneck,
  isPeftMethod,
  LORA_DEFAULTS,
  parsePeft,
  PEFT_METHODS,
  PROMPT_DEFAULTS,
  type AdapterSpec,
  type PeftConfig,
  type ResolvedPeft,
} from '../../peft/config.js';
import { bottleneckForBudget, countAst, equalizeAdapters, type AstGeometry } from '../../peft/params.js';
import { inputToFile, type InputGeometryFile } from '../../models/input_geometry.js';

/** the range of the size flags */
const SIZE = { min: 1, max: 1 << 24 } as const;

const FLAGS = {
  arch: { type: 'string', value: 'NAME', help: ARCH_NAMES.join(', ') },
  method: {
    type: 'string',
    value: 'M',
    help: `loaa (default): Look-Aside Adapters, default attn:1x3 + ffn:3x1
adapter: parallel (Houlsby) adapters, default attn:1x1 + ffn:1x1
linear: head only; full: everything; lora: LoRA on q,v (r ${LORA_DEFAULTS.rank}, alpha ${LORA_DEFAULTS.alpha});
bitfit: backbone biases + head; prompt: ${PROMPT_DEFAULTS.tokens} deep prompts per block`,
  },
  adapter: {
    type: 'list',
    value: 'POS:KFxKT',
    help: `an adapter at POS (attn or ffn) with kernel KF (frequency) x KT (time), odd sizes;
repeat for both positions; suffixes :bias (Down/Up biases), :sequential;
adapters may be added to any method (every added tensor trains)`,
  },
  bottleneck: {
    type: 'int',
    min: 1,
    max: 1 << 20,
    value: 'R',
    help: `adapter bottleneck r (default ${defaultBottleneck('loaa')}; ${defaultBottleneck('adapter')} for --method adapter)`,
  },
  budget: {
    type: 'string',
    value: 'P%',
    help: `instead: the largest r whose trainable share (trainable / total) is at most P
(also a fraction: 0.02)`,
  },
  equalize: {
    type: 'string',
    value: 'KFxKT',
    help: `R is the bottleneck of a KFxKT adapter: each adapter gets the largest r with no more
parameters than that (bigger kernels, smaller r; --equalize 1x1 --bottleneck 108
gives 1x3 adapters r 36)`,
  },
  classes: { type: 'int', ...SIZE, default: 50, value: 'C', help: 'classes of the head' },
  fdim: { type: 'int', ...SIZE, default: 128, value: 'F', help: 'mel bins' },
  tdim: { type: 'int', ...SIZE, default: 512, value: 'T', help: 'frames' },
  fstride: { type: 'int', ...SIZE, default: 16, value: 'S', help: 'patch stride over frequency' },
  tstride: { type: 'int', ...SIZE, default: 16, value: 'S', help: 'patch stride over time' },
  depth: { type: 'int', min: 1, max: 1000, value: 'N', help: 'count a model with fewer blocks than the architecture' },
  'lora-rank': { type: 'int', ...SIZE, value: 'r', help: `LoRA rank (default ${LORA_DEFAULTS.rank})` },
  'lora-alpha': { type: 'number', positive: true, value: 'a', help: `LoRA alpha (default ${LORA_DEFAULTS.alpha})` },
  'lora-targets': { type: 'string', value: 'q,v', help: 'LoRA targets (default q,v)' },
  'prompt-tokens': {
    type: 'int',
    ...SIZE,
    value: 'N',
    help: `deep prompts per block (default ${PROMPT_DEFAULTS.tokens}; with another method: adds prompts)`,
  },
} as const satisfies Record<string, FlagDef>;

const DESCRIPTION = `Prints the total, trainable and frozen parameter counts of the AST as built for this input (1-channel
patch embedding, positional table of its f_dim x t_dim grid, cls/dist tokens, blocks, final norm,
head LayerNorm + Linear) with the method's tensors; the image model's own heads are not counted.
Counted from the config: no weights are needed or allocated.`;

function kernelOf(s: string, where: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) throw new UsageError(`${where}: expected a kernel KFxKT such as 1x3, got ${JSON.stringify(s)}`);
  const k: [number, number] = [Number(m[1]), Number(m[2])];
  if (!k.every((v) => v >= 1 && v % 2 === 1)) throw new UsageError(`${where}: kernel sizes must be odd, got ${s}`);
  return k;
}

/** `attn:1x3`, `ffn:3x1:bias:sequential` -> an adapter spec (bottleneck filled in later). */
export function parseAdapterFlag(s: string, bottleneck: number): AdapterSpec {
  const parts = s.split(':');
  const where = `--adapter ${s}`;
  const position = parts[0];
  if (position !== 'attn' && position !== 'ffn')
    throw new UsageError(`${where}: position must be attn or ffn, got ${JSON.stringify(position)}`);
  if (parts.length < 2) throw new UsageError(`${where}: expected POS:KFxKT such as attn:1x3`);
  const spec: AdapterSpec = { position, kernel: kernelOf(parts[1], where), bottleneck };
  for (const extra of parts.slice(2)) {
    if (extra === 'bias') spec.bias = true;
    else if (extra === 'sequential' || extra === 'parallel') spec.mode = extra;
    else throw new UsageError(`${where}: unknown suffix ${JSON.stringify(extra)} (bias, sequential)`);
  }
  return spec;
}

function fraction(s: string): number {
  const t = s.trim();
  const pct = t.endsWith('%');
  const n = Number(pct ? t.slice(0, -1) : t);
  const f = pct ? n / 100 : n;
  if (!Number.isFinite(n) || !(f > 0 && f <= 1))
    throw new UsageError(`--budget: expected a percentage such as 2% (or a fraction in (0, 1]), got ${JSON.stringify(s)}`);
  return f;
}

export interface ParamsResult {
  arch: string;
  method: string;
  total: number;
  trainable: number;
  frozen: number;
  ratio: number;
  /** the adapters' r (a list when they differ), null without adapters */
  bottleneck: number | number[] | null;
  adapters: ResolvedPeft['adapters'];
  lora: ResolvedPeft['lora'];
  prompt: ResolvedPeft['prompt'];
  classes: number;
  /** the --json output keeps adapter_config.json's names */
  input: InputGeometryFile;
  grid: { f_dim: number; t_dim: number };
  depth: number;
}

/** The computation behind the command (exported for tests and other commands). */
export function computeParams(argv: string[]): ParamsResult {
  const p = parseCommandArgs(argv, FLAGS, 'params');
  const f = p.flags;
  if (p.positionals.length) throw new UsageError(`${p.positionals[0]}: unexpected argument (loaa params takes only options)`);
  const archName = f.arch;
  if (!archName) throw new UsageError(`--arch: missing (one of ${ARCH_NAMES.join(', ')})`);
  let arch: ReturnType<typeof getArch>;
  try {
    arch = getArch(archName);
  } catch (e) {
    throw new UsageError(`--arch: ${(e as Error).message}`);
  }
  const method = f.method ?? 'loaa';
  if (!isPeftMethod(method)) throw new UsageError(`--method: expected one of ${PEFT_METHODS.join(', ')}, got ${JSON.stringify(method)}`);
  const geom: AstGeometry = {
    arch: arch.name,
    numClasses: f.classes,
    melBins: f.fdim,
    frames: f.tdim,
    fstride: f.fstride,
    tstride: f.tstride,
    depth: f.depth,
  };
  let grid: ReturnType<typeof astGrid>;
  try {
    grid = astGrid(geom, 16, { melBins: '--fdim', frames: '--tdim', fstride: '--fstride', tstride: '--tstride' });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const budget = f.budget;
  if (budget !== undefined && p.given.has('bottleneck')) throw new UsageError('--budget: give either --bottleneck or --budget, not both');
  const r = f.bottleneck ?? defaultBottleneck(method);
  const adapterFlags = f.adapter;
  const cfg: PeftConfig = { method };
  if (adapterFlags.length) cfg.adapters = adapterFlags.map((s) => parseAdapterFlag(s, r));
  else if (method === 'loaa' || method === 'adapter') cfg.adapters = defaultAdapters(method, r);
  const loraGiven = ['lora-rank', 'lora-alpha', 'lora-targets'].some((n) => p.given.has(n));
  if (method === 'lora' || loraGiven) {
    const targets = (f['lora-targets'] ?? LORA_DEFAULTS.targets.join(',')).split(',').map((t) => t.trim());
    if (!targets.every((t) => t === 'q' || t === 'k' || t === 'v'))
      throw new UsageError(`--lora-targets: expected a list of q, k, v, got ${JSON.stringify(f['lora-targets'])}`);
    cfg.lora = {
      rank: f['lora-rank'] ?? LORA_DEFAULTS.rank,
      alpha: f['lora-alpha'] ?? LORA_DEFAULTS.alpha,
      targets: targets as ('q' | 'k' | 'v')[],
    };
  }
  if (method === 'prompt' || p.given.has('prompt-tokens')) cfg.prompt = { tokens: f['prompt-tokens'] ?? PROMPT_DEFAULTS.tokens };
  const eqS = f.equalize;
  const equalize = eqS === undefined ? undefined : kernelOf(eqS, '--equalize');
  if ((budget !== undefined || equalize) && !cfg.adapters?.length) {
    throw new UsageError(`${budget !== undefined ? '--budget' : '--equalize'}: method ${method} has no adapters (add --adapter)`);
  }
  try {
    if (budget !== undefined) {
      cfg.adapters = bottleneckForBudget(cfg, geom, fraction(budget), { equalize }).adapters;
    } else if (equalize && cfg.adapters) {
      cfg.adapters = equalizeAdapters(cfg.adapters, arch.embedDim, { kernel: equalize, bottleneck: r, bias: cfg.adapters[0].bias });
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(
      `${budget !== undefined ? '--budget' : '--equalize'}: ${(e as Error).message.replace(/^(budget|equalize): /, '')}`,
    );
  }
  let peft: ResolvedPeft;
  try {
    peft = parsePeft(cfg, '');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const c = countAst(geom, peft);
  const rs = [...new Set(peft.adapters.map((a) => a.bottleneck))];
  return {
    arch: arch.name,
    method,
    total: c.total,
    trainable: c.trainable,
    frozen: c.frozen,
    ratio: c.ratio,
    bottleneck: rs.length === 0 ? null : rs.length === 1 ? rs[0] : peft.adapters.map((a) => a.bottleneck),
    adapters: peft.adapters,
    lora: peft.lora,
    prompt: peft.prompt,
    classes: geom.numClasses,
    input: inputToFile(geom),
    grid: { f_dim: grid.gridRows, t_dim: grid.gridCols },
    depth: geom.depth ?? arch.depth,
  };
}

const fmt = (n: number): string => n.toLocaleString('en-US');

function describe(r: ParamsResult): string {
  const parts: string[] = [];
  for (const a of r.adapters)
    parts.push(
      `${a.position} ${a.kernel[0]}x${a.kernel[1]} r ${a.bottleneck}${a.bias ? ' +bias' : ''}${a.mode === 'sequential' ? ' sequential' : ''}`,
    );
  if (r.lora) parts.push(`LoRA ${r.lora.targets.join(',')} r ${r.lora.rank} alpha ${r.lora.alpha}`);
  if (r.prompt) parts.push(`${r.prompt.tokens} prompts/block`);
  return parts.length ? ` (${parts.join('; ')})` : '';
}

export const command = defineCommand({
  name: 'params',
  usage: [
    `--arch <name> --method <${PEFT_METHODS.join('|')}>`,
    '      [--adapter attn:1x3 --adapter ffn:3x1] [--bottleneck R | --budget 2%] [--equalize KFxKT]',
    '      [--classes C] [--tdim T] [--fdim F] [--fstride S] [--tstride S] [--depth N]',
    '      [--lora-rank r] [--lora-alpha a] [--lora-targets q,v] [--prompt-tokens N] [--json]',
  ],
  description: DESCRIPTION,
  flags: FLAGS,
  examples: ['loaa params --arch deit_base_distilled_patch16_384 --method loaa --adapter attn:1x3 --adapter ffn:3x1 --bottleneck 36'],
  async run({ json, argv }) {
    const r = computeParams(argv);
    if (json) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      return 0;
    }
    const w = fmt(r.total).length;
    process.stdout.write(
      `${r.arch}${r.depth !== getArch(r.arch).depth ? ` (depth ${r.depth})` : ''}, ${r.method}${describe(r)}\n` +
        `${r.classes} classes, ${r.input.tdim} frames x ${r.input.fdim} mel bins, stride ${r.input.fstride}x${r.input.tstride} (grid ${r.grid.f_dim}x${r.grid.t_dim})\n` +
        `total      ${fmt(r.total).padStart(w)}\n` +
        `trainable  ${fmt(r.trainable).padStart(w)}  (${(r.ratio * 100).toFixed(2)}%)\n` +
        `frozen     ${fmt(r.frozen).padStart(w)}\n`,
    );
    return 0;
  },
});
