import { existsSync } from 'node:fs';
import type { ClipRef, Dataset, Skipped } from './types.js';

const SHOWN = 5;

/** `where: 12 missing audio files: a, b, c, d, e, ... (7 more)`: the first few offenders and the count. */
export function offendersMessage(where: string, what: string, items: readonly string[], hint = ''): string {
  const shown = items.slice(0, SHOWN).join(', ');
  const more = items.length > SHOWN ? `, ... (${items.length - SHOWN} more)` : '';
  return `${where}: ${items.length} ${what}: ${shown}${more}${hint ? ` (${hint})` : ''}`;
}

/** Throws one Error listing the first few offenders, if there are any. */
export function failIfAny(where: string, what: string, items: readonly string[], hint = ''): void {
  if (items.length > 0) throw new Error(offendersMessage(where, what, items, hint));
}

/** Accumulates what `skipMissing` dropped across a dataset's splits. */
export class SkipLog {
  count = 0;
  examples: string[] = [];

  add(items: readonly string[]): void {
    this.count += items.length;
    for (const it of items) if (this.examples.length < SHOWN) this.examples.push(it);
  }

  get result(): Skipped {
    return { count: this.count, examples: [...this.examples] };
  }
}

/**
 * Keeps the clips whose file exists. Missing ones are an error naming them, or, with `skipMissing`,
 * are dropped and logged. `verifyFiles: false` keeps everything unchecked.
 */
export function keepExisting(
  where: string,
  clips: ClipRef[],
  opts: { skipMissing?: boolean; verifyFiles?: boolean },
  log: SkipLog,
): ClipRef[] {
  if (opts.verifyFiles === false) return clips;
  const seen = new Map<string, boolean>();
  const exists = (p: string): boolean => {
    let e = seen.get(p);
    if (e === undefined) {
      e = existsSync(p);
      seen.set(p, e);
    }
    return e;
  };
  const missing: string[] = [];
  const kept: ClipRef[] = [];
  for (const c of clips) {
    if (exists(c.path)) kept.push(c);
    else missing.push(c.path);
  }
  if (missing.length > 0) {
    if (!opts.skipMissing) failIfAny(where, 'missing audio files', missing, 'pass skipMissing to drop them');
    log.add(missing);
  }
  return kept;
}

/** Every split must hold clips, and ids must be unique within a split. */
export function checkSplits(where: string, splits: Dataset['splits']): void {
  const names = Object.keys(splits);
  if (names.length === 0) throw new Error(`${where}: no splits`);
  failIfAny(
    where,
    'empty splits',
    names.filter((n) => splits[n]!.length === 0),
  );
  for (const n of names) {
    const seen = new Set<string>();
    const dups = new Set<string>();
    for (const c of splits[n]!) {
      if (seen.has(c.id)) dups.add(c.id);
      seen.add(c.id);
    }
    failIfAny(where, `duplicate clip ids in split ${n}`, [...dups]);
  }
}

/** Sorts strings holding numbers by value ("2" < "10"), the rest by code point. */
export function naturalCompare(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length || (a < b ? -1 : a > b ? 1 : 0);
}
