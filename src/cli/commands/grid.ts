/** `loaa grid`: an experiment grid as a resumable queue of `loaa train` runs. */
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';

const DESCRIPTION = `Runs an experiment grid: the cross product of the grid file's axes (datasets x methods x kernels x
positions x budgets x folds x seeds ...), each value a set of recipe overrides on the base recipe,
every run as "loaa train" in its own directory <out>/<axis>=<value>__... (recipe.json, metrics.jsonl,
results.json, best/, train.log, grid_run.json).

Resumable: a run with results.json is never repeated; a run that started and did not finish is
continued from its last checkpoint (loaa train --resume); run the same command again after a crash
or a Ctrl-C. Two "loaa grid" processes on the same grid share the work (a run being trained by one
is skipped by the other). Failed runs are listed at the end and retried by the next invocation.
--json prints one JSON object (the runs and their states, or the summary) on stdout.

Then: loaa report <out> --out <report dir> (tables from the grid file's "report" section).
Grid file: see grids/*.yaml and the comment at the top of src/train/grid.ts.`;

const FLAGS = {
  out: { type: 'string', value: 'DIR', help: 'where the runs go (default: the grid file\'s "out", else runs/<grid name>)' },
  jobs: {
    type: 'int',
    min: 1,
    max: 256,
    help: 'runs at once, each a child process with its share of the cores\n(default: the grid file\'s "jobs", else 1)',
  },
  set: { type: 'list', value: 'KEY=VALUE', help: "an override for every run (after the grid's own)" },
  'dry-run': {
    type: 'boolean',
    help: 'list the runs with their trainable parameters and share (no data or weights needed),\ntheir state (done / pending / interrupted / running) and the train command of each,\nand run nothing',
  },
} as const;

export const command = defineCommand({
  name: 'grid',
  usage: '<grid.yaml> [--jobs N] [--out DIR] [--set key=value ...] [--dry-run] [--json]',
  description: DESCRIPTION,
  flags: FLAGS,
  examples: ['loaa grid grids/fsdd_small.yaml --jobs 2', 'loaa grid grids/paper_table1.yaml --dry-run'],
  async run({ flags, positionals, json, log: say }) {
    if (positionals.length !== 1)
      throw new UsageError(positionals.length ? `${positionals[1]}: one grid file at a time` : '<grid.yaml>: missing grid file');
    const sets = flags.set;
    for (const s of sets) if (!/^[^=]+=/.test(s)) throw new UsageError(`--set ${s}: expected key.path=value`);
    const { readGrid, planGrid, GridError } = await import('../../train/grid.js');
    const { runGrid, gridStates, trainArgs } = await import('../../train/grid_run.js');
    const { resolve, relative } = await import('node:path');
    const load = async () => {
      try {
        const g = readGrid(positionals[0]!);
        const out = resolve(flags.out ?? g.out ?? `runs/${g.name}`);
        return { grid: g, outDir: out, runs: await planGrid(g, out, sets) };
      } catch (e) {
        if (e instanceof GridError) throw new UsageError(e.message);
        throw e;
      }
    };
    const { grid, outDir, runs } = await load();
    const rel = (p: string): string => {
      const r = relative(process.cwd(), p);
      return r.startsWith('..') ? p : r || '.';
    };

    if (flags['dry-run']) {
      const states = gridStates(runs);
      // parameter counts from the configs alone (src/train/grid_plan.ts): no data, no weights
      const { countGrid, formatGridCounts } = await import('../../train/grid_plan.js');
      const counts = countGrid(runs);
      if (json) {
        process.stdout.write(
          `${JSON.stringify({ grid: grid.name, out: outDir, runs: states.map(({ run, state }, i) => ({ id: run.id, dir: run.dir, axes: run.axes, state, trainable: counts[i]!.counts.trainable, total: counts[i]!.counts.total, share: counts[i]!.share, paper_share: counts[i]!.paperShare, command: ['loaa', ...trainArgs({ run, resume: state === 'interrupted' })] })) })}\n`,
        );
      } else {
        say(formatGridCounts(grid, counts));
        say("(share: trainable / total as built; paper share: trainable / 87,630,032 (the ImageNet DeiT-B/384), the paper's convention)\n");
        const count = (s: string): number => states.filter((x) => x.state === s).length;
        say(
          `${grid.name}: ${runs.length} runs (${grid.axes.map((x) => `${x.values.length} ${x.name}`).join(' x ')}${grid.exclude.length ? ', some excluded' : ''}) in ${rel(outDir)}`,
        );
        say(
          `  ${count('done')} done, ${count('pending')} pending, ${count('interrupted')} interrupted, ${count('running')} running elsewhere`,
        );
        for (const { run, state } of states) {
          say(`${state.padEnd(11)} ${run.id}`);
          if (state !== 'done')
            say(
              `            loaa ${trainArgs({ run, base: rel(run.base), resume: state === 'interrupted' })
                .map((x) => (/[\s"'{}[\],]/.test(x) ? `'${x}'` : x))
                .join(' ')
                .replace(run.dir, rel(run.dir))}`,
            );
        }
      }
      return 0;
    }

    const ac = new AbortController();
    let interrupted = false;
    const onSignal = (): void => {
      if (interrupted) return;
      interrupted = true;
      say('loaa grid: stopping (the runs in progress are stopped and will resume next time)');
      ac.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const width = String(runs.length).length;
    let summary: Awaited<ReturnType<typeof runGrid>>;
    try {
      summary = await runGrid(grid, runs, {
        out: outDir,
        jobs: flags.jobs,
        signal: ac.signal,
        onEvent: (e) => {
          const pos = `[${String(e.index).padStart(width)}/${e.total}]`;
          if (e.kind === 'start') say(`${pos} ${e.resume ? 'resume' : 'start '} ${e.run.id}  (log: ${rel(e.run.dir)}/train.log)`);
          else if (e.kind === 'done') say(`${pos} done   ${e.run.id}  ${(e.seconds! / 60).toFixed(1)} min`);
          else if (e.kind === 'fail')
            say(
              `${pos} FAILED ${e.run.id}  exit ${e.code} after ${(e.seconds! / 60).toFixed(1)} min; last lines of ${rel(e.run.dir)}/train.log:\n${e
                .tail!.split('\n')
                .map((l) => `      | ${l}`)
                .join('\n')}`,
            );
          else if (e.kind === 'busy') say(`${' '.repeat(pos.length)} busy   ${e.run.id}  (another loaa grid is training it)`);
        },
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const left = summary.left;
    say(
      `${grid.name}: ${summary.skipped} already done, ${summary.done} finished now, ${summary.failed.length} failed${summary.busy.length ? `, ${summary.busy.length} running elsewhere` : ''}${left ? `, ${left} not started` : ''} (of ${summary.total}); status: ${rel(outDir)}/grid_status.json`,
    );
    if (summary.failed.length)
      say(`failed (run the same command again to retry them):\n${summary.failed.map((id) => `  ${id}`).join('\n')}`);
    if (json) process.stdout.write(`${JSON.stringify({ grid: grid.name, out: outDir, ...summary })}\n`);
    if (interrupted) return 130;
    return summary.failed.length ? 1 : 0;
  },
});
