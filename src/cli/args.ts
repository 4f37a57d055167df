/**
 * Shared argument parsing for the commands: node's util.parseArgs with loaa's error style (a
 * UsageError naming the flag) and typed number readers, so each command declares its flags as data.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './command.js';

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export function parseFlags(argv: string[], spec: FlagSpec, command: string): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...spec, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (e) {
    // parseArgs says e.g. "Unknown option '--x'": keep its words, point at the help
    throw new UsageError(`${(e as Error).message.replace(/\. To specify.*$/s, '')} (see loaa ${command} --help)`);
  }
}

export function stringFlag(a: ParsedArgs, name: string): string | undefined {
  const v = a.values[name];
  if (Array.isArray(v)) throw new UsageError(`--${name}: given more than once`);
  return typeof v === 'string' ? v : undefined;
}

export function listFlag(a: ParsedArgs, name: string): string[] {
  const v = a.values[name];
  return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String);
}

export function numberFlag(
  a: ParsedArgs,
  name: string,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  const s = stringFlag(a, name);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name}: "${s}" is not a number`);
  if (opts.integer && !Number.isInteger(n)) throw new UsageError(`--${name}: "${s}" is not an integer`);
  if (opts.min !== undefined && n < opts.min) throw new UsageError(`--${name}: ${n} is below the minimum ${opts.min}`);
  if (opts.max !== undefined && n > opts.max) throw new UsageError(`--${name}: ${n} is above the maximum ${opts.max}`);
  return n;
}

export function boolFlag(a: ParsedArgs, name: string): boolean {
  return a.values[name] === true;
}

export interface FlagTokens {
  positional: string[];
  /** value flags: every value given, in order; boolean flags: true */
  flags: Map<string, string[] | true>;
}

/**
 * The hand-rolled flag loop of `features`, `params` and `predict`, with their messages
 * (`--x: missing value`, `--x: given more than once`, `--x: unknown option (see loaa <command> --help)`).
 * `--flag=value` and `--flag value` both work; a lone `-` is a positional (stdin-style) unless
 * `dashIsOption` says it is an unknown option.
 */
export function tokenizeFlags(
  argv: string[],
  spec: { command: string; value: ReadonlySet<string>; bool: ReadonlySet<string>; repeatable?: ReadonlySet<string>; dashIsOption?: boolean },
): FlagTokens {
  const positional: string[] = [];
  const flags = new Map<string, string[] | true>();
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inline: string | undefined;
    if (a.startsWith('--') && a.includes('=')) {
      inline = a.slice(a.indexOf('=') + 1);
      a = a.slice(0, a.indexOf('='));
    }
    if (spec.value.has(a)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${a}: missing value`);
      const prev = flags.get(a);
      if (prev && !spec.repeatable?.has(a)) throw new UsageError(`${a}: given more than once`);
      flags.set(a, [...((prev as string[] | undefined) ?? []), v]);
    } else if (spec.bool.has(a)) {
      flags.set(a, true);
    } else if (a.startsWith('-') && (a !== '-' || spec.dashIsOption)) {
      throw new UsageError(`${a}: unknown option (see loaa ${spec.command} --help)`);
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
}
