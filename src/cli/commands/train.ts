/** `loaa train`: fine-tune from a recipe into a run directory (resumable). */
import { join, resolve } from 'node:path';
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';
import { ENGINE_FLAGS, RECIPE_FLAGS, engineSets } from '../recipe_flags.js';
import { DIST_FLAGS, distFlags, distributed } from '../dist_flags.js';

const DESCRIPTION = `Fine-tunes the recipe's backbone with its method (LoAA, adapters, LoRA, linear probe, ...) and writes
into the run directory: metrics.jsonl (one line per epoch), best/ and final/ (adapter directories for
loaa predict), checkpoint/ (for --resume) and results.json (final and best validation metrics, test
metrics of the best checkpoint, trainable parameters, seconds per epoch).

A non-finite loss stops the run with the step named; the last good checkpoint is kept.`;

const FLAGS = {
  ...RECIPE_FLAGS,
  config: {
    type: 'string',
    value: 'FILE',
    help: "the recipe: a .yaml file or a packaged recipe by name (fsdd_loaa, ...); optional with --resume (the run's own is used)",
  },
  out: { type: 'string', value: 'DIR', help: 'the run directory (created)' },
  resume: {
    type: 'boolean',
    help: 'continue an interrupted run in --out from its last checkpoint; it ends with\nthe same weights as an uninterrupted run (at the same thread count)',
  },
  'allow-thread-change': {
    type: 'boolean',
    help: 'resume with another thread count than the run was started with: training\ncontinues correctly, but the weights differ from an uninterrupted run in the last bits',
  },
  ...ENGINE_FLAGS,
  ...DIST_FLAGS,
  'dry-run': {
    type: 'boolean',
    help: 'print the resolved recipe and the plan (trainable parameters, steps per epoch,\neffective batch, the lr of every epoch) and exit: no data or weights are read',
  },
} as const;

export const command = defineCommand({
  name: 'train',
  usage: [
    '--config <recipe.yaml> --out <run dir> [--set key.path=value ...] [--data-root PATH] [--workers N] [--device D] [--precision P] [--json]',
    '--out <run dir> --resume [--allow-thread-change] [--config <recipe.yaml>] [--set ...] [--data-root PATH] ...',
    '--config <recipe.yaml> [--set key.path=value ...] --dry-run [--json]',
    '--config <recipe.yaml> --out <run dir> --nproc N [--nnodes M --node-rank K --master-addr A --master-port P] [--dist-timeout S] [--dist-backend B] ...',
  ],
  description: DESCRIPTION,
  flags: FLAGS,
  optionsOnly: 'the recipe goes after --config',
  examples: [
    'loaa train --config recipes/fsdd_loaa.yaml --out runs/fsdd_loaa',
    'loaa train --config recipes/esc50_loaa.yaml --set data.fold=1 --data-root ~/data/ESC-50-master --out runs/esc50_f1',
    'loaa train --config recipes/fsdd_loaa.yaml --nproc 2 --out runs/fsdd_loaa_x2',
  ],
  async run({ flags, argv, json, log, stream }) {
    if (flags['dry-run']) {
      if (!flags.config) throw new UsageError('--dry-run: --config is required');
      const { loadRecipe } = await import('../../train/recipe.js');
      const { planLines, planTraining } = await import('../../train/plan.js');
      const plan = planTraining(loadRecipe(flags.config, { set: [...flags.set, ...engineSets(flags)], dataRoot: flags['data-root'] }));
      if (json) {
        process.stdout.write(`${JSON.stringify(plan)}\n`);
      } else {
        const { stringify } = await import('yaml');
        process.stdout.write(stringify(plan.recipe));
        for (const line of planLines(plan)) log(line);
      }
      return 0;
    }
    const out = flags.out;
    if (!out) throw new UsageError('--out: the run directory is required');
    if (!flags.config && !flags.resume) throw new UsageError('--config: a recipe file is required (or --resume an existing run)');
    distFlags(flags);
    const { loadRecipe } = await import('../../train/recipe.js');
    const { train } = await import('../../train/trainer.js');
    const sets = [...flags.set, ...engineSets(flags)];
    const dataRoot = flags['data-root'];
    let recipe: ReturnType<typeof loadRecipe> | undefined;
    if (flags.config) {
      recipe = loadRecipe(flags.config, { set: sets, dataRoot });
    } else if (sets.length || dataRoot) {
      // resuming without --config: the run's recipe with the harmless changes asked for
      const { readRunRecipe, runStarted } = await import('../../train/run_dir.js');
      if (!runStarted(out)) throw new UsageError(`${out}: nothing to resume (no recipe.json)`);
      recipe = readRunRecipe(out, sets, (raw) => {
        if (dataRoot) (raw.data as Record<string, unknown>).root = resolve(dataRoot);
      });
    }
    // --dist-backend auto follows train.device: the recipe's, or when resuming without one the run's
    const runDir = await import('../../train/run_dir.js');
    const device = recipe?.train.device ?? (runDir.runStarted(out) ? runDir.readRunRecipe(out).train.device : 'auto');
    const dist = await distributed('train', argv, flags, device);
    if (dist.launched !== null) return dist.launched;
    let r: Awaited<ReturnType<typeof train>>;
    try {
      r = await train({
        recipe,
        out,
        resume: flags.resume,
        allowThreadChange: flags['allow-thread-change'],
        log,
        progress: { stream },
        ...(dist.hooks ? { parallel: dist.hooks() } : {}),
      });
      dist.group?.close();
    } catch (e) {
      dist.group?.markFailed((e as Error).message);
      throw e;
    }
    if (dist.group && !dist.group.isMain) return 0;
    if (json) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
    } else {
      const pct = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : `${(100 * v).toFixed(2)}%`);
      log('');
      log(
        `done: ${r.epochs} epochs, ${r.steps} steps, ${r.seconds_per_epoch.toFixed(1)} s/epoch, ${r.params.trainable.toLocaleString('en-US')} trainable parameters`,
      );
      if (r.best) log(`best (epoch ${r.best.epoch}, ${r.best.split ?? 'last epoch'}): top1 ${pct(r.best.metrics?.top1)}`);
      if (r.test) log(`test (${r.test.split}, ${r.test.checkpoint} checkpoint): top1 ${pct(r.test.metrics.top1)}`);
      log(`run directory: ${r.out} (adapter: ${join(r.out, 'best')})`);
    }
    return 0;
  },
});
