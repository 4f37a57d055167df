/**
 * The child entry `loaa grid` starts for each run: `node grid_child.js '<json>'` with
 * {config, set, out, resume} (GridChildSpec). Logs and progress go to stdout (the run's train.log);
 * the exit status is 0 when the run finished, 1 when it failed (the message on stderr).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface GridChildSpec {
  /** the base recipe file */
  config: string;
  /** `key.path=value` overrides, in order */
  set: string[];
  /** the run directory */
  out: string;
  resume: boolean;
}

/** Trains one grid run in this process. */
export async function runGridChild(spec: GridChildSpec): Promise<void> {
  const { loadRecipe } = await import('./recipe.js');
  const { train } = await import('./trainer.js');
  const recipe = loadRecipe(spec.config, { set: spec.set });
  await train({
    recipe,
    out: spec.out,
    resume: spec.resume,
    log: (s) => process.stdout.write(`${s}\n`),
    progress: { stream: process.stdout },
  });
}

function parseSpec(text: string | undefined): GridChildSpec {
  if (text === undefined) throw new Error('grid_child: expected one JSON argument {config, set, out, resume}');
  const o = JSON.parse(text) as Partial<GridChildSpec>;
  if (typeof o.config !== 'string' || typeof o.out !== 'string') throw new Error('grid_child: config and out: expected strings');
  if (!Array.isArray(o.set) || !o.set.every((s) => typeof s === 'string')) throw new Error('grid_child: set: expected a list of strings');
  return { config: o.config, set: o.set, out: o.out, resume: o.resume === true };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runGridChild(parseSpec(process.argv[2])).then(
    () => process.exit(0),
    (e: Error) => {
      process.stderr.write(`error: ${e.message}\n`);
      process.exit(1);
    },
  );
}
