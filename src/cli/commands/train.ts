/** `loaa train`: fine-tune from a recipe into a run directory (resumable). */
import { join, resolve } from 'node:path';
import { UsageError } from '../command.js';
import { defineCommand, type FlagValues } from '../define.js';
import { ENGINE_FLAGS, RECIPE_FLAGS, engineSets } from '../recipe_flags.js';

const DESCRIPTION = `Fine-tunes the recipe's backbone with its method (LoAA, adapters, LoRA, linear probe, ...) and writes
into the run directory: metrics.jsonl (one line per epoch), best/ and final/ (adapter directories for
loaa predict), checkpoint/ (for --resume) and results.json (final and best validation metrics, test
metrics of the best checkpoint, trainable parameters, seconds per epoch).

A non-finite loss stops the run with the step named; the last good checkpoint is kept.`;

const DIST_FLAGS = {
  nproc: {
    type: 'string',
    value: 'N',
    help: 'data-parallel training on N local ranks (PyTorch\'s c10d, Gloo), available cores / N threads\neach; the batch size stays the global one, so the steps are the single-process ones. Rank 0\nwrites the run directory; the other ranks log to <out>/logs/rank<R>.log. A process started by\ntorchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set) joins its group without these flags',
  },
  nnodes: { type: 'string', value: 'M', help: 'several machines: run the same command on each (with --node-rank 0..M-1)' },
  'node-rank': { type: 'string', value: 'K', help: 'this machine\'s index, 0..M-1' },
  'master-addr': { type: 'string', value: 'A', help: 'the address of node 0 (or MASTER_ADDR)' },
  'master-port': { type: 'string', value: 'P', help: 'the port on node 0 (or MASTER_PORT)' },
  'dist-timeout': { type: 'string', value: 'S', help: 'seconds a rank waits for the others before failing (default 300)' },
} as const;

const FLAGS = {
  ...RECIPE_FLAGS,
  config: { type: 'string', value: 'FILE', help: 'the recipe (recipes/*.yaml); optional with --resume (the run\'s own is used)' },
  out: { type: 'string', value: 'DIR', help: 'the run directory (created)' },
  resume: { type: 'boolean', help: 'continue an interrupted run in --out from its last checkpoint; it ends with\nthe same weights as an uninterrupted run (at the same thread count)' },
  'allow-thread-change': { type: 'boolean', help: 'resume with another thread count than the run was started with: training\ncontinues correctly, but the weights differ from an uninterrupted run in the last bits' },
  ...ENGINE_FLAGS,
  ...DIST_FLAGS,
} as const;

type TrainFlags = FlagValues<typeof FLAGS>;

export const command = defineCommand({
  name: 'train',
  summary: 'fine-tune a backbone on a dataset from a recipe',
  usage: [
    '--config <recipe.yaml> --out <run dir> [--set key.path=value ...] [--data-root PATH] [--workers N] [--device D] [--precision P] [--json]',
    '--out <run dir> --resume [--allow-thread-change] [--config <recipe.yaml>] [--set ...] [--data-root PATH] ...',
    '--config <recipe.yaml> --out <run dir> --nproc N [--nnodes M --node-rank K --master-addr A --master-port P] [--dist-timeout S] ...',
  ],
  description: DESCRIPTION,
  flags: FLAGS,
  examples: [
    'loaa train --config recipes/fsdd_loaa.yaml --out runs/fsdd_loaa',
    'loaa train --config recipes/esc50_loaa.yaml --set data.fold=1 --data-root ~/data/ESC-50-master --out runs/esc50_f1',
    'loaa train --config recipes/fsdd_loaa.yaml --nproc 2 --out runs/fsdd_loaa_x2',
  ],
  async run({ flags, positionals, argv, json, log, stream }) {
    if (positionals.length) throw new UsageError(`${positionals[0]}: unexpected argument (the recipe goes after --config)`);
    const out = flags.out;
    if (!out) throw new UsageError('--out: the run directory is required');
    if (!flags.config && !flags.resume) throw new UsageError('--config: a recipe file is required (or --resume an existing run)');
    distFlags(flags);
    const { loadRecipe } = await import('../../train/recipe.js');
    const { train } = await import('../../train/trainer.js');
    const sets = [...flags.set, ...engineSets(flags)];
    const dataRoot = flags['data-root'];
    let recipe;
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
    const dist = await distributed(argv, flags);
    if (dist.launched !== null) return dist.launched;
    let r;
    try {
      r = await train({ recipe, out, resume: flags.resume, allowThreadChange: flags['allow-thread-change'], log, progress: { stream }, ...(dist.hooks ? { parallel: dist.hooks } : {}) });
      dist.group?.close();
    } catch (e) {
      dist.group?.markFailed((e as Error).message);
      throw e;
    }
    if (dist.group && !dist.group.isMain) return 0;
    if (json) {
      process.stdout.write(JSON.stringify(r) + '\n');
    } else {
      const pct = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : (100 * v).toFixed(2) + '%');
      log('');
      log(`done: ${r.epochs} epochs, ${r.steps} steps, ${r.seconds_per_epoch.toFixed(1)} s/epoch, ${r.params.trainable.toLocaleString('en-US')} trainable parameters`);
      if (r.best) log(`best (epoch ${r.best.epoch}, ${r.best.split ?? 'last epoch'}): top1 ${pct(r.best.metrics?.top1)}`);
      if (r.test) log(`test (${r.test.split}, ${r.test.checkpoint} checkpoint): top1 ${pct(r.test.metrics.top1)}`);
      log(`run directory: ${r.out} (adapter: ${join(r.out, 'best')})`);
    }
    return 0;
  },
});

/** The distributed flags, checked (before any recipe is read). */
function distFlags(flags: TrainFlags): import('../../dist/env.js').DistFlags {
  const timeout = flags['dist-timeout'];
  if (timeout !== undefined && !(Number(timeout) > 0)) throw new UsageError(`--dist-timeout: expected a positive number of seconds, got ${JSON.stringify(timeout)}`);
  const d = {
    nproc: distInt(flags.nproc, '--nproc'),
    nnodes: distInt(flags.nnodes, '--nnodes'),
    nodeRank: distInt(flags['node-rank'], '--node-rank'),
    masterAddr: flags['master-addr'],
    masterPort: distInt(flags['master-port'], '--master-port'),
    timeout: timeout === undefined ? undefined : Number(timeout),
  };
  const nnodes = d.nnodes ?? 1;
  if ((d.nproc ?? 1) < 1) throw new UsageError('--nproc: expected at least 1');
  if (nnodes > 1 && !d.masterAddr && !process.env.MASTER_ADDR) throw new UsageError('--master-addr: required with --nnodes > 1 (the address of node 0), or set MASTER_ADDR');
  return d;
}

function distInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${flag}: expected a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** The launcher's flags, which its ranks must not see again. */
const LAUNCH_FLAGS = ['nproc', 'nnodes', 'node-rank', 'master-addr', 'master-port'].map((f) => `--${f}`);

/**
 * Data parallelism for a training command: with --nproc / --nnodes (and no rank variables) this
 * process becomes the launcher and returns its ranks' exit status in `launched`; in a rank (torchrun
 * variables set) it joins the group and returns the trainer's hooks.
 */
async function distributed(argv: string[], flags: TrainFlags): Promise<{ launched: number | null; group?: import('../../dist/group.js').ProcessGroup; hooks?: import('../../dist/hooks.js').ParallelHooks }> {
  const { launchPlan, rankFromEnv } = await import('../../dist/env.js');
  const d = distFlags(flags);
  let cfg;
  try {
    cfg = rankFromEnv(process.env, d);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (cfg === null) {
    let plan;
    try {
      plan = launchPlan(d);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (plan === null) return { launched: null };
    const { launchLocal } = await import('../../dist/launch.js');
    // the ranks run this same command without the launcher's flags (the parser has checked that
    // each of them has its value, inline or next)
    const rest: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const tok = argv[i]!;
      if (tok === '--') {
        rest.push(...argv.slice(i));
        break;
      }
      if (LAUNCH_FLAGS.includes(tok.split('=')[0]!)) {
        if (!tok.includes('=')) i++;
        continue;
      }
      rest.push(tok);
    }
    const r = await launchLocal({ plan, script: process.argv[1]!, args: ['train', ...rest], logDir: join(flags.out!, 'logs') });
    return { launched: r.code };
  }
  const { ProcessGroup } = await import('../../dist/group.js');
  const { parallelHooks } = await import('../../dist/hooks.js');
  const group = ProcessGroup.join(cfg);
  return { launched: null, group, hooks: parallelHooks(group) };
}
