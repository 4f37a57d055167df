import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFsdd } from '../../src/data/fsdd.js';
import { fsddDir, tempDir } from '../helpers.js';
import { writeWav } from './wav_writer.js';

const skip = existsSync(fsddDir) ? false : `FSDD recordings not found at ${fsddDir}`;
if (skip) console.log(`# SKIP FSDD real-data tests: ${skip}`);

test('real FSDD: 3000 clips, 300 test (index 0-4), 10 classes', { skip }, () => {
  const ds = readFsdd(fsddDir);
  assert.equal(ds.name, 'fsdd');
  assert.equal(ds.sampleRate, 8000);
  assert.deepEqual(ds.labels, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.deepEqual(Object.keys(ds.splits), ['train', 'test']);
  assert.equal(ds.splits.train!.length + ds.splits.test!.length, 3000);
  assert.equal(ds.splits.test!.length, 300);
  for (const split of ['train', 'test']) {
    const counts = new Array(10).fill(0);
    for (const c of ds.splits[split]!) counts[c.label as number]++;
    assert.deepEqual(counts, new Array(10).fill(split === 'test' ? 30 : 270));
  }
  assert.ok(ds.splits.test!.every((c) => Number(c.id.split('_')[2]) <= 4));
  assert.deepEqual(ds.splits.test![0], {
    id: '0_george_0',
    path: join(fsddDir, '0_george_0.wav'),
    label: 0,
    dataset: 'fsdd',
    source: 'george',
  });
  assert.equal(ds.splits.train![0]!.id, '0_george_5');
  assert.equal(new Set(ds.splits.train!.map((c) => c.source)).size, 6);
});

test('real FSDD with validation index5-9: 2400 / 300 / 300', { skip }, () => {
  const ds = readFsdd(fsddDir, { validation: 'index5-9' });
  assert.deepEqual(Object.keys(ds.splits), ['train', 'validation', 'test']);
  assert.equal(ds.splits.train!.length, 2400);
  assert.equal(ds.splits.validation!.length, 300);
  assert.equal(ds.splits.test!.length, 300);
  assert.ok(ds.splits.validation!.every((c) => /_[5-9]$/.test(c.id)));
  assert.deepEqual(readFsdd(fsddDir, { validation: 'index5-9' }), ds, 'deterministic');
});

test('FSDD copy: numeric index order, bad names named, bad options', () => {
  const dir = tempDir('fsdd');
  for (const f of ['3_theo_10.wav', '3_theo_2.wav', '3_theo_9.wav', '1_ann_0.wav', '1_ann_11.wav'])
    writeWav(join(dir, f), 4, { sampleRate: 8000 });
  writeFileSync(join(dir, 'README.md'), '');
  const ds = readFsdd(dir);
  assert.deepEqual(
    ds.splits.train!.map((c) => c.id),
    ['1_ann_11', '3_theo_9', '3_theo_10'],
  );
  assert.deepEqual(
    ds.splits.test!.map((c) => c.id),
    ['1_ann_0', '3_theo_2'],
  );
  const v = readFsdd(dir, { validation: 'index5-9' });
  assert.deepEqual(
    v.splits.validation!.map((c) => c.id),
    ['3_theo_9'],
  );
  assert.deepEqual(
    v.splits.train!.map((c) => c.id),
    ['1_ann_11', '3_theo_10'],
  );
  const onlyTest = tempDir('fsdd0');
  writeWav(join(onlyTest, '0_ann_0.wav'), 4);
  assert.throws(() => readFsdd(onlyTest), new RegExp(`^Error: ${onlyTest}: 1 empty splits: train`));
  assert.throws(() => readFsdd(dir, { validation: 'last' as 'none' }), /^Error: validation: expected 'none' or 'index5-9'/);
  writeWav(join(dir, 'three_theo_1.wav'), 4);
  writeWav(join(dir, '3-theo-1.wav'), 4);
  assert.throws(
    () => readFsdd(dir),
    new RegExp(`^Error: ${dir}: 2 WAV files not named \\{digit\\}_\\{speaker\\}_\\{index\\}\\.wav: 3-theo-1\\.wav, three_theo_1\\.wav`),
  );
  assert.throws(() => readFsdd(join(dir, 'nope')), /nope: FSDD recordings folder not found/);
});
