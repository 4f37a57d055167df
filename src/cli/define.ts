/**
 * One way to define a `loaa` command: its flags are declared once (type, help, default, range) and
 * the parser, the typed values and the `--help` text all come from that declaration.
 *
 * Parsing is node's util.parseArgs after a pass that gives every command the same rules:
 * `--flag value` and `--flag=value` both work, a value flag with nothing after it (or followed by
 * another flag) is `--flag: missing value`, a negative number is a value (`--mean -6.6`), an unknown
 * flag is `--x: unknown option` with the nearest known one suggested, and a value flag given twice
 * is an error unless it is a list. Usage errors exit 2 (main.ts), failures 1.
 */
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './command.js';
import { closest } from './suggest.js';

export type FlagDef =
  | { type: 'boolean'; help: string }
  | { type: 'string'; help: string; value?: string; default?: string; choices?: readonly string[] }
  | { type: 'int' | 'number'; help: string; value?: string; default?: number; min?: number; max?: number }
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

export interface CommandArgs<F extends Record<string, FlagDef>> {
  flags: FlagValues<F>;
  positionals: string[];
  /** the arguments as given (for commands that hand them on) */
  argv: string[];
  /** whether the flag was on the command line (not defaulted) */
  given(name: keyof F & string): boolean;
  /** log lines and progress: stderr under --json, else stdout */
  log: (line: string) => void;
  stream: NodeJS.WriteStream;
}

export interface CommandDef<F extends Record<string, FlagDef>> {
  name: string;
  /** one line for `loaa --help` */
  summary: string;
  /** what follows `loaa <name>` in the usage line(s) */
  usage: string | string[];
  /** paragraphs between the usage and the options */
  description?: string;
  flags: F;
  /** `--json` prints results as one JSON object on stdout (default true) */
  json?: boolean;
  examples?: string[];
  run(args: CommandArgs<F> & { json: boolean }): Promise<number | void>;
}

const BUILTIN: Record<string, FlagDef> = {
  json: { type: 'boolean', help: 'print the result as one JSON object on stdout (logs go to stderr)' },
  help: { type: 'boolean', help: 'this text' },
};

function flagLabel(name: string, d: FlagDef): string {
  if (d.type === 'boolean') return name === 'help' ? '-h, --help' : `--${name}`;
  const v = d.value ?? (d.type === 'int' || d.type === 'number' ? 'N' : 'VALUE');
  return `--${name} ${v}`;
}

/** The option lines of a help text, one flag (and its wrapped help) after another. */
export function optionLines(flags: Record<string, FlagDef>): string[] {
  const labels = Object.entries(flags).map(([n, d]) => flagLabel(n, d));
  const w = Math.min(28, Math.max(...labels.map((l) => l.length)) + 2);
  return Object.entries(flags).map(([n, d], i) => {
    const extra: string[] = [];
    if ('default' in d && d.default !== undefined) extra.push(`default ${d.default}`);
    if (d.type === 'list') extra.push('repeatable');
    if (d.type === 'string' && d.choices) extra.push(`one of ${d.choices.join(', ')}`);
    const text = d.help + (extra.length ? ` (${extra.join('; ')})` : '');
    const label = labels[i]!;
    const [first, ...rest] = text.split('\n');
    const head = label.length + 2 > w ? `  ${label}\n  ${' '.repeat(w)}${first}` : `  ${label.padEnd(w)}${first}`;
    return [head, ...rest.map((r) => `  ${' '.repeat(w)}${r}`)].join('\n');
  });
}

/** The `--help` text of a definition. */
export function helpText(def: CommandDef<Record<string, FlagDef>>): string {
  const flags = { ...def.flags, ...(def.json === false ? {} : { json: BUILTIN.json! }), help: BUILTIN.help! };
  const usage = (Array.isArray(def.usage) ? def.usage : [def.usage]).map((u, i) => `${i === 0 ? 'usage: ' : '       '}loaa ${def.name} ${u}`.trimEnd());
  return [
    ...usage,
    '',
    ...(def.description ? [def.description.trim(), ''] : []),
    'options:',
    ...optionLines(flags),
    ...(def.examples?.length ? ['', 'examples:', ...def.examples.map((e) => `  ${e}`)] : []),
    '',
  ].join('\n');
}

const NUMERIC = /^-(\d|\.\d)/;

/** The argv with every value flag in `--flag=value` form, after the checks parseArgs does not make. */
function normalise(argv: string[], flags: Record<string, FlagDef>, command: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (tok === '-h') {
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
      throw new UsageError(`${eq < 0 ? tok : tok.slice(0, eq)}: unknown option${near ? ` (did you mean --${near}?)` : ''} (see loaa ${command} --help)`);
    }
    if (d.type === 'boolean' || eq >= 0) {
      out.push(tok);
      continue;
    }
    const next = argv[i + 1];
    const takes = next !== undefined && (!next.startsWith('-') || next === '-' || ((d.type === 'int' || d.type === 'number') && NUMERIC.test(next)));
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
    if (d.choices && !d.choices.includes(s)) throw new UsageError(`--${name}: expected one of ${d.choices.join(', ')}, got ${JSON.stringify(s)}`);
    return s;
  }
  const n = Number(s);
  const what = d.type === 'int' ? 'an integer' : 'a number';
  const range = d.min !== undefined && d.max !== undefined ? ` in [${d.min}, ${d.max}]` : d.min !== undefined ? ` >= ${d.min}` : '';
  if (s.trim() === '' || !Number.isFinite(n) || (d.type === 'int' && !Number.isSafeInteger(n)) || (d.min !== undefined && n < d.min) || (d.max !== undefined && n > d.max)) {
    throw new UsageError(`--${name}: expected ${what}${range}, got ${JSON.stringify(s)}`);
  }
  return n;
}

/** Parses argv against a flag table (exported for tests and for commands that parse twice). */
export function parseCommandArgs<F extends Record<string, FlagDef>>(argv: string[], flags: F, command: string): { flags: FlagValues<F> & { json: boolean; help: boolean }; positionals: string[]; given: Set<string> } {
  const all: Record<string, FlagDef> = { ...flags, ...BUILTIN };
  const options = Object.fromEntries(Object.entries(all).map(([n, d]) => [n, { type: d.type === 'boolean' ? ('boolean' as const) : ('string' as const), multiple: true }]));
  const args = normalise(argv, all, command);
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify.*$/s, '')} (see loaa ${command} --help)`);
  }
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const [n, d] of Object.entries(all)) {
    let raw = (parsed.values as Record<string, unknown>)[n];
    if (raw !== undefined) given.add(n);
    // booleans may repeat harmlessly; a single value flag arrives as a one-element list
    if (d.type === 'boolean') raw = Array.isArray(raw) ? raw.some(Boolean) : raw;
    else if (d.type !== 'list' && Array.isArray(raw) && raw.length === 1) raw = raw[0];
    values[n] = typed(n, d, raw);
  }
  return { flags: values as FlagValues<F> & { json: boolean; help: boolean }, positionals: parsed.positionals, given };
}

export function defineCommand<F extends Record<string, FlagDef>>(def: CommandDef<F>): Command {
  const help = helpText(def as unknown as CommandDef<Record<string, FlagDef>>);
  return {
    name: def.name,
    summary: def.summary,
    help,
    async run(argv: string[]): Promise<number> {
      const p = parseCommandArgs(argv, def.flags, def.name);
      const all = p.flags as Record<string, unknown>;
      if (all.help === true) {
        process.stdout.write(help);
        return 0;
      }
      const json = all.json === true;
      const stream = json ? process.stderr : process.stdout;
      const code = await def.run({ flags: p.flags, positionals: p.positionals, argv, given: (n) => p.given.has(n), json, stream, log: (s) => void stream.write(s + '\n') });
      return code ?? 0;
    },
  };
}
