/** One `loaa <name>` sub-command. `run` returns the process exit status; it throws only on bugs. */
export interface Command {
  name: string;
  /** one line for `loaa --help` */
  summary: string;
  /** full text for `loaa <name> --help` */
  help: string;
  run(argv: string[]): Promise<number>;
}

/** An error the user caused (bad argument, bad file): printed as one line, exit status 2, no stack. */
export class UsageError extends Error {
  override name = 'UsageError';
}
