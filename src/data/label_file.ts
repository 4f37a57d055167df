import { extname } from 'node:path';
import { checkCount, LIMITS } from '../util/bounds.js';
import { readRegularText } from '../util/fs.js';
import { readCsv, parseIndex } from './csv.js';
import { failIfAny } from './problems.js';

/**
 * Class names, index = class index, from
 * - a JSON array of names, or a JSON object `{name: index}`;
 * - a CSV with an index column (`class_id`, `index`, `id` or `target`) and a name column
 *   (`class`, `display_name`, `name`, `label` or `category`);
 * - any other file: one name a line.
 */
export function readLabelFile(path: string): string[] {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') {
    const t = readCsv(path);
    const idCol = ['class_id', 'index', 'id', 'target'].find((c) => t.header.includes(c));
    const nameCol = ['class', 'display_name', 'name', 'label', 'category'].find((c) => t.header.includes(c));
    if (!idCol || !nameCol)
      throw new Error(
        `${path}: expected an index column (class_id/index/id/target) and a name column (class/display_name/name/label/category)`,
      );
    const pairs = new Map<number, string>();
    const bad: string[] = [];
    t.rows.forEach((r, k) => {
      const i = parseIndex(r[idCol]);
      if (i === undefined || !r[nameCol]) bad.push(`line ${t.lines[k]}`);
      else pairs.set(i, r[nameCol]!.trim());
    });
    failIfAny(path, 'rows without an integer index and a name', bad);
    return denseLabels(path, pairs);
  }
  const text = readRegularText(path, 'label file');
  if (ext === '.json') {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`${path}: invalid JSON: ${(e as Error).message}`);
    }
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => Number.isInteger(x))) {
      return denseLabels(path, new Map(Object.entries(v as Record<string, number>).map(([k, i]) => [i, k])));
    }
    throw new Error(`${path}: expected a JSON array of names or an object {name: index}`);
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** Names for 0..max from index/name pairs; an index without a name is an error. */
export function denseLabels(where: string, pairs: Map<number, string>, count?: number): string[] {
  let top = -1;
  for (const k of pairs.keys()) if (k > top) top = k;
  // a class index is an allocation size (one name, one logit each): bounded before the loop below
  if (top >= LIMITS.classes) throw new Error(`${where}: class index ${top} is above the limit of ${LIMITS.classes - 1}`);
  const n = count === undefined ? top + 1 : checkCount(count, `${where}: number of classes`, 0, LIMITS.classes);
  const missing: string[] = [];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = pairs.get(i);
    if (name === undefined) missing.push(String(i));
    out.push(name ?? '');
  }
  failIfAny(where, 'class indices without a name', missing);
  return out;
}
