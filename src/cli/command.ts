/** One `loaa <name>` sub-command. `run` returns the process exit status; it throws only on bugs. */
export interface Command {
  name: string;
  /** one line for `loaa --help` */
  summary: string;
  /** full text for `loaa <name> --help` */
  help: string;
  run(argv: string[]): Promise<number>;
}

// declared with the flag parser (src/util/flags.ts), which throws it too
export { UsageError } from '../util/flags.js';
