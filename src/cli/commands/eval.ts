/** `loaa eval`: metrics of a trained run's checkpoint on one split. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError, type Command } from '../command.js';
import { outputs, parseArgs } from './train.js';

const help = `usage: loaa eval <run dir> [--split test] [--checkpoint best|final] [--data-root PATH]
                 [--workers N] [--device D] [--precision P] [--json]

Evaluates a run's adapter (best/ by default) on a split of the run's dataset, with the run's front
end and normalisation, and prints top-1 / top-5 accuracy, mAP, mean class accuracy, macro AUC, d'
and the loss.

options:
  --split NAME         test (default), validation, train, or any split name of the dataset
                       (fold3, ...); test / validation mean the splits the recipe uses for them
                       (for a k-fold recipe, test is its held-out fold)
  --checkpoint WHICH   best (default) or final
  --data-root PATH     the dataset's location, when it moved since training
  --workers N          data-loading threads (default: the recipe's)
  --device D           cpu, cuda, cuda:N or auto (default: the recipe's train.device)
  --precision P        fp32, bf16, fp16 or auto (default: the recipe's train.precision)
  --json               {"split", "checkpoint", "n", "metrics": {...}, "confusion": [[...]]} on stdout

example:
  loaa eval runs/fsdd_loaa --split test
`;

export const command: Command = {
  name: 'eval',
  summary: 'evaluate a trained run on a split',
  help,
  async run(argv) {
    const a = parseArgs(argv, 'eval', ['--split', '--checkpoint']);
    if (a.positional.length !== 1) throw new UsageError(a.positional.length ? `${a.positional[1]}: one run directory only` : '<run dir>: required');
    const run = resolve(a.positional[0]!);
    const which = a.values.get('--checkpoint') ?? 'best';
    if (which !== 'best' && which !== 'final') throw new UsageError(`--checkpoint: expected best or final, got ${JSON.stringify(which)}`);
    const recipeFile = join(run, 'recipe.json');
    if (!existsSync(recipeFile)) throw new UsageError(`${run}: not a run directory (no recipe.json)`);
    const adapterDir = join(run, which);
    if (!existsSync(join(adapterDir, 'adapter_config.json'))) throw new UsageError(`${adapterDir}: no adapter (has the run finished an epoch?)`);
    const { recipeFromObject } = await import('../../train/recipe.js');
    const trainer = await import('../../train/trainer.js');
    const { DataLoader } = await import('../../data/loader.js');
    const { Classifier } = await import('../../infer/classifier.js');
    const raw = JSON.parse(readFileSync(recipeFile, 'utf8')) as Record<string, unknown>;
    if (a.dataRoot) (raw.data as Record<string, unknown>).root = resolve(a.dataRoot);
    const sets = [...a.set.filter((x) => x.startsWith('train.device=') || x.startsWith('train.precision=')), ...(a.workers !== undefined ? [`data.workers=${a.workers}`] : [])];
    const recipe = recipeFromObject(raw, recipeFile, sets);
    const { log } = outputs(a.json);
    const data = trainer.selectData(recipe, log);
    const want = a.values.get('--split') ?? 'test';
    let clips;
    let splitName = want;
    if (want === 'test' && data.testName !== null) [clips, splitName] = [data.test!, data.testName];
    else if (want === 'validation' && data.validationName !== null) [clips, splitName] = [data.validation!, data.validationName];
    // k-fold recipes (ESC-50): the held-out fold is the test set
    else if (want === 'test' && recipe.data.fold !== null && data.validationName !== null) [clips, splitName] = [data.validation!, data.validationName];
    else if (want === 'train') clips = data.train;
    else clips = data.dataset.splits[want]?.filter((c) => c.label !== -1);
    if (!clips || clips.length === 0) {
      throw new UsageError(`--split: ${data.dataset.name} has no labelled split "${want}" (splits: ${Object.keys(data.dataset.splits).join(', ')})`);
    }
    // the adapter's own front end (type and normalisation included); the recipe's for old adapters without one
    const clf = Classifier.onModel(trainer.buildModel(recipe, data.labels.length).model, adapterDir);
    const fe = recipe.frontend;
    const frontend = clf.frontend ?? { type: fe.type, sampleRate: fe.sample_rate, numMelBins: fe.num_mel_bins, targetLength: fe.target_length };
    const loader = new DataLoader({
      clips,
      numClasses: data.labels.length,
      frontend,
      batchSize: recipe.train.eval_batch_size ?? recipe.train.batch_size,
      workers: recipe.data.workers,
      prefetch: recipe.data.prefetch,
    });
    const model = clf.model;
    const { placeModel, resolveEngine } = await import('../../train/engine.js');
    const engine = resolveEngine(recipe.train.device, recipe.train.precision);
    placeModel(model, engine);
    try {
      const { Progress } = await import('../../train/progress.js');
      const bar = new Progress({ label: `eval ${splitName}`, total: loader.length, stream: a.json ? process.stderr : process.stdout });
      const r = await trainer.evaluateModel(model, loader, { loss: recipe.train.loss, progress: bar, engine, requireFinite: true });
      bar.finish();
      const metrics = trainer.scalarMetrics(r);
      if (a.json) {
        process.stdout.write(JSON.stringify({ run, split: splitName, checkpoint: which, n: r.n, metrics, confusion: r.report?.confusion ?? [] }) + '\n');
      } else {
        const pct = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : (100 * v).toFixed(2) + '%');
        log(`${run} (${which}) on ${splitName}, ${r.n} clips:`);
        log(`  top1 ${pct(metrics.top1)}  top5 ${pct(metrics.top5)}  mAP ${pct(metrics.mAP)}  mean class accuracy ${pct(metrics.meanClassAccuracy)}`);
        log(`  macro AUC ${metrics.macroAUC?.toFixed(4) ?? '-'}  d' ${metrics.dPrime?.toFixed(3) ?? '-'}  loss ${metrics.loss.toFixed(4)}`);
      }
    } finally {
      await loader.close();
      clf.dispose();
    }
    return 0;
  },
};
