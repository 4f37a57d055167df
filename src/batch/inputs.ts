/**
 * What `loaa predict` was asked to classify, expanded lazily so a million-file folder costs one
 * directory listing at a time: files as given, folders recursively (audio extensions only), globs,
 * and `-` for a list of paths on stdin (one a line). Problems (no such path, a glob matching
 * nothing) come out in the stream as failed inputs, so the run goes on and reports them.
 */
import { createInterface } from 'node:readline';
import { opendirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { globFiles, hasGlob } from './glob.js';

export type InputRef = { path: string; error?: undefined } | { path: string; error: string };

export const AUDIO_EXTENSIONS = ['.wav', '.flac', '.ogg', '.oga', '.mp3'];

function isAudioName(name: string): boolean {
  const n = name.toLowerCase();
  return AUDIO_EXTENSIONS.some((e) => n.endsWith(e));
}

function* walkDir(dir: string): Generator<InputRef> {
  let names: { name: string; dir: boolean }[];
  try {
    const d = opendirSync(dir);
    names = [];
    try {
      for (let e = d.readSync(); e !== null; e = d.readSync()) names.push({ name: e.name, dir: e.isDirectory() });
    } finally {
      d.closeSync();
    }
  } catch (e) {
    yield { path: dir, error: `cannot read the folder: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    return;
  }
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of names) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.dir) yield* walkDir(p);
    else if (isAudioName(e.name)) yield { path: p };
  }
}

function* expandPath(p: string): Generator<InputRef> {
  let st: Stats;
  try {
    st = statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    yield { path: p, error: code === 'ENOENT' ? 'no such file or folder' : `cannot read: ${code ?? (e as Error).message}` };
    return;
  }
  if (st.isDirectory()) yield* walkDir(p);
  else yield { path: p };
}

function* expandArg(arg: string): Generator<InputRef> {
  if (hasGlob(arg) && !existsPlain(arg)) {
    let any = false;
    for (const f of globFiles(arg)) {
      any = true;
      yield { path: f };
    }
    if (!any) yield { path: arg, error: 'no file matches this pattern' };
    return;
  }
  yield* expandPath(arg);
}

/** A file may really be called `a[1].wav`: an existing path is taken literally. */
function existsPlain(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Every input, in order; `-` reads paths from `stdin` (blank lines and `#` comments skipped). */
export async function* expandInputs(args: string[], stdin: NodeJS.ReadableStream = process.stdin): AsyncGenerator<InputRef> {
  let stdinUsed = false;
  for (const arg of args) {
    if (arg === '-') {
      if (stdinUsed) continue;
      stdinUsed = true;
      for await (const line of createInterface({ input: stdin, crlfDelay: Infinity })) {
        const p = line.trim();
        if (p && !p.startsWith('#')) yield* expandPath(p);
      }
    } else {
      yield* expandArg(arg);
    }
  }
}
