/**
 * `loaa <command>`: a command is imported only when run, so the light commands start without
 * loading libtorch; `loaa --help` imports them all to read their summaries.
 */
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { closest } from '../util/suggest.js';

/** The commands in the order `loaa --help` lists them: src/cli/commands/<name>.ts each. */
const COMMANDS = ['demo', 'train', 'eval', 'cv', 'predict', 'params', 'features', 'stats', 'attention', 'grid', 'report', 'export', 'serve', 'pull', 'bench'] as const;

const isCommand = (name: string): name is (typeof COMMANDS)[number] => (COMMANDS as readonly string[]).includes(name);

async function load(name: string): Promise<Command> {
  return ((await import(`./commands/${name}.js`)) as { command: Command }).command;
}

/** The overview, each command's one line read from its own definition (the only place it is written). */
async function usage(): Promise<string> {
  const commands = await Promise.all(COMMANDS.map(load));
  const width = Math.max(...COMMANDS.map((k) => k.length));
  return [
    'loaa: fine-tune image-pretrained Vision Transformers on audio with Look-Aside Adapters',
    '',
    'usage: loaa <command> [options]      (loaa <command> --help for its options)',
    '',
    'commands:',
    ...commands.map((c, i) => `  ${COMMANDS[i]!.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --help; most take --json (one JSON object on stdout, nothing else there).',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  // `loaa help <command>` is `loaa <command> --help`
  if (name === 'help' && rest.length) [name, rest] = [rest[0], ['--help']];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(await usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    const { createRequire } = await import('node:module');
    console.log(createRequire(import.meta.url)('../../../package.json').version);
    return 0;
  }
  if (!isCommand(name)) {
    const near = closest(name, COMMANDS);
    console.error(`loaa: unknown command "${name}"${near ? ` (did you mean "${near}"?)` : ''}\n\n${await usage()}`);
    return 2;
  }
  let command: Command;
  try {
    // one file per command: src/cli/commands/<name>.ts exporting `command`
    command = await load(name);
  } catch (e) {
    console.error(`loaa ${name}: cannot load the command: ${(e as Error).message}`);
    return 1;
  }
  // before any parsing, so help works even next to a bad flag
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError || err?.name === 'UsageError') {
      console.error(`loaa ${name}: ${err.message}`);
      return 2;
    }
    // a user-facing error from a reader or a check: one line, no stack unless asked for
    console.error(`loaa ${name}: ${err?.message ?? String(e)}`);
    if (process.env.LOAA_DEBUG) console.error(err?.stack);
    return 1;
  }
}
