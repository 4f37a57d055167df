/**
 * `loaa <command>`: commands are imported only when run, so `loaa --help` and the light commands
 * start without loading libtorch.
 */
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { closest } from '../util/suggest.js';
import { COMMAND_NAMES, SUMMARIES, isCommandName } from './summaries.js';

async function load(name: string): Promise<Command> {
  return ((await import(`./commands/${name}.js`)) as { command: Command }).command;
}

/** The overview: each command's one line from src/cli/summaries.ts, without importing the commands. */
function usage(): string {
  const width = Math.max(...COMMAND_NAMES.map((k) => k.length));
  return [
    'loaa: fine-tune image-pretrained Vision Transformers on audio with Look-Aside Adapters',
    '',
    'usage: loaa <command> [options]      (loaa <command> --help for its options)',
    '',
    'commands:',
    ...COMMAND_NAMES.map((k) => `  ${k.padEnd(width)}  ${SUMMARIES[k]}`),
    '',
    'Every command takes --help; most take --json (one JSON object on stdout, nothing else there).',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  // `loaa help <command>` is `loaa <command> --help`
  if (name === 'help' && rest.length) [name, rest] = [rest[0], ['--help']];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    const { createRequire } = await import('node:module');
    console.log(createRequire(import.meta.url)('../../../package.json').version);
    return 0;
  }
  if (!isCommandName(name)) {
    const near = closest(name, COMMAND_NAMES);
    console.error(`loaa: unknown command "${name}"${near ? ` (did you mean "${near}"?)` : ''}\n\n${usage()}`);
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
