import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkSplits, failIfAny } from './problems.js';
import type { ClipRef, Dataset, ReaderOptions } from './types.js';

export const FSDD_SAMPLE_RATE = 8000;

export interface FsddOptions extends ReaderOptions {
  /** `index5-9` carves recordings 5-9 of every digit and speaker out of training as validation. */
  validation?: 'none' | 'index5-9';
}

const NAME = /^(\d)_([^_]+)_(\d+)\.wav$/i;

/**
 * Free Spoken Digit Dataset: `{digit}_{speaker}_{index}.wav`, 8 kHz. The official split puts
 * indices 0-4 in `test` and the rest in `train`. Labels `'0'`..`'9'`; clips sorted by digit,
 * speaker, index.
 */
export function readFsdd(root: string, opts: FsddOptions = {}): Dataset {
  const validation = opts.validation ?? 'none';
  if (validation !== 'none' && validation !== 'index5-9') {
    throw new Error(`validation: expected 'none' or 'index5-9', got ${String(validation)}`);
  }
  if (!existsSync(root)) throw new Error(`${root}: FSDD recordings folder not found`);
  const wavs = readdirSync(root)
    .filter((f) => f.toLowerCase().endsWith('.wav'))
    .sort();
  failIfAny(
    root,
    'WAV files not named {digit}_{speaker}_{index}.wav',
    wavs.filter((f) => !NAME.test(f)),
  );
  const parsed = wavs.map((f) => {
    const m = NAME.exec(f)!;
    return { f, digit: Number(m[1]), speaker: m[2]!, index: Number(m[3]) };
  });
  parsed.sort((a, b) => a.digit - b.digit || (a.speaker < b.speaker ? -1 : a.speaker > b.speaker ? 1 : 0) || a.index - b.index);
  const splits: Record<string, ClipRef[]> = validation === 'none' ? { train: [], test: [] } : { train: [], validation: [], test: [] };
  for (const p of parsed) {
    const split = p.index <= 4 ? 'test' : validation === 'index5-9' && p.index <= 9 ? 'validation' : 'train';
    splits[split]!.push({ id: p.f.replace(/\.wav$/i, ''), path: join(root, p.f), label: p.digit, dataset: 'fsdd', source: p.speaker });
  }
  checkSplits(root, splits);
  return {
    name: 'fsdd',
    labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    multiLabel: false,
    splits,
    sampleRate: FSDD_SAMPLE_RATE,
    skipped: { count: 0, examples: [] },
  };
}
