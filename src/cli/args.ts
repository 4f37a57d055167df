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
