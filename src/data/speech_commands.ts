import { existsSync, readdirSync } from 'node:fs';
import { readRegularText } from '../util/fs.js';
import { join } from 'node:path';
import { checkSplits, failIfAny, keepExisting, SkipLog } from './problems.js';
import type { ClipRef, Dataset, ReaderOptions } from './types.js';
import { wavInfo } from './wav_info.js';

export const SPEECH_COMMANDS_SAMPLE_RATE = 16000;
export const SPEECH_COMMANDS_WORDS_12 = ['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go'] as const;
export const UNKNOWN_WORD = '_unknown_';
export const SILENCE = '_silence_';
const BACKGROUND = '_background_noise_';

export interface SpeechCommandsOptions extends ReaderOptions {
  /** 35 words (default), or the 12-class task: 10 words + `_unknown_` + `_silence_`. */
  classes?: 35 | 12;
  /** 12-class: silence clips per split, as a fraction of the split's 10-word clips (default 0.1, as TensorFlow's recipe). */
  silenceFraction?: number;
  /** 12-class: keep this fraction (of the 10-word clips) of `_unknown_` clips per split, evenly spaced; default all. */
  unknownFraction?: number;
}

/**
 * Speech Commands V2: one folder per word, `validation_list.txt` and `testing_list.txt` (lines
 * `word/file.wav`), training = every other clip; `_background_noise_` is not a class. Splits
 * `train`, `validation`, `test`; clips sorted by id (`word/file.wav`).
 *
 * 12-class silence clips are 1-second windows of the background-noise files: each file's first 80%
 * serves training, the next 10% validation, the last 10% test (no audio shared between splits); a
 * split's windows are spread evenly over its part of all files, so the list is deterministic.
 */
export function readSpeechCommands(root: string, opts: SpeechCommandsOptions = {}): Dataset {
  const classes = opts.classes ?? 35;
  if (classes !== 35 && classes !== 12) throw new Error(`classes: expected 35 or 12, got ${String(classes)}`);
  if (!existsSync(root)) throw new Error(`${root}: Speech Commands folder not found`);
  const lists = { validation: join(root, 'validation_list.txt'), test: join(root, 'testing_list.txt') };
  failIfAny(
    root,
    'missing list files',
    Object.values(lists).filter((p) => !existsSync(p)),
  );

  const entries = readdirSync(root, { withFileTypes: true });
  const words = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('_') && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  if (words.length === 0) throw new Error(`${root}: no word folders`);
  const wordSet = new Set(words);

  let labels: string[];
  let labelOf: (word: string) => number;
  if (classes === 35) {
    labels = words;
    const idx = new Map(words.map((w, i) => [w, i]));
    labelOf = (w) => idx.get(w)!;
  } else {
    failIfAny(
      root,
      'word folders missing for the 12-class task',
      SPEECH_COMMANDS_WORDS_12.filter((w) => !wordSet.has(w)),
    );
    labels = [...SPEECH_COMMANDS_WORDS_12, UNKNOWN_WORD, SILENCE];
    const idx = new Map<string, number>(SPEECH_COMMANDS_WORDS_12.map((w, i) => [w, i]));
    labelOf = (w) => idx.get(w) ?? 10;
  }

  const clip = (id: string): ClipRef => ({
    id,
    path: join(root, id),
    label: labelOf(id.slice(0, id.indexOf('/'))),
    dataset: 'speechcommands',
  });
  const listed = new Map<string, 'validation' | 'test'>();
  const both: string[] = [];
  for (const split of ['validation', 'test'] as const) {
    const path = lists[split];
    const ids = readRegularText(path, 'split list')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '');
    failIfAny(
      path,
      'entries name no word folder',
      ids.filter((id) => !wordSet.has(id.split('/')[0]!) || !id.includes('/')),
    );
    for (const id of ids) {
      if (listed.has(id) && listed.get(id) !== split) both.push(id);
      listed.set(id, split);
    }
  }
  failIfAny(root, 'clips listed for both validation and testing', both);

  const splitIds: Record<'train' | 'validation' | 'test', string[]> = { train: [], validation: [], test: [] };
  for (const w of words) {
    for (const f of readdirSync(join(root, w))) {
      if (!f.toLowerCase().endsWith('.wav')) continue;
      const id = `${w}/${f}`;
      if (!listed.has(id)) splitIds.train.push(id);
    }
  }
  for (const [id, split] of listed) splitIds[split].push(id);

  const log = new SkipLog();
  const splits: Record<string, ClipRef[]> = {};
  for (const name of ['train', 'validation', 'test'] as const) {
    const ids = splitIds[name].sort();
    // listed clips may be missing; folder clips exist
    const fromList = ids.filter((id) => listed.has(id)).map(clip);
    const kept = new Set(keepExisting(lists[name === 'test' ? 'test' : 'validation'], fromList, opts, log).map((c) => c.id));
    splits[name] = ids.filter((id) => !listed.has(id) || kept.has(id)).map(clip);
  }

  if (classes === 12) {
    const silenceFraction = opts.silenceFraction ?? 0.1;
    checkFraction('silenceFraction', silenceFraction);
    if (opts.unknownFraction !== undefined) checkFraction('unknownFraction', opts.unknownFraction);
    const bounds = { train: [0, 0.8], validation: [0.8, 0.9], test: [0.9, 1] } as const;
    const noise = silenceFraction > 0 ? backgroundFiles(root) : [];
    for (const name of ['train', 'validation', 'test'] as const) {
      const known = splits[name]!.filter((c) => (c.label as number) < 10);
      let unknown = splits[name]!.filter((c) => c.label === 10);
      if (opts.unknownFraction !== undefined) unknown = evenly(unknown, Math.ceil(opts.unknownFraction * known.length));
      const count = Math.ceil(silenceFraction * known.length);
      const silence = count > 0 ? silenceClips(root, noise, name, count, bounds[name][0], bounds[name][1]) : [];
      splits[name] = [...known, ...unknown].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).concat(silence);
    }
  }
  checkSplits(root, splits);
  return {
    name: classes === 12 ? 'speechcommands12' : 'speechcommands',
    labels,
    multiLabel: false,
    splits,
    sampleRate: SPEECH_COMMANDS_SAMPLE_RATE,
    skipped: log.result,
  };
}

function checkFraction(name: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0)) throw new Error(`${name}: expected a non-negative number, got ${v}`);
}

/** `count` items spread evenly over the list (all of them when count >= length). */
function evenly<T>(items: T[], count: number): T[] {
  if (count >= items.length) return items;
  const out: T[] = [];
  for (let k = 0; k < count; k++) out.push(items[Math.floor(((k + 0.5) * items.length) / count)]!);
  return out;
}

interface Noise {
  name: string;
  path: string;
  sampleRate: number;
  frames: number;
}

function backgroundFiles(root: string): Noise[] {
  const dir = join(root, BACKGROUND);
  if (!existsSync(dir)) throw new Error(`${dir}: not found, needed for the 12-class task's ${SILENCE} clips (or pass silenceFraction: 0)`);
  const names = readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith('.wav'))
    .sort();
  if (names.length === 0) throw new Error(`${dir}: no WAV files for the ${SILENCE} clips`);
  return names.map((name) => {
    const path = join(dir, name);
    const info = wavInfo(path);
    return { name, path, sampleRate: info.sampleRate, frames: info.frames };
  });
}

/** `count` one-second windows spread evenly over the `[lo, hi)` fraction of every noise file. */
function silenceClips(root: string, noise: Noise[], split: string, count: number, lo: number, hi: number): ClipRef[] {
  // each file contributes its possible window starts; the windows index into their concatenation
  const parts = noise.map((f) => {
    const from = Math.floor(lo * f.frames);
    const to = Math.floor(hi * f.frames);
    const win = f.sampleRate;
    return { f, from, win, starts: Math.max(0, to - from - win + 1) };
  });
  const total = parts.reduce((a, p) => a + p.starts, 0);
  if (total === 0) {
    throw new Error(`${join(root, BACKGROUND)}: no file has a 1-second window in its ${split} part (${lo * 100}-${hi * 100}%)`);
  }
  const out: ClipRef[] = [];
  for (let k = 0; k < count; k++) {
    let pos = Math.floor(((k + 0.5) * total) / count);
    let p = 0;
    while (pos >= parts[p]!.starts) pos -= parts[p++]!.starts;
    const { f, from, win } = parts[p]!;
    const start = from + pos;
    out.push({
      id: `${SILENCE}/${split}/${k}`,
      path: f.path,
      label: 11,
      start,
      end: start + win,
      dataset: 'speechcommands',
      source: `${BACKGROUND}/${f.name}`,
    });
  }
  return out;
}
