/** Tiny data and recipes for the training tests: a few short WAVs and a one-block DeiT-tiny AST. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSyntheticSet, synthClip } from '../../src/data/synthetic.js';
import { Rng } from '../../src/audio/rng.js';
import { encodeWav } from '../../src/audio/wav.js';

/** root/{train,validation,test}/<class>/*.wav: 3 classes, 0.4 s at 8 kHz. */
export function tinySet(root: string, perClass = { train: 6, validation: 2, test: 2 }): string {
  writeSyntheticSet(root, { classes: 3, perClass, rate: 8000, seconds: 0.4, seed: 1 });
  return root;
}

/** A manifest with splits fold1..foldK (cross-validation). */
export function tinyFolds(root: string, folds = 3, perClassPerFold = 2): string {
  const rng = new Rng(7);
  const lines = ['path,label,split'];
  for (let f = 1; f <= folds; f++) {
    for (let c = 0; c < 3; c++) {
      for (let k = 0; k < perClassPerFold; k++) {
        const rel = `audio/${f}_${c}_${k}.wav`;
        mkdirSync(join(root, 'audio'), { recursive: true });
        writeFileSync(join(root, rel), encodeWav({ sampleRate: 8000, channels: [synthClip(c, rng, 8000, 0.4)] }));
        lines.push(`${rel},c${c},fold${f}`);
      }
    }
  }
  writeFileSync(join(root, 'manifest.csv'), `${lines.join('\n')}\n`);
  return root;
}

/** A recipe object for recipeFromObject (or YAML via JSON, which YAML reads). */
export function tinyRecipe(dataRoot: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    name: 'tiny',
    seed: 3,
    data: { type: 'folder', root: dataRoot, workers: 0 },
    frontend: { num_mel_bins: 32, target_length: 64, mean: -5, std: 4 },
    augment: { freqm: 4, timem: 8 },
    model: { arch: 'deit_tiny_distilled_patch16_224', backbone: 'random', depth: 1 },
    peft: {
      method: 'loaa',
      adapters: [
        { position: 'attn', kernel: [1, 3], bottleneck: 4 },
        { position: 'ffn', kernel: [3, 1], bottleneck: 4 },
      ],
    },
    optim: { name: 'adam', lr: 1e-3 },
    train: { epochs: 2, batch_size: 4, log_every: 100 },
  };
  return merge(base, over);
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
