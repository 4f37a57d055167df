/** `loaa cv`: k-fold cross-validation with per-fold and mean results. */
import { UsageError, type Command } from '../command.js';
import { outputs, parseArgs } from './train.js';

const help = `usage: loaa cv --config <recipe.yaml> --out <dir> [--folds 5] [--set key.path=value ...]
               [--data-root PATH] [--workers N] [--device D] [--precision P] [--json]

Trains one run per held-out fold (<dir>/fold1 ... fold<k>; the recipe's data.fold is set to each in
turn and that fold is evaluated every epoch, as AST does for ESC-50), then prints per-fold accuracy
and the mean +/- std over folds: of the last epoch, of each fold's best epoch, and AST's way (the
epoch that is best on the fold-averaged accuracy curve). Writes <dir>/cv_results.json.

Resumable: run the same command again after an interruption; finished folds are not re-run, an
interrupted fold continues from its checkpoint.

options:
  --config FILE        the recipe (a k-fold dataset: ESC-50, or a manifest with fold1..foldK splits)
  --out DIR            where the fold runs go
  --folds K            number of folds (default 5)
  --set KEY=VALUE      recipe overrides, as for loaa train; repeatable
  --data-root PATH     where the dataset is
  --workers N          data-loading threads
  --device D, --precision P   as for loaa train
  --json               print cv_results.json as one JSON object on stdout

example:
  loaa cv --config recipes/esc50_loaa.yaml --data-root ~/data/ESC-50-master --folds 5 --out runs/esc50_loaa_cv
`;

export const command: Command = {
  name: 'cv',
  summary: 'k-fold cross-validation (ESC-50 style) with per-fold and mean results',
  help,
  async run(argv) {
    const a = parseArgs(argv, 'cv', ['--folds']);
    if (a.positional.length) throw new UsageError(`${a.positional[0]}: unexpected argument`);
    if (!a.config) throw new UsageError('--config: a recipe file is required');
    if (!a.out) throw new UsageError('--out: a directory for the fold runs is required');
    const f = a.values.get('--folds') ?? '5';
    if (!/^\d+$/.test(f) || Number(f) < 2 || Number(f) > 100) throw new UsageError(`--folds: expected an integer in [2, 100], got ${JSON.stringify(f)}`);
    const { loadRecipe } = await import('../../train/recipe.js');
    const { runCv, formatCv } = await import('../../train/cv.js');
    const sets = [...a.set];
    if (a.workers !== undefined) sets.push(`data.workers=${a.workers}`);
    const recipe = loadRecipe(a.config, { set: sets, dataRoot: a.dataRoot });
    const { log, progress } = outputs(a.json);
    const r = await runCv({ recipe, folds: Number(f), out: a.out, log, progress });
    if (a.json) process.stdout.write(JSON.stringify(r) + '\n');
    else log('\n' + formatCv(r));
    return 0;
  },
};
