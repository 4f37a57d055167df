import { existsSync, readdirSync } from 'node:fs';
import { readRegularText } from '../util/fs.js';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { readCsv, parseIndex } from './csv.js';
import { denseLabels } from './label_file.js';
import { checkSplits, failIfAny, keepExisting, SkipLog } from './problems.js';
import type { ClipRef, Dataset, ReaderOptions } from './types.js';

export interface AstJsonOptions extends ReaderOptions {
  /** Split name -> JSON file (relative to `root`). Default: every `*.json` in `root`, named by its base name. */
  splits?: Record<string, string>;
  /** `index,mid,display_name` CSV; default `root/class_labels_indices.csv`. */
  labelsCsv?: string;
  /** Default: true when some entry has other than exactly one label. */
  multiLabel?: boolean;
}

/**
 * AST's JSON manifests, `{"data": [{"wav": path, "labels": "/m/09x0r,/m/05zppz"}]}`, with
 * `class_labels_indices.csv` mapping mids to indices; labels are the display names by index.
 * Relative wav paths are relative to the JSON file's folder; ids are the wav paths as written.
 */
export function readAstJson(root: string, opts: AstJsonOptions = {}): Dataset {
  const labelsCsv = opts.labelsCsv ?? join(root, 'class_labels_indices.csv');
  const t = readCsv(labelsCsv, ['index', 'mid', 'display_name']);
  const names = new Map<number, string>();
  const mids = new Map<string, number>();
  const bad: string[] = [];
  t.rows.forEach((r, k) => {
    const i = parseIndex(r.index);
    const mid = r.mid!.trim();
    if (i === undefined || !mid || names.has(i) || mids.has(mid)) bad.push(`line ${t.lines[k]}`);
    else {
      names.set(i, r.display_name!.trim());
      mids.set(mid, i);
    }
  });
  failIfAny(labelsCsv, 'rows without a new integer index and a new mid', bad);
  const labels = denseLabels(labelsCsv, names);

  let files: [string, string][];
  if (opts.splits) {
    files = Object.entries(opts.splits).map(([s, f]) => [s, isAbsolute(f) ? f : join(root, f)]);
  } else {
    if (!existsSync(root)) throw new Error(`${root}: folder not found`);
    files = readdirSync(root)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => [basename(f, '.json'), join(root, f)]);
    if (files.length === 0) throw new Error(`${root}: no *.json manifests (or pass splits)`);
  }

  const entries: { split: string; file: string; wav: string; ids: number[] }[] = [];
  for (const [split, file] of files) {
    let doc: unknown;
    const text = readRegularText(file, 'JSON manifest');
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
    const data = (doc as { data?: unknown }).data;
    if (!Array.isArray(data)) throw new Error(`${file}: expected {"data": [...]}`);
    const badEntries: string[] = [];
    const unknown: string[] = [];
    data.forEach((d: unknown, k) => {
      const e = d as { wav?: unknown; labels?: unknown };
      if (typeof e?.wav !== 'string' || typeof e.labels !== 'string') {
        badEntries.push(`data[${k}]`);
        return;
      }
      const ms = e.labels
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const missing = ms.filter((m) => !mids.has(m));
      if (missing.length > 0) {
        unknown.push(`data[${k}] ${missing.join(',')}`);
        return;
      }
      entries.push({ split, file, wav: e.wav, ids: ms.map((m) => mids.get(m)!) });
    });
    failIfAny(file, 'entries without string "wav" and "labels"', badEntries);
    failIfAny(file, `entries with labels not in ${labelsCsv}`, unknown);
  }
  const multiLabel = opts.multiLabel ?? entries.some((e) => e.ids.length !== 1);
  if (!multiLabel) {
    failIfAny(
      root,
      'entries without exactly one label (single-label data)',
      entries.filter((e) => e.ids.length !== 1).map((e) => e.wav),
    );
  }
  const splitOf = new Map<ClipRef, string>();
  const clips = entries.map((e) => {
    const clip: ClipRef = {
      id: e.wav,
      path: isAbsolute(e.wav) ? e.wav : resolve(dirname(e.file), e.wav),
      label: multiLabel ? e.ids : e.ids[0]!,
      dataset: 'ast-json',
    };
    splitOf.set(clip, e.split);
    return clip;
  });
  const log = new SkipLog();
  const kept = keepExisting(root, clips, opts, log);
  const splits: Record<string, ClipRef[]> = {};
  for (const [s] of files) splits[s] = [];
  for (const c of kept) splits[splitOf.get(c)!]!.push(c);
  checkSplits(root, splits);
  return { name: 'ast-json', labels, multiLabel, splits, skipped: log.result };
}
