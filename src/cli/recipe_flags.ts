/**
 * The flags that train, eval and cv share (declared once for their `defineCommand` tables), and how
 * they become recipe overrides: the engine flags are recipe keys so that a resumed or evaluated run
 * sees them too.
 */
import type { FlagDef } from './define.js';
import { DEVICE_FLAGS } from './engine_flags.js';

export const RECIPE_FLAGS = {
  config: { type: 'string', value: 'FILE', help: 'the recipe: a .yaml file, or a packaged recipe by name (fsdd_loaa, esc50_loaa, ...)' },
  set: {
    type: 'list',
    value: 'KEY=VALUE',
    help: 'override any recipe key, typed by the schema\ne.g. --set optim.lr=1e-3 --set train.epochs=5 --set peft.adapters.0.bottleneck=48',
  },
  'data-root': { type: 'string', value: 'PATH', help: 'where the dataset is (replaces data.root)' },
} as const satisfies Record<string, FlagDef>;

export const ENGINE_FLAGS = {
  workers: { type: 'int', min: 0, max: 64, help: 'data-loading threads (data.workers; default from the recipe)' },
  ...DEVICE_FLAGS,
} as const satisfies Record<string, FlagDef>;

/** The `--set` overrides that the engine flags stand for, after the command line's own --set. */
export function engineSets(flags: { workers?: number; device?: string; precision?: string }): string[] {
  const sets: string[] = [];
  if (flags.device !== undefined) sets.push(`train.device=${flags.device}`);
  if (flags.precision !== undefined) sets.push(`train.precision=${flags.precision}`);
  if (flags.workers !== undefined) sets.push(`data.workers=${flags.workers}`);
  return sets;
}
