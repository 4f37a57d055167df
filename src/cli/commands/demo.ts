/**
 * `loaa demo` (`npm run demo`): LoAA, the parallel adapter and a linear probe trained briefly on a
 * small audio set, compared in a table; then the LoAA adapter classifies one clip. Offline, a few
 * minutes on 2 cores: FSDD when it is found, otherwise a synthetic set made on the spot; a small
 * DeiT geometry, pretrained when the weights were pulled, else from random initialisation.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';

const ARCH = 'deit_tiny_distilled_patch16_224';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir);
  return dir;
}

const DEFAULT_FSDD = '../shared/data/fsdd/recordings';

const FLAGS = {
  data: {
    type: 'string',
    value: 'PATH',
    help: `FSDD recordings folder (default ${DEFAULT_FSDD} relative to the repository,\nelse the copy \`loaa pull fsdd\` put in $LOAA_HOME/datasets/fsdd)`,
  },
  synthetic: { type: 'boolean', help: 'use the synthetic set even when FSDD is there' },
  out: { type: 'string', value: 'DIR', default: 'runs/demo', help: 'where the runs go' },
  epochs: { type: 'int', min: 1, max: 1000, help: 'epochs per method (default 5; 2 with --quick)' },
  'train-clips': { type: 'int', min: 1, max: 1_000_000, help: 'training clips (default 800, batch 32; validation and test 150 each)' },
  quick: { type: 'boolean', help: 'a few seconds: 2 epochs on a handful of clips, 2 blocks (a smoke test)' },
} as const;

const DESCRIPTION = `Trains three ways of adapting an audio spectrogram transformer (AST) briefly and compares them:
  loaa      Look-Aside Adapters: attn 1x3 (time) + ffn 3x1 (frequency) convolutions, r=36
  adapter   the plain parallel adapter (1x1) at the same parameter count (r=108)
  linear    a linear probe (only the head trains)
then writes the LoAA adapter and classifies one test clip with it.

Data: the Free Spoken Digit Dataset when found (--data; else ${DEFAULT_FSDD} beside the repository;
else the copy \`loaa pull fsdd\` downloaded), otherwise (or with --synthetic) a synthetic set of tones,
chirps, noise bursts and clicks. The demo says which it used. Backbone: ${ARCH}'s geometry, with the ImageNet weights
when \`loaa pull ${ARCH}\` has fetched them into $LOAA_HOME, else random initialisation (the demo says which).`;

interface Row {
  method: string;
  trainable: number;
  total: number;
  valTop1: number | null;
  testTop1: number | null;
  seconds: number;
  dir: string;
}

export const command = defineCommand({
  name: 'demo',
  usage: '[--data PATH | --synthetic] [--out DIR] [--epochs N] [--train-clips N] [--quick] [--json]',
  description: DESCRIPTION,
  flags: FLAGS,
  optionsOnly: 'loaa demo takes only options',
  examples: ['npm run demo', 'loaa demo --synthetic --epochs 3'],
  async run({ flags, json, log, stream }) {
    const dataArg = flags.data;
    const synthetic = flags.synthetic;
    const outArg = flags.out;
    const epochs = flags.epochs;
    const trainClips = flags['train-clips'];
    const quick = flags.quick;
    if (!outArg) throw new UsageError('--out: a directory is required');
    const t0 = performance.now();
    const out = resolve(outArg);

    const { recipeFromObject } = await import('../../train/recipe.js');
    const trainer = await import('../../train/trainer.js');
    const { backbonePath } = await import('../../models/pull.js');
    const { writeSyntheticSet } = await import('../../data/synthetic.js');
    const { pulledDataset } = await import('../../models/datasets.js');

    // ---- data
    if (dataArg !== undefined && !synthetic && !existsSync(resolve(dataArg)))
      throw new UsageError(`--data: ${resolve(dataArg)}: no such folder`);
    const found = synthetic ? null : findFsdd(dataArg, pulledDataset('fsdd'));
    const fsdd = found?.dir ?? '';
    const useFsdd = found !== null;
    mkdirSync(out, { recursive: true });
    let data: Record<string, unknown>;
    let what: string;
    const nTrain = trainClips ?? (quick ? 24 : 800);
    const nEval = quick ? 12 : 150;
    if (useFsdd) {
      data = { type: 'fsdd', root: fsdd, options: { validation: 'index5-9' }, train_limit: nTrain, eval_limit: nEval };
      what = `FSDD (${fsdd}, ${found!.from}): spoken digits 0-9, ${nTrain} training clips, ${nEval} validation and ${nEval} test clips`;
    } else {
      const root = join(out, 'synthetic-data');
      if (!existsSync(join(root, 'test'))) {
        rmSync(root, { recursive: true, force: true });
        const perClass = quick ? { train: 4, validation: 2, test: 2 } : { train: Math.ceil(nTrain / 6), validation: 25, test: 25 };
        writeSyntheticSet(root, { perClass, seed: 0 });
      }
      data = { type: 'folder', root, train_limit: nTrain };
      what = `synthetic set (${root}): 6 classes of tones, chirps, noise bursts and clicks`;
    }
    const pretrained = existsSync(backbonePath(ARCH));
    log(`loaa demo`);
    log(`  data:     ${what}`);
    log(
      `  backbone: ${ARCH} geometry, ${pretrained ? `ImageNet weights from ${backbonePath(ARCH)}` : `random initialisation (no pretrained weights: \`loaa pull ${ARCH}\` fetches them)`}`,
    );

    const base: Record<string, unknown> = {
      seed: 0,
      data: { ...data, workers: 2 },
      frontend: { target_length: quick ? 64 : 128, mean: 'auto', std: 'auto' } as Record<string, unknown>,
      model: { arch: ARCH, backbone: pretrained ? 'pretrained' : 'random', ...(quick ? { depth: 2 } : {}) },
      optim: { name: 'adam', lr: 5e-4 },
      train: { epochs: epochs ?? (quick ? 2 : 5), batch_size: quick ? 8 : 32, log_every: 5 },
    };
    const methods: [string, Record<string, unknown>][] = [
      [
        'loaa',
        {
          method: 'loaa',
          adapters: [
            { position: 'attn', kernel: [1, 3], bottleneck: 36 },
            { position: 'ffn', kernel: [3, 1], bottleneck: 36 },
          ],
        },
      ],
      [
        'adapter',
        {
          method: 'adapter',
          adapters: [
            { position: 'attn', kernel: [1, 1], bottleneck: 108 },
            { position: 'ffn', kernel: [1, 1], bottleneck: 108 },
          ],
        },
      ],
      ['linear', { method: 'linear' }],
    ];

    // the statistics once, shared by the three runs
    const probe = recipeFromObject({ ...base, peft: { method: 'linear' } }, 'demo');
    const runData = trainer.selectData(probe);
    const fe = await trainer.resolveFrontend(probe, runData.train, { out, workers: 2, log });
    base.frontend = { ...(base.frontend as Record<string, unknown>), mean: fe.mean, std: fe.std };

    const rows: Row[] = [];
    for (const [name, peft] of methods) {
      const dir = join(out, name);
      if (existsSync(join(dir, 'recipe.json'))) rmSync(dir, { recursive: true, force: true }); // an earlier demo's
      log(`\n== ${name} ==`);
      const recipe = recipeFromObject({ ...base, name: `demo_${name}`, peft }, `demo (${name})`);
      const t = performance.now();
      const r = await trainer.train({ recipe, out: dir, log, progress: { stream } });
      rows.push({
        method: name,
        trainable: r.params.trainable,
        total: r.params.total,
        valTop1: r.best?.metrics?.top1 ?? null,
        testTop1: r.test?.metrics.top1 ?? null,
        seconds: (performance.now() - t) / 1000,
        dir,
      });
    }

    const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(1)}%`);
    const table = [
      '',
      `method    trainable params   validation top-1 (best)   test top-1   time`,
      ...rows.map(
        (r) =>
          `${r.method.padEnd(8)}  ${r.trainable.toLocaleString('en-US').padStart(16)}   ${pct(r.valTop1).padStart(23)}   ${pct(r.testTop1).padStart(10)}   ${r.seconds.toFixed(0).padStart(3)} s`,
      ),
    ];
    log(table.join('\n'));

    // ---- the LoAA adapter classifies one clip
    const adapterDir = join(out, 'loaa', 'best');
    const clip = (runData.test ?? runData.validation ?? runData.train)[0]!;
    const prediction = await classify(adapterDir, clip.path, probe, runData.labels.length);
    log(`\nLoAA adapter: ${adapterDir}`);
    log(`classifying ${clip.path} (label: ${runData.labels[clip.label as number]}):`);
    for (const p of prediction) log(`  ${p.label.padEnd(12)} ${(100 * p.score).toFixed(1)}%`);
    const seconds = (performance.now() - t0) / 1000;
    log(`\ndemo finished in ${seconds.toFixed(0)} s`);
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ data: useFsdd ? 'fsdd' : 'synthetic', ...(found ? { data_dir: found.dir, data_source: found.source } : {}), backbone: pretrained ? 'pretrained' : 'random', runs: rows, adapter: adapterDir, prediction: { input: clip.path, label: runData.labels[clip.label as number], top: prediction }, seconds })}\n`,
      );
    }
    return 0;
  },
});

const hasWavs = (dir: string): boolean => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.wav'));

/**
 * Where the demo's FSDD comes from, in order: `--data`, the copy beside the repository, the
 * `loaa pull fsdd` cache; null when none holds WAVs (the synthetic set then).
 */
export function findFsdd(
  dataArg: string | undefined,
  pulled: string | null,
  beside: string = resolve(repoRoot(), DEFAULT_FSDD),
): { dir: string; source: 'data' | 'repository' | 'pulled'; from: string } | null {
  if (dataArg !== undefined) {
    const dir = resolve(dataArg);
    return hasWavs(dir) ? { dir, source: 'data', from: 'from --data' } : null;
  }
  if (hasWavs(beside)) return { dir: beside, source: 'repository', from: 'found beside the repository' };
  if (pulled && hasWavs(pulled)) return { dir: pulled, source: 'pulled', from: 'downloaded by `loaa pull fsdd`' };
  return null;
}

/** Top-3 labels of one audio file with an adapter directory (the front end from its config). */
async function classify(
  adapterDir: string,
  file: string,
  recipe: import('../../train/recipe.js').Recipe,
  numClasses: number,
): Promise<{ label: string; score: number }[]> {
  const { Classifier } = await import('../../infer/classifier.js');
  const trainer = await import('../../train/trainer.js');
  const clf = Classifier.onModel(trainer.buildModel(recipe, numClasses).model, adapterDir);
  try {
    return (await clf.classifyFile(file, 3)).top;
  } finally {
    clf.dispose();
  }
}
