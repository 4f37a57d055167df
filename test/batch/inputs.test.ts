import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { globRegExp, globFiles } from '../../src/batch/glob.js';
import { expandInputs, type InputRef } from '../../src/batch/inputs.js';
import { tempDir } from '../helpers.js';

async function all(it: AsyncIterable<InputRef>): Promise<InputRef[]> {
  const out: InputRef[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function tree(): string {
  const d = tempDir('batch-inputs');
  for (const f of ['a/1.wav', 'a/2.WAV', 'a/b/3.flac', 'a/b/c/4.mp3', 'a/notes.txt', 'a/.hidden.wav', 'x[1].wav', 'z.ogg']) {
    mkdirSync(join(d, f, '..'), { recursive: true });
    writeFileSync(join(d, f), 'x');
  }
  return d;
}

test('globRegExp: *, ?, [], {}, ** and literal dots', () => {
  assert.ok(globRegExp('a/*.wav').test('a/x.wav'));
  assert.ok(!globRegExp('a/*.wav').test('a/b/x.wav'));
  assert.ok(!globRegExp('a/*.wav').test('a/xwav'));
  assert.ok(globRegExp('a/**/*.wav').test('a/x.wav'));
  assert.ok(globRegExp('a/**/*.wav').test('a/b/c/x.wav'));
  assert.ok(globRegExp('a/?.{wav,flac}').test('a/1.flac'));
  assert.ok(!globRegExp('a/?.{wav,flac}').test('a/12.flac'));
  assert.ok(globRegExp('[!b]*.wav').test('a.wav'));
  assert.ok(!globRegExp('[!b]*.wav').test('b.wav'));
  assert.ok(globRegExp('a/**').test('a/b/c'));
});

test('folders expand recursively (audio extensions only, hidden skipped), in sorted order', async () => {
  const d = tree();
  const got = await all(expandInputs([join(d, 'a')]));
  assert.deepEqual(
    got.map((x) => x.path),
    ['a/1.wav', 'a/2.WAV', 'a/b/3.flac', 'a/b/c/4.mp3'].map((f) => join(d, f)),
  );
  assert.ok(got.every((x) => x.error === undefined));
});

test('globs, literal names that look like globs, missing paths and empty globs', async () => {
  const d = tree();
  assert.deepEqual([...globFiles(`${d}/a/**/*.{wav,mp3}`)], [`${d}/a/1.wav`, `${d}/a/b/c/4.mp3`]);
  const got = await all(expandInputs([`${d}/a/*.wav`, join(d, 'x[1].wav'), join(d, 'nope.wav'), `${d}/*.flac`, join(d, 'a/notes.txt')]));
  assert.deepEqual(got, [
    { path: `${d}/a/1.wav` },
    { path: join(d, 'x[1].wav') },
    { path: join(d, 'nope.wav'), error: 'no such file or folder' },
    { path: `${d}/*.flac`, error: 'no file matches this pattern' },
    { path: join(d, 'a/notes.txt') }, // named explicitly: the decoder decides, not the extension
  ]);
});

test('"-" reads a list of paths (files or folders) from stdin; comments and blank lines skipped', async () => {
  const d = tree();
  const stdin = Readable.from([`${join(d, 'z.ogg')}\n\n# a comment\n`, `${join(d, 'a/b')}\r\n`]);
  const got = await all(expandInputs(['-', join(d, 'a/1.wav')], stdin));
  assert.deepEqual(
    got.map((x) => x.path),
    [join(d, 'z.ogg'), join(d, 'a/b/3.flac'), join(d, 'a/b/c/4.mp3'), join(d, 'a/1.wav')],
  );
});
