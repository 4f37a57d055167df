/**
 * One way to define a `loaa` command: its flags are declared once (type, help, default, range) and
 * the parser (src/util/flags.ts), the typed values and the `--help` text all come from that
 * declaration. Usage errors exit 2 (main.ts), failures 1.
 */
import { UsageError, type Command } from './command.js';
import { parseFlags, type FlagDef, type FlagValues } from '../util/flags.js';
import { isCommandName, SUMMARIES } from './summaries.js';

export type { FlagDef, FlagValues } from '../util/flags.js';

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
  /** `loaa <name>`; its one line for `loaa --help` is SUMMARIES[name] (src/cli/summaries.ts) */
  name: string;
  /** what follows `loaa <name>` in the usage line(s) */
  usage: string | string[];
  /** paragraphs between the usage and the options */
  description?: string;
  flags: F;
  /**
   * The command takes no positional argument: one is a usage error, checked here before `run`
   * (`extra: unexpected argument`, with this text in parentheses when it is a string).
   */
  optionsOnly?: true | string;
  /** `--json` prints results as one JSON object on stdout (default true) */
  json?: boolean;
  examples?: string[];
  // biome-ignore lint/suspicious/noConfusingVoidType: a command that only prints may end without a return (exit code 0); `undefined` would make every such run say `return undefined`
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
  return Object.entries(flags).map(([, d], i) => {
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
  const usage = (Array.isArray(def.usage) ? def.usage : [def.usage]).map((u, i) =>
    `${i === 0 ? 'usage: ' : '       '}loaa ${def.name} ${u}`.trimEnd(),
  );
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

/** Parses argv against a flag table (exported for tests and for commands that parse twice). */
export function parseCommandArgs<F extends Record<string, FlagDef>>(
  argv: string[],
  flags: F,
  command: string,
): { flags: FlagValues<F> & { json: boolean; help: boolean }; positionals: string[]; given: Set<string> } {
  const p = parseFlags(argv, { ...flags, ...BUILTIN }, `loaa ${command} --help`);
  return { flags: p.flags as FlagValues<F> & { json: boolean; help: boolean }, positionals: p.positionals, given: p.given };
}

export function defineCommand<F extends Record<string, FlagDef>>(def: CommandDef<F>): Command {
  const help = helpText(def as unknown as CommandDef<Record<string, FlagDef>>);
  return {
    name: def.name,
    summary: isCommandName(def.name) ? SUMMARIES[def.name] : '',
    help,
    async run(argv: string[]): Promise<number> {
      const p = parseCommandArgs(argv, def.flags, def.name);
      const all = p.flags as Record<string, unknown>;
      if (all.help === true) {
        process.stdout.write(help);
        return 0;
      }
      if (def.optionsOnly && p.positionals.length) {
        const why = typeof def.optionsOnly === 'string' ? ` (${def.optionsOnly})` : '';
        throw new UsageError(`${p.positionals[0]}: unexpected argument${why}`);
      }
      const json = all.json === true;
      const stream = json ? process.stderr : process.stdout;
      const code = await def.run({
        flags: p.flags,
        positionals: p.positionals,
        argv,
        given: (n) => p.given.has(n),
        json,
        stream,
        log: (s) => void stream.write(`${s}\n`),
      });
      return code ?? 0;
    },
  };
}
