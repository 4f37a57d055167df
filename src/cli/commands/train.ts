/** `loaa train`: fine-tune from a recipe into a run directory (resumable). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, type Command } from '../command.js';

const help = `usage: loaa train --config <recipe.yaml> --out <run dir> [--set key.path=value ...]
                  [--resume [--allow-thread-change]] [--data-root PATH] [--workers N] [--device D] [--precision P] [--json]
                  [--nproc N] [--nnodes M --node-rank K --master-addr A --master-port P] [--dist-timeout S]

Fine-tunes the recipe's backbone with its method (LoAA, adapters, LoRA, linear probe, ...) and writes
into the run directory: metrics.jsonl (one line per epoch), best/ and final/ (adapter directories for
loaa predict), checkpoint/ (for --resume) and results.json (final and best validation metrics, test
metrics of the best checkpoint, trainable parameters, seconds per epoch).

options:
  --config FILE        the recipe (recipes/*.yaml); optional with --resume (the run's own is used)
  --out DIR            the run directory (created)
  --set KEY=VALUE      override any recipe key, typed by the schema; repeatable
                       e.g. --set optim.lr=1e-3 --set train.epochs=5 --set peft.adapters.0.bottleneck=48
  --resume             continue an interrupted run in --out from its last checkpoint; it ends with
                       the same weights as an uninterrupted run (at the same thread count)
  --allow-thread-change  resume with another thread count than the run was started with: training
                       continues correctly, but the weights differ from an uninterrupted run in the last bits
  --data-root PATH     where the dataset is (replaces data.root)
  --workers N          data-loading threads (data.workers; default from the recipe, 2)
  --device D           cpu, cuda, cuda:N or auto (train.device; default cpu)
  --precision P        fp32, bf16, fp16 or auto (train.precision; default fp32): mixed precision with
                       torch.autocast's semantics; fp16 scales the loss and skips overflowing steps;
                       auto is bf16 on a GPU and on CPUs where bf16 matmul measures faster (AMX)
  --json               print results.json as one JSON object on stdout (logs go to stderr)
  --nproc N            data-parallel training on N local ranks (PyTorch's c10d, Gloo), available
                       cores / N threads each; the batch size stays the global one, so the steps are
                       the single-process ones. Rank 0 writes the run directory; the other ranks log
                       to <out>/logs/rank<R>.log. A process started by torchrun (RANK, WORLD_SIZE,
                       MASTER_ADDR, MASTER_PORT set) joins its group without these flags.
  --nnodes M, --node-rank K, --master-addr A, --master-port P
                       several machines: run the same command on each, K = 0..M-1, A:P on node 0
  --dist-timeout S     seconds a rank waits for the others before failing (default 300)

example:
  loaa train --config recipes/fsdd_loaa.yaml --out runs/fsdd_loaa
  loaa train --config recipes/esc50_loaa.yaml --set data.fold=1 --data-root ~/data/ESC-50-master --out runs/esc50_f1

A non-finite loss stops the run with the step named; the last good checkpoint is kept.
`;

export interface CommonArgs {
  config?: string;
  out?: string;
  set: string[];
  resume: boolean;
  dataRoot?: string;
  workers?: number;
  json: boolean;
  positional: string[];
  /** other flags with a value, by name */
  values: Map<string, string>;
}

/**
 * The flags the training commands share; `valued` lists extra flags that take a value, `flags`
 * extra boolean flags.
 */
export function parseArgs(argv: string[], command: string, valued: string[] = [], flags: string[] = []): CommonArgs {
  const a: CommonArgs = { set: [], resume: false, json: false, positional: [], values: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined || (eq < 0 && v.startsWith('--'))) throw new UsageError(`${flag}: a value is required`);
      return v;
    };
    switch (flag) {
      case '--config':
        a.config = value();
        break;
      case '--out':
        a.out = value();
        break;
      case '--set':
        a.set.push(value());
        break;
      case '--resume':
        a.resume = true;
        break;
      case '--data-root':
        a.dataRoot = value();
        break;
      case '--workers': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) > 64) throw new UsageError(`--workers: expected an integer in [0, 64], got ${JSON.stringify(v)}`);
        a.workers = Number(v);
        break;
      }
      case '--json':
        a.json = true;
        break;
      // recipe keys, so a resumed or evaluated run sees them too
      case '--device':
        a.set.push(`train.device=${value()}`);
        break;
      case '--precision': {
        const v = value();
        if (!['fp32', 'bf16', 'fp16', 'auto'].includes(v)) throw new UsageError(`--precision: expected fp32, bf16, fp16 or auto, got ${JSON.stringify(v)}`);
        a.set.push(`train.precision=${v}`);
        break;
      }
      default:
        if (valued.includes(flag)) a.values.set(flag, value());
        else if (flags.includes(flag)) a.values.set(flag, 'true');
        else if (flag.startsWith('-')) throw new UsageError(`${flag}: unknown option (see loaa ${command} --help)`);
        else a.positional.push(arg);
    }
  }
  return a;
}

/** Logs and progress away from stdout when it carries JSON. */
export function outputs(json: boolean): { log: (s: string) => void; progress: { stream: NodeJS.WriteStream } } {
  const stream = json ? process.stderr : process.stdout;
  return { log: (s) => stream.write(s + '\n'), progress: { stream } };
}

export const command: Command = {
  name: 'train',
  summary: 'fine-tune a backbone on a dataset from a recipe',
  help,
  async run(argv) {
    const a = parseArgs(argv, 'train', DIST_FLAGS, ['--allow-thread-change']);
    if (a.positional.length) throw new UsageError(`${a.positional[0]}: unexpected argument (the recipe goes after --config)`);
    if (!a.out) throw new UsageError('--out: the run directory is required');
    if (!a.config && !a.resume) throw new UsageError('--config: a recipe file is required (or --resume an existing run)');
    distFlags(a);
    const { loadRecipe, recipeFromObject } = await import('../../train/recipe.js');
    const { train } = await import('../../train/trainer.js');
    const sets = [...a.set];
    if (a.workers !== undefined) sets.push(`data.workers=${a.workers}`);
    let recipe;
    if (a.config) {
      recipe = loadRecipe(a.config, { set: sets, dataRoot: a.dataRoot });
    } else if (sets.length || a.dataRoot) {
      // resuming without --config: the run's recipe with the harmless changes asked for
      const { readFileSync } = await import('node:fs');
      const file = join(a.out, 'recipe.json');
      if (!existsSync(file)) throw new UsageError(`${a.out}: nothing to resume (no recipe.json)`);
      const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      if (a.dataRoot) (raw.data as Record<string, unknown>).root = (await import('node:path')).resolve(a.dataRoot);
      recipe = recipeFromObject(raw, file, sets);
    }
    const { log, progress } = outputs(a.json);
    const dist = await distributed(argv, a);
    if (dist.launched !== null) return dist.launched;
    let r;
    try {
      r = await train({ recipe, out: a.out, resume: a.resume, allowThreadChange: a.values.has('--allow-thread-change'), log, progress, ...(dist.hooks ? { parallel: dist.hooks } : {}) });
      dist.group?.close();
    } catch (e) {
      dist.group?.markFailed((e as Error).message);
      throw e;
    }
    if (dist.group && !dist.group.isMain) return 0;
    if (a.json) {
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
};

const DIST_FLAGS = ['--nproc', '--nnodes', '--node-rank', '--master-addr', '--master-port', '--dist-timeout'];

/** The distributed flags, checked (before any recipe is read). */
export function distFlags(a: CommonArgs): import('../../dist/env.js').DistFlags {
  const timeout = a.values.get('--dist-timeout');
  if (timeout !== undefined && !(Number(timeout) > 0)) throw new UsageError(`--dist-timeout: expected a positive number of seconds, got ${JSON.stringify(timeout)}`);
  const flags = {
    nproc: distInt(a, '--nproc'),
    nnodes: distInt(a, '--nnodes'),
    nodeRank: distInt(a, '--node-rank'),
    masterAddr: a.values.get('--master-addr'),
    masterPort: distInt(a, '--master-port'),
    timeout: timeout === undefined ? undefined : Number(timeout),
  };
  const nnodes = flags.nnodes ?? 1;
  if ((flags.nproc ?? 1) < 1) throw new UsageError('--nproc: expected at least 1');
  if (nnodes > 1 && !flags.masterAddr && !process.env.MASTER_ADDR) throw new UsageError('--master-addr: required with --nnodes > 1 (the address of node 0), or set MASTER_ADDR');
  return flags;
}

function distInt(a: CommonArgs, flag: string): number | undefined {
  const v = a.values.get(flag);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${flag}: expected a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

/**
 * Data parallelism for a training command: with --nproc / --nnodes (and no rank variables) this
 * process becomes the launcher and returns its ranks' exit status in `launched`; in a rank (torchrun
 * variables set) it joins the group and returns the trainer's hooks.
 */
export async function distributed(argv: string[], a: CommonArgs): Promise<{ launched: number | null; group?: import('../../dist/group.js').ProcessGroup; hooks?: import('../../dist/hooks.js').ParallelHooks }> {
  const { launchPlan, rankFromEnv } = await import('../../dist/env.js');
  const flags = distFlags(a);
  let cfg;
  try {
    cfg = rankFromEnv(process.env, flags);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (cfg === null) {
    let plan;
    try {
      plan = launchPlan(flags);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (plan === null) return { launched: null };
    const { launchLocal } = await import('../../dist/launch.js');
    // the ranks run this same command without the launcher's flags
    const rest: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const flag = argv[i]!.split('=')[0]!;
      if (DIST_FLAGS.includes(flag) && flag !== '--dist-timeout') {
        if (!argv[i]!.includes('=')) i++;
        continue;
      }
      rest.push(argv[i]!);
    }
    const r = await launchLocal({ plan, script: process.argv[1]!, args: ['train', ...rest], logDir: join(a.out!, 'logs') });
    return { launched: r.code };
  }
  const { ProcessGroup } = await import('../../dist/group.js');
  const { parallelHooks } = await import('../../dist/hooks.js');
  const group = ProcessGroup.join(cfg);
  return { launched: null, group, hooks: parallelHooks(group) };
}
