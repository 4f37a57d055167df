/** `loaa cv`: k-fold cross-validation with per-fold and mean results. */
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';
import { ENGINE_FLAGS, RECIPE_FLAGS, engineSets } from '../recipe_flags.js';
import { DIST_FLAGS, distFlags, distributed } from '../dist_flags.js';

const DESCRIPTION = `Trains one run per held-out fold (<dir>/fold1 ... fold<k>; the recipe's data.fold is set to each in
turn and that fold is evaluated every epoch, as AST does for ESC-50), then prints per-fold accuracy
and the mean +/- std over folds: of the last epoch, of each fold's best epoch, and AST's way (the
epoch that is best on the fold-averaged accuracy curve). Writes <dir>/cv_results.json (--json prints it).

Resumable: run the same command again after an interruption; finished folds are not re-run, an
interrupted fold continues from its checkpoint.

With --nproc N (or under torchrun) each fold trains data-parallel over the ranks, as loaa train does;
rank 0 writes the fold runs and cv_results.json.`;

const FLAGS = {
  ...RECIPE_FLAGS,
  config: { type: 'string', value: 'FILE', help: 'the recipe (a k-fold dataset: ESC-50, or a manifest with fold1..foldK splits)' },
  out: { type: 'string', value: 'DIR', help: 'where the fold runs go' },
  folds: { type: 'int', value: 'K', default: 5, min: 2, max: 100, help: 'number of folds' },
  ...ENGINE_FLAGS,
  ...DIST_FLAGS,
} as const;

export const command = defineCommand({
  name: 'cv',
  usage: [
    '--config <recipe.yaml> --out <dir> [--folds 5] [--set key.path=value ...] [--data-root PATH] [--workers N] [--device D] [--precision P] [--json]',
    '--config <recipe.yaml> --out <dir> --nproc N [--nnodes M --node-rank K --master-addr A --master-port P] [--dist-timeout S] [--dist-backend B] ...',
  ],
  description: DESCRIPTION,
  flags: FLAGS,
  optionsOnly: true,
  examples: [
    'loaa cv --config recipes/esc50_loaa.yaml --data-root ~/data/ESC-50-master --folds 5 --out runs/esc50_loaa_cv',
    'loaa cv --config recipes/esc50_loaa.yaml --data-root ~/data/ESC-50-master --folds 5 --nproc 2 --out runs/esc50_loaa_cv_x2',
  ],
  async run({ flags, argv, json, log, stream }) {
    if (!flags.config) throw new UsageError('--config: a recipe file is required');
    if (!flags.out) throw new UsageError('--out: a directory for the fold runs is required');
    distFlags(flags);
    const { loadRecipe } = await import('../../train/recipe.js');
    const { runCv, formatCv } = await import('../../train/cv.js');
    const recipe = loadRecipe(flags.config, { set: [...flags.set, ...engineSets(flags)], dataRoot: flags['data-root'] });
    const dist = await distributed('cv', argv, flags, recipe.train.device);
    if (dist.launched !== null) return dist.launched;
    let r: Awaited<ReturnType<typeof runCv>>;
    try {
      r = await runCv({
        recipe,
        folds: flags.folds,
        out: flags.out,
        log,
        progress: { stream },
        ...(dist.hooks ? { parallel: dist.hooks } : {}),
      });
      dist.group?.close();
    } catch (e) {
      dist.group?.markFailed((e as Error).message);
      throw e;
    }
    if (dist.group && !dist.group.isMain) return 0;
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else log(`\n${formatCv(r)}`);
    return 0;
  },
});
