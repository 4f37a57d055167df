import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { checkSplits, naturalCompare } from './problems.js';
import type { ClipRef, Dataset, ReaderOptions } from './types.js';

export const AUDIO_EXTENSIONS = ['.wav', '.flac', '.ogg', '.mp3'];
/** Folder names taken as splits when they are all `root` holds. */
export const SPLIT_DIR_NAMES = ['train', 'training', 'val', 'valid', 'validation', 'dev', 'test', 'testing', 'eval'];

export interface FolderOptions extends ReaderOptions {
  /** File endings counted as audio (default `.wav .flac .ogg .mp3`). */
  extensions?: string[];
  /** Class names in index order; default: the folder names, sorted naturally ("2" before "10"). */
  labels?: string[];
}

/**
 * A folder per class (`root/<class>/**`), or a folder per split of those (`root/train/<class>/...`,
 * recognised when every folder in `root` has a split name). Without split folders everything is
 * split `all`. Ids are paths relative to `root` with `/` separators.
 */
export function readFolderDataset(root: string, opts: FolderOptions = {}): Dataset {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`${root}: not a folder`);
  const exts = (opts.extensions ?? AUDIO_EXTENSIONS).map((e) => (e.startsWith('.') ? e : `.${e}`).toLowerCase());
  const dirs = subdirs(root);
  if (dirs.length === 0) throw new Error(`${root}: no class folders`);
  const splitDirs = dirs.every((d) => SPLIT_DIR_NAMES.includes(d.toLowerCase()));
  const splitRoots: [string, string][] = splitDirs ? dirs.map((d) => [d, join(root, d)]) : [['all', root]];

  const found = new Map<string, { cls: string; path: string }[]>();
  const classNames = new Set<string>();
  for (const [split, dir] of splitRoots) {
    const items: { cls: string; path: string }[] = [];
    for (const cls of subdirs(dir)) {
      classNames.add(cls);
      for (const path of walk(join(dir, cls))) {
        if (exts.some((e) => path.toLowerCase().endsWith(e))) items.push({ cls, path });
      }
    }
    found.set(split, items);
  }
  let labels: string[];
  if (opts.labels) {
    labels = [...opts.labels];
    const unknown = [...classNames].filter((c) => !labels.includes(c));
    if (unknown.length > 0) {
      throw new Error(
        `${root}: ${unknown.length} class folders not in labels: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', ...' : ''}`,
      );
    }
  } else {
    labels = [...classNames].sort(naturalCompare);
  }
  const index = new Map(labels.map((l, i) => [l, i]));
  const splits: Record<string, ClipRef[]> = {};
  for (const [split, items] of found) {
    splits[split] = items
      .map(({ cls, path }) => ({ id: relative(root, path).split(sep).join('/'), path, label: index.get(cls)!, dataset: 'folder' }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  checkSplits(root, splits);
  return { name: 'folder', labels, multiLabel: false, splits, skipped: { count: 0, examples: [] } };
}

function subdirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile() || e.isSymbolicLink()) out.push(p);
  }
  return out;
}
