import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsv, readCsv } from '../../src/data/csv.js';
import { offendersMessage, naturalCompare } from '../../src/data/problems.js';
import { wavInfo } from '../../src/data/wav_info.js';
import { wavBytes, writeWav } from './wav_writer.js';
import { tempDir } from '../helpers.js';

test('parseCsv: quotes, doubled quotes, newlines in quotes, CRLF, BOM, blank lines', () => {
  const text = '\ufeffa,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2,"two\nlines",\n';
  const { records, lines } = parseCsv(text, 't.csv');
  assert.deepEqual(records, [
    ['a', 'b', 'c'],
    ['1', 'x, y', 'say "hi"'],
    ['2', 'two\nlines', ''],
  ]);
  assert.deepEqual(lines, [1, 2, 4]);
  assert.throws(() => parseCsv('a\n"open', 't.csv'), /^Error: t\.csv:2: unterminated quoted field/);
});

test('readCsv names the file, the missing columns and the bad rows', () => {
  const dir = tempDir('csv');
  const p = join(dir, 'x.csv');
  writeFileSync(p, 'path,label\na.wav,dog\nb.wav\n');
  assert.throws(() => readCsv(p, ['path', 'split']), new RegExp(`^Error: ${p}: missing column split`));
  assert.throws(() => readCsv(p), new RegExp(`^Error: ${p}: 1 rows do not have the header's 2 fields: line 3 has 1 fields`));
  assert.throws(() => readCsv(join(dir, 'none.csv')), /none\.csv: cannot read/);
});

test('offender messages show the count and at most five names', () => {
  const items = Array.from({ length: 12 }, (_, i) => `f${i}.wav`);
  assert.equal(
    offendersMessage('meta.csv', 'missing audio files', items, 'hint'),
    'meta.csv: 12 missing audio files: f0.wav, f1.wav, f2.wav, f3.wav, f4.wav, ... (7 more) (hint)',
  );
  assert.equal(offendersMessage('m', 'bad rows', ['a']), 'm: 1 bad rows: a');
});

test('naturalCompare sorts numbers by value', () => {
  assert.deepEqual(['10', '2', 'b', 'a1', 'a10', 'a2'].sort(naturalCompare), ['2', '10', 'a1', 'a2', 'a10', 'b']);
});

test('wav_writer writes WAVs that wavInfo reads back, including an extra chunk before data', () => {
  const dir = tempDir('wav');
  writeWav(join(dir, 'a.wav'), 1234, { sampleRate: 8000, channels: 2 });
  assert.deepEqual(wavInfo(join(dir, 'a.wav')), { sampleRate: 8000, channels: 2, bitsPerSample: 16, frames: 1234 });
  const b = wavBytes([0, 0.5, -1, 1]);
  assert.equal(b.readInt16LE(46), 16384);
  assert.equal(b.readInt16LE(48), -32768);
  assert.equal(b.readInt16LE(50), 32767);
  // insert a LIST chunk (odd length, padded) between fmt and data
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc\0')]);
  const withList = Buffer.concat([b.subarray(0, 36), list, b.subarray(36)]);
  writeFileSync(join(dir, 'b.wav'), withList);
  assert.equal(wavInfo(join(dir, 'b.wav')).frames, 4);
  writeFileSync(join(dir, 'c.wav'), Buffer.from('not a wav file'));
  assert.throws(() => wavInfo(join(dir, 'c.wav')), /c\.wav: not a RIFF\/WAVE file/);
});
