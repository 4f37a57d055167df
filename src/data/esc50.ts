import { join, basename } from 'node:path';
import { readCsv, parseIndex } from './csv.js';
import { failIfAny, keepExisting, checkSplits, SkipLog } from './problems.js';
import type { ClipRef, Dataset, ReaderOptions } from './types.js';

export interface Esc50Options extends ReaderOptions {
  /** The ESC-10 subset, its 10 classes re-indexed 0..9 in the order of their ESC-50 targets. */
  esc10?: boolean;
  /** Metadata CSV (default `root/meta/esc50.csv`). */
  meta?: string;
  /** Audio folder (default `root/audio`). */
  audioDir?: string;
}

export const ESC50_SAMPLE_RATE = 44100;

/**
 * ESC-50: `root/audio/*.wav` + `root/meta/esc50.csv`; splits `fold1`..`fold5` from the CSV's fold
 * column. The header is `filename,fold,target,category,...`, or in some copies
 * `filename,fold,category,category_name,...` (numeric `category`, name in `category_name`).
 */
export function readEsc50(root: string, opts: Esc50Options = {}): Dataset {
  const meta = opts.meta ?? join(root, 'meta', 'esc50.csv');
  const audioDir = opts.audioDir ?? join(root, 'audio');
  const table = readCsv(meta, ['filename', 'fold']);
  const h = table.header;
  let idxCol: string;
  let nameCol: string;
  if (h.includes('target') && h.includes('category')) {
    idxCol = 'target';
    nameCol = 'category';
  } else if (h.includes('category') && h.includes('category_name')) {
    idxCol = 'category';
    nameCol = 'category_name';
  } else {
    throw new Error(`${meta}: expected columns target,category or category,category_name (header: ${h.join(',')})`);
  }
  if (opts.esc10 && !h.includes('esc10')) throw new Error(`${meta}: no esc10 column, needed for the ESC-10 subset`);

  const bad: string[] = [];
  const names = new Map<number, string>();
  const conflicts: string[] = [];
  interface Row {
    file: string;
    fold: number;
    target: number;
    src?: string;
  }
  const rows: Row[] = [];
  table.rows.forEach((r, k) => {
    const line = table.lines[k];
    const fold = parseIndex(r.fold);
    const target = parseIndex(r[idxCol]);
    const name = (r[nameCol] ?? '').trim();
    const file = (r.filename ?? '').trim();
    if (!file || fold === undefined || fold < 1 || target === undefined || !name) {
      bad.push(`line ${line} (${file || 'no filename'})`);
      return;
    }
    const prev = names.get(target);
    if (prev === undefined) names.set(target, name);
    else if (prev !== name) conflicts.push(`${idxCol} ${target} is both ${prev} and ${name} (line ${line})`);
    if (opts.esc10 && !/^(true|1)$/i.test((r.esc10 ?? '').trim())) return;
    rows.push({ file, fold, target, src: r.src_file?.trim() || undefined });
  });
  failIfAny(meta, 'rows without a filename, a fold >= 1, an integer class and a class name', bad);
  failIfAny(meta, 'class indices with two names', conflicts);

  // Labels ordered by target index; gaps mean a class has no name.
  const used = opts.esc10 ? [...new Set(rows.map((r) => r.target))].sort((a, b) => a - b) : [...names.keys()].sort((a, b) => a - b);
  if (!opts.esc10) {
    const gaps: string[] = [];
    for (let i = 0; i < used.length; i++) if (!names.has(i)) gaps.push(String(i));
    failIfAny(meta, `class indices missing below the largest (${used[used.length - 1]})`, gaps);
  }
  const remap = new Map(used.map((t, i) => [t, i]));
  const labels = used.map((t) => names.get(t)!);

  const dataset = opts.esc10 ? 'esc10' : 'esc50';
  const folds = new Map<ClipRef, number>();
  const clips = rows.map((r) => {
    const clip: ClipRef = { id: basename(r.file), path: join(audioDir, r.file), label: remap.get(r.target)!, dataset };
    if (r.src) clip.source = r.src;
    folds.set(clip, r.fold);
    return clip;
  });
  const log = new SkipLog();
  const kept = keepExisting(audioDir, clips, opts, log);
  const splits: Record<string, ClipRef[]> = {};
  for (const f of [...new Set(rows.map((r) => r.fold))].sort((a, b) => a - b)) splits[`fold${f}`] = [];
  for (const c of kept) splits[`fold${folds.get(c)}`]!.push(c);
  checkSplits(meta, splits);
  return { name: dataset, labels, multiLabel: false, splits, sampleRate: ESC50_SAMPLE_RATE, skipped: log.result };
}
