import { dirname, isAbsolute, resolve } from 'node:path';
import { readCsv } from './csv.js';
import { checkSplits, failIfAny, keepExisting, naturalCompare, SkipLog } from './problems.js';
import type { ClipRef, Dataset, ReaderOptions } from './types.js';

export interface CsvManifestOptions extends ReaderOptions {
  /** Class names in index order; a label not among them is an error. Default: the labels seen, sorted naturally. */
  labels?: string[];
  /** Label cells hold several labels separated by `labelSeparator` (default `;`). */
  multiLabel?: boolean;
  labelSeparator?: string;
}

/**
 * A CSV manifest with header `path,label[,split]`; relative paths are relative to the CSV's folder.
 * Without a split column everything is split `all`. Ids are the paths as written.
 */
export function readCsvManifest(csvPath: string, opts: CsvManifestOptions = {}): Dataset {
  const t = readCsv(csvPath, ['path', 'label']);
  const hasSplit = t.header.includes('split');
  const base = dirname(csvPath);
  const sepr = opts.labelSeparator ?? ';';
  const bad: string[] = [];
  const rows = t.rows.flatMap((r, k) => {
    const path = r.path!.trim();
    const names = opts.multiLabel
      ? r
          .label!.split(sepr)
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : [r.label!.trim()];
    const split = hasSplit ? r.split!.trim() : 'all';
    if (!path || !split || (!opts.multiLabel && !names[0])) {
      bad.push(`line ${t.lines[k]}`);
      return [];
    }
    return [{ path, names, split, line: t.lines[k]! }];
  });
  failIfAny(csvPath, `rows without a path, a label${hasSplit ? ' and a split' : ''}`, bad);

  const seen = new Set(rows.flatMap((r) => r.names));
  let labels: string[];
  if (opts.labels) {
    labels = [...opts.labels];
    const known = new Set(labels);
    const unknown = rows.flatMap((r) => r.names.filter((n) => !known.has(n)).map((n) => `line ${r.line}: ${n}`));
    failIfAny(csvPath, 'rows with labels not in the label list', unknown);
  } else {
    labels = [...seen].sort(naturalCompare);
  }
  const index = new Map(labels.map((l, i) => [l, i]));
  const clips = new Map<ClipRef, string>();
  for (const r of rows) {
    const ids = r.names.map((n) => index.get(n)!);
    const clip: ClipRef = {
      id: r.path,
      path: isAbsolute(r.path) ? r.path : resolve(base, r.path),
      label: opts.multiLabel ? ids : ids[0]!,
      dataset: 'csv',
    };
    clips.set(clip, r.split);
  }
  const log = new SkipLog();
  const kept = keepExisting(csvPath, [...clips.keys()], opts, log);
  const splits: Record<string, ClipRef[]> = {};
  for (const s of new Set(clips.values())) splits[s] = [];
  for (const c of kept) splits[clips.get(c)!]!.push(c);
  checkSplits(csvPath, splits);
  return { name: 'csv', labels, multiLabel: !!opts.multiLabel, splits, skipped: log.result };
}
