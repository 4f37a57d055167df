/**
 * Shell-style globs for `loaa predict 'clips/**\/*.wav'` (quoted, or on a shell that passes them
 * through): `*` and `?` within a path segment, `[abc]` / `[!a-z]`, `{a,b}`, and `**` for any depth.
 * Matching walks only below the pattern's literal prefix, in sorted order, one directory at a time.
 */
import { opendirSync } from 'node:fs';
import { join } from 'node:path';

export function hasGlob(s: string): boolean {
  return /[*?[{]/.test(s);
}

function segmentRegExp(seg: string): string {
  let out = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let body = seg.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (body[0] === '!') body = `^${body.slice(1)}`;
      out += `[${body}]`;
      i = end;
    } else if (c === '{') {
      const end = seg.indexOf('}', i);
      if (end < 0) {
        out += '\\{';
        continue;
      }
      out += `(?:${seg
        .slice(i + 1, end)
        .split(',')
        .map(segmentRegExp)
        .join('|')})`;
      i = end;
    } else out += c.replace(/[.+^$()|\\/]/g, '\\$&');
  }
  return out;
}

/** The whole pattern as one anchored RegExp over '/'-separated paths. */
export function globRegExp(pattern: string): RegExp {
  const segs = pattern.split('/');
  let re = '';
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    if (seg === '**') re += last ? '.*' : '(?:[^/]+/)*';
    else re += segmentRegExp(seg) + (last ? '' : '/');
  });
  return new RegExp(`^${re}$`);
}

function sortedEntries(dir: string): { name: string; dir: boolean }[] {
  const d = opendirSync(dir);
  const out: { name: string; dir: boolean }[] = [];
  try {
    for (let e = d.readSync(); e !== null; e = d.readSync()) out.push({ name: e.name, dir: e.isDirectory() });
  } finally {
    d.closeSync();
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Files matching `pattern`, in sorted depth-first order. Hidden entries match only an explicit dot. */
export function* globFiles(pattern: string): Generator<string> {
  const segs = pattern.split('/');
  const firstGlob = segs.findIndex(hasGlob);
  const base = segs.slice(0, firstGlob).join('/') || (pattern.startsWith('/') ? '/' : '.');
  const re = globRegExp(pattern);
  const deep = segs.slice(firstGlob).includes('**');
  const depth = segs.length - firstGlob;
  function* walk(dir: string, rel: string, level: number): Generator<string> {
    let entries: ReturnType<typeof sortedEntries>;
    try {
      entries = sortedEntries(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const path = join(dir, e.name);
      const shown = base === '.' && !pattern.startsWith('./') ? rel + e.name : join(base, rel + e.name);
      if (e.dir) {
        if (deep || level + 1 < depth) yield* walk(path, `${rel}${e.name}/`, level + 1);
      } else if (re.test(shown)) {
        yield shown;
      }
    }
  }
  yield* walk(base, '', 0);
}
