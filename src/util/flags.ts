/**
 * The one command-line flag parser: `loaa <command>` (src/cli/define.ts) and the scripts under
 * src/bench/ read their arguments with it, so every one of them follows the same rules.
 *
 * Parsing is node's util.parseArgs after a pass that gives every caller the same rules:
 * `--flag value` and `--flag=value` both work, a value flag with nothing after it (or followed by
 * another flag) is `--flag: missing value`, a negative number is a value (`--mean -6.6`), an unknown
 * flag is `--x: unknown option` with the nearest known one suggested, numbers are checked against
 * their type and range, and a value flag given twice is an error unless it is a list.
 */
import { parseArgs } from 'node:util';
import { closest } from './suggest.js';

/** An error the user caused (bad argument, bad file): printed as one line, exit status 2, no stack. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type FlagDef =
  | { type: 'boolean'; help: string }
  | { type: 'string'; help: string; value?: string; default?: string; choices?: readonly string[] }
  | { type: 'int' | 'number'; help: string; value?: string; default?: number; min?: number; max?: number; positive?: boolean }
  | { type: 'list'; help: string; value?: string };

type ValueOf<D extends FlagDef> = D extends { type: 'boolean' }
  ? boolean
  : D extends { type: 'list' }
    ? string[]
    : D extends { type: 'int' | 'number'; default: number }
      ? number
      : D extends { type: 'int' | 'number' }
        ? number | undefined
        : D extends { default: string }
          ? string
          : string | undefined;

export type FlagValues<F extends Record<string, FlagDef>> = { [K in keyof F]: ValueOf<F[K]> };

const NUMERIC = /^-(\d|\.\d)/;

/** The argv with every value flag in `--flag=value` form, after the checks parseArgs does not make. */
function normalise(argv: string[], flags: Record<string, FlagDef>, see: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (tok === '-h' && flags.help) {
      out.push('--help');
      continue;
    }
    if (!tok.startsWith('-') || tok === '-' || NUMERIC.test(tok)) {
      out.push(tok);
      continue;
    }
    const eq = tok.indexOf('=');
    const name = tok.slice(2, eq < 0 ? undefined : eq);
    const d = tok.startsWith('--') ? flags[name] : undefined;
    if (!d) {
      const near = closest(name.replace(/^-+/, ''), Object.keys(flags));
      throw new UsageError(`${eq < 0 ? tok : tok.slice(0, eq)}: unknown option${near ? ` (did you mean --${near}?)` : ''} (see ${see})`);
    }
    if (d.type === 'boolean' || eq >= 0) {
      out.push(tok);
      continue;
    }
    const next = argv[i + 1];
    const takes =
      next !== undefined && (!next.startsWith('-') || next === '-' || ((d.type === 'int' || d.type === 'number') && NUMERIC.test(next)));
    if (!takes) throw new UsageError(`--${name}: missing value`);
    out.push(`--${name}=${next}`);
    i++;
  }
  return out;
}

function typed(name: string, d: FlagDef, raw: unknown): unknown {
  if (d.type === 'boolean') return raw === true;
  if (d.type === 'list') return raw === undefined ? [] : (raw as string[]);
  if (Array.isArray(raw)) throw new UsageError(`--${name}: given more than once`);
  if (raw === undefined) return 'default' in d ? d.default : undefined;
  const s = raw as string;
  if (d.type === 'string') {
    if (d.choices && !d.choices.includes(s))
      throw new UsageError(`--${name}: expected one of ${d.choices.join(', ')}, got ${JSON.stringify(s)}`);
    return s;
  }
  const n = Number(s);
  const kind = d.type === 'int' ? 'integer' : 'number';
  const nonNegative = d.min === 0 && d.max === undefined;
  const what = d.positive ? `a positive ${kind}` : nonNegative ? `a non-negative ${kind}` : d.type === 'int' ? 'an integer' : 'a number';
  const range = nonNegative
    ? ''
    : d.min !== undefined && d.max !== undefined
      ? ` in [${d.min}, ${d.max}]`
      : d.min !== undefined
        ? ` >= ${d.min}`
        : d.max !== undefined
          ? ` <= ${d.max}`
          : '';
  const bad =
    s.trim() === '' ||
    !Number.isFinite(n) ||
    (d.type === 'int' && !Number.isSafeInteger(n)) ||
    (d.positive && !(n > 0)) ||
    (d.min !== undefined && n < d.min) ||
    (d.max !== undefined && n > d.max);
  if (bad) throw new UsageError(`--${name}: expected ${what}${range}, got ${JSON.stringify(s)}`);
  return n;
}

export interface ParsedFlags<F extends Record<string, FlagDef>> {
  flags: FlagValues<F>;
  positionals: string[];
  /** the flags that were on the command line (not defaulted) */
  given: Set<string>;
}

/** Parses argv against a flag table; errors are UsageErrors ending with "(see <see>)" where that helps. */
export function parseFlags<F extends Record<string, FlagDef>>(argv: string[], flags: F, see: string): ParsedFlags<F> {
  const options = Object.fromEntries(
    Object.entries(flags).map(([n, d]) => [n, { type: d.type === 'boolean' ? ('boolean' as const) : ('string' as const), multiple: true }]),
  );
  const args = normalise(argv, flags, see);
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify.*$/s, '')} (see ${see})`);
  }
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const [n, d] of Object.entries(flags)) {
    let raw = (parsed.values as Record<string, unknown>)[n];
    if (raw !== undefined) given.add(n);
    // booleans may repeat harmlessly; a single value flag arrives as a one-element list
    if (d.type === 'boolean') raw = Array.isArray(raw) ? raw.some(Boolean) : raw;
    else if (d.type !== 'list' && Array.isArray(raw) && raw.length === 1) raw = raw[0];
    values[n] = typed(n, d, raw);
  }
  return { flags: values as FlagValues<F>, positionals: parsed.positionals, given };
}
