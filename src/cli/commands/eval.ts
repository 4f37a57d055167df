/** `loaa eval`: metrics of a trained run's checkpoint on one split. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';
import { ENGINE_FLAGS, engineSets } from '../recipe_flags.js';
import type { WindowSpec } from '../../data/window.js';
import { ENGINE_FLAG, engineUsage } from '../engine_flags.js';

const DESCRIPTION = `Evaluates a run's adapter (best/ by default) on a split of the run's dataset, with the run's front
end and normalisation, and prints top-1 / top-5 accuracy, mAP, mean class accuracy, macro AUC, d'
and the loss. --json prints {"run", "split", "checkpoint", "n", "metrics": {...}, "confusion": [[...]]}.`;

const FLAGS = {
  split: {
    type: 'string',
    value: 'NAME',
    default: 'test',
    help: 'test, validation, train, or any split name of the dataset (fold3, ...); test / validation\nmean the splits the recipe uses for them (for a k-fold recipe, test is its held-out fold)',
  },
  checkpoint: { type: 'string', value: 'WHICH', default: 'best', choices: ['best', 'final'], help: 'the adapter to evaluate' },
  'data-root': { type: 'string', value: 'PATH', help: "the dataset's location, when it moved since training" },
  views: {
    type: 'int',
    min: 1,
    max: 64,
    help: "score each clip as the mean logits of N evenly spaced windows (EPIC-SOUNDS' test\nprotocol: 5); default: the recipe's data.window.test_views for the test split, else 1",
  },
  window: {
    type: 'string',
    value: 'S',
    help: "the window length in seconds for --views (default: data.window.seconds, else the\nfront end's span: target_length frames)",
  },
  ...ENGINE_FLAGS,
  ...ENGINE_FLAG,
} as const;

export const command = defineCommand({
  name: 'eval',
  usage:
    '<run dir> [--split test] [--checkpoint best|final] [--views N [--window S]] [--data-root PATH] [--workers N] [--device D] [--precision P] [--engine E] [--json]',
  description: DESCRIPTION,
  flags: FLAGS,
  examples: ['loaa eval runs/fsdd_loaa --split test', 'loaa eval runs/epic_sounds_loaa --split validation --views 5'],
  async run({ flags, positionals, json, log, stream }) {
    if (positionals.length !== 1)
      throw new UsageError(positionals.length ? `${positionals[1]}: one run directory only` : '<run dir>: required');
    const run = resolve(positionals[0]!);
    const which = flags.checkpoint;
    const recipeFile = join(run, 'recipe.json');
    if (!existsSync(recipeFile)) throw new UsageError(`${run}: not a run directory (no recipe.json)`);
    const adapterDir = join(run, which);
    if (!existsSync(join(adapterDir, 'adapter_config.json')))
      throw new UsageError(`${adapterDir}: no adapter (has the run finished an epoch?)`);
    const { readRunRecipe } = await import('../../train/run_dir.js');
    const trainer = await import('../../train/trainer.js');
    const { DataLoader } = await import('../../data/loader.js');
    const { Classifier } = await import('../../infer/classifier.js');
    const dataRoot = flags['data-root'];
    const recipe = readRunRecipe(run, engineSets(flags), (raw) => {
      if (dataRoot) (raw.data as Record<string, unknown>).root = resolve(dataRoot);
    });
    const data = trainer.selectData(recipe, log);
    const want = flags.split;
    let clips: typeof data.train | undefined;
    let splitName = want;
    if (want === 'test' && data.testName !== null) [clips, splitName] = [data.test!, data.testName];
    else if (want === 'validation' && data.validationName !== null) [clips, splitName] = [data.validation!, data.validationName];
    // k-fold recipes (ESC-50): the held-out fold is the test set
    else if (want === 'test' && recipe.data.fold !== null && data.validationName !== null)
      [clips, splitName] = [data.validation!, data.validationName];
    else if (want === 'train') clips = data.train;
    else clips = data.dataset.splits[want]?.filter((c) => c.label !== -1);
    if (!clips || clips.length === 0) {
      throw new UsageError(
        `--split: ${data.dataset.name} has no labelled split "${want}" (splits: ${Object.keys(data.dataset.splits).join(', ')})`,
      );
    }
    // the adapter's own front end (type and normalisation included); the recipe's for old adapters without one
    const { recipeNames, resolveEngine } = await import('../../tensor/engine.js');
    const { parseInferEngine } = await import('../../infer/engine_choice.js');
    const engine = resolveEngine(recipe.train.device, recipe.train.precision, recipeNames('train'));
    const clf = Classifier.onModel(trainer.buildModel(recipe, data.labels.length).model, adapterDir, engine);
    const fe = recipe.frontend;
    const frontend = clf.frontend ?? {
      type: fe.type,
      sampleRate: fe.sample_rate,
      numMelBins: fe.num_mel_bins,
      targetLength: fe.target_length,
    };
    const window = evalWindow(trainer.windowSpecs(recipe), want === 'test', flags.views, flags.window, frontend);
    const loader = new DataLoader({
      window,
      clips,
      numClasses: data.labels.length,
      frontend,
      batchSize: recipe.train.eval_batch_size ?? recipe.train.batch_size,
      workers: recipe.data.workers,
      prefetch: recipe.data.prefetch,
    });
    const model = clf.model;
    try {
      const onnx =
        (await engineUsage(() =>
          clf.useEngine(parseInferEngine(flags.engine), { names: { engine: '--engine', ...recipeNames('train') } }),
        )) === 'onnx';
      const { Progress } = await import('../../train/progress.js');
      const bar = new Progress({ label: `eval ${splitName}`, total: loader.length, stream });
      const { evaluateSplit } = await import('../../train/eval_split.js');
      const r = await evaluateSplit(model, loader, clips, {
        loss: recipe.train.loss,
        numClasses: data.labels.length,
        progress: bar,
        engine,
        requireFinite: true,
        ...(onnx ? { logits: (x: Float32Array, n: number) => clf.logitsAsync(x, n) } : {}),
      });
      bar.finish();
      const metrics = trainer.scalarMetrics(r);
      if (json) {
        process.stdout.write(
          `${JSON.stringify({ run, split: splitName, checkpoint: which, n: r.n, views: window?.views ?? 1, window: window?.seconds ?? null, metrics, confusion: r.report?.confusion ?? [] })}\n`,
        );
      } else {
        const pct = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : `${(100 * v).toFixed(2)}%`);
        const how = window
          ? `, ${window.views > 1 ? `${window.views} views of` : `one ${window.position} window of`} ${window.seconds} s`
          : '';
        log(`${run} (${which}) on ${splitName}, ${r.n} clips${how}:`);
        log(
          `  top1 ${pct(metrics.top1)}  top5 ${pct(metrics.top5)}  mAP ${pct(metrics.mAP)}  mean class accuracy ${pct(metrics.meanClassAccuracy)}`,
        );
        log(`  macro AUC ${metrics.macroAUC?.toFixed(4) ?? '-'}  d' ${metrics.dPrime?.toFixed(3) ?? '-'}  loss ${metrics.loss.toFixed(4)}`);
      }
    } finally {
      await loader.close();
      clf.dispose();
    }
    return 0;
  },
});

/** The windows of the evaluated clips: the recipe's for the split, or --views N of --window seconds. */
function evalWindow(
  specs: { validation: WindowSpec | null; test: WindowSpec | null },
  isTest: boolean,
  views: number | undefined,
  seconds: string | undefined,
  fe: { type: string; sampleRate: number; targetLength: number },
): WindowSpec | null {
  const own = isTest ? specs.test : specs.validation;
  let s = own?.seconds ?? (fe.type === 'epic' ? (fe.targetLength * 120) / fe.sampleRate : fe.targetLength / 100);
  if (seconds !== undefined) {
    s = Number(seconds);
    if (!(s > 0)) throw new UsageError(`--window: expected a positive number of seconds, got ${JSON.stringify(seconds)}`);
  }
  if (views === undefined) return own && seconds !== undefined ? { ...own, seconds: s } : own;
  if (views === 1 && own === null && seconds === undefined) return null;
  return { seconds: s, position: own?.position ?? 'center', views };
}
