import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEpicSounds, EPIC_SOUNDS_FILES } from '../../src/data/epic_sounds.js';
import { UNLABELED } from '../../src/data/types.js';
import { sharedDir, tempDir } from '../helpers.js';

const epicDir = join(sharedDir, 'data', 'epic-sounds');
const valCsv = join(epicDir, EPIC_SOUNDS_FILES.validation);
const testCsv = join(epicDir, EPIC_SOUNDS_FILES.test);
const skip = existsSync(valCsv) && existsSync(testCsv) ? false : `EPIC-SOUNDS CSVs not found under ${epicDir}`;
if (skip) console.log(`# SKIP EPIC-SOUNDS real-data tests: ${skip}`);

test('real EPIC-SOUNDS CSVs: 8035 validation clips, 5131 unlabeled test clips, 44 classes', { skip }, () => {
  const ds = readEpicSounds(epicDir, { verifyFiles: false, hdf5: '/data/EPIC-KITCHENS-100_audio.hdf5' });
  assert.equal(ds.name, 'epic-sounds');
  assert.equal(ds.sampleRate, 24000);
  assert.deepEqual(Object.keys(ds.splits), ['validation', 'test']);
  assert.equal(ds.splits.validation!.length, 8035);
  assert.equal(ds.splits.test!.length, 5131);
  assert.equal(ds.labels.length, 44);
  assert.equal(ds.labels[0], 'metal-only collision');
  assert.equal(ds.labels[4], 'rustle');
  assert.equal(ds.labels[34], 'ceramic / wood collision');
  assert.equal(ds.labels[43], 'drink / eat');
  assert.deepEqual(ds.splits.validation![0], {
    id: 'P01_11_0',
    path: '/data/EPIC-KITCHENS-100_audio.hdf5',
    label: 34,
    start: 49656,
    end: 71832,
    dataset: 'epic-sounds',
    source: 'P01_11',
  });
  assert.deepEqual(ds.splits.test![0], {
    id: 'P02_106_0',
    path: '/data/EPIC-KITCHENS-100_audio.hdf5',
    label: UNLABELED,
    start: 92520,
    end: 99408,
    dataset: 'epic-sounds',
    source: 'P02_106',
  });
  assert.equal(new Set(ds.splits.validation!.map((c) => c.label)).size, 44);
  assert.equal(new Set(ds.splits.test!.map((c) => c.id)).size, 5131);
  assert.equal(new Set(ds.splits.test!.map((c) => c.source)).size, 44);
  assert.ok(ds.splits.test!.every((c) => c.label === UNLABELED && c.end! > c.start!));
});

test('real EPIC-SOUNDS: the test CSV alone needs a label list', { skip }, () => {
  assert.throws(
    () => readEpicSounds(epicDir, { verifyFiles: false, validation: null }),
    /44 class indices without a name: 0, 1, 2, 3, 4, \.\.\. \(39 more\) \(pass labels/,
  );
  const labels = readEpicSounds(epicDir, { verifyFiles: false }).labels;
  const ds = readEpicSounds(epicDir, { verifyFiles: false, validation: null, labels });
  assert.deepEqual(Object.keys(ds.splits), ['test']);
  assert.deepEqual(ds.labels, labels);
  const dir = tempDir('epiclabels');
  writeFileSync(join(dir, 'labels.json'), JSON.stringify(labels));
  assert.deepEqual(readEpicSounds(epicDir, { verifyFiles: false, validation: null, labels: join(dir, 'labels.json') }).labels, labels);
});

test('real EPIC-SOUNDS: the audio HDF5 must exist unless verifyFiles is false', { skip }, () => {
  assert.throws(() => readEpicSounds(epicDir), /EPIC-KITCHENS-100_audio\.hdf5: audio HDF5 not found/);
  const dir = tempDir('epich5');
  copyFileSync(valCsv, join(dir, EPIC_SOUNDS_FILES.validation));
  writeFileSync(join(dir, EPIC_SOUNDS_FILES.hdf5), '');
  const ds = readEpicSounds(dir);
  assert.deepEqual(Object.keys(ds.splits), ['validation']);
  assert.equal(ds.splits.validation![0]!.path, join(dir, EPIC_SOUNDS_FILES.hdf5));
});

const HEADER = 'annotation_id,participant_id,video_id,start_timestamp,stop_timestamp,start_sample,stop_sample,description,class,class_id';

test('bad EPIC-SOUNDS annotations are errors naming the rows', () => {
  const dir = tempDir('epicbad');
  const p = join(dir, 'ann.csv');
  const opts = { verifyFiles: false, train: p, numClasses: 2 };
  writeFileSync(p, `${HEADER}\nP01_1_0,P01,P01_1,0,0,10,20,"a, b",alpha,0\nP01_1_1,P01,P01_1,0,0,30,40,x,beta,1\n`);
  const ds = readEpicSounds(dir, opts);
  assert.deepEqual(ds.labels, ['alpha', 'beta']);
  assert.equal(ds.splits.train!.length, 2);
  writeFileSync(
    p,
    `${HEADER}\nP01_1_0,P01,P01_1,0,0,10,20,x,alpha,0\nP01_1_1,P01,P01_1,0,0,30,40,x,beta,7\nP01_1_2,P01,P01_1,0,0,30,40,x,beta,-1\n`,
  );
  assert.throws(
    () => readEpicSounds(dir, opts),
    new RegExp(
      `^Error: ${p}: 2 rows with a class_id outside 0\\.\\.1: line 3 \\(P01_1_1\\): class_id 7, line 4 \\(P01_1_2\\): class_id -1`,
    ),
  );
  writeFileSync(p, `${HEADER}\nP01_1_0,P01,P01_1,0,0,10,5,x,alpha,0\n`);
  assert.throws(
    () => readEpicSounds(dir, opts),
    /1 rows without annotation_id, video_id and integer start_sample < stop_sample: line 2 \(P01_1_0\)/,
  );
  writeFileSync(p, `${HEADER}\nP01_1_0,P01,P01_1,0,0,10,20,x,alpha,0\nP01_1_1,P01,P01_1,0,0,30,40,x,gamma,0\n`);
  assert.throws(() => readEpicSounds(dir, opts), /1 class ids with two names: class_id 0 is both alpha and gamma/);
  writeFileSync(p, `${HEADER}\nP01_1_0,P01,P01_1,0,0,10,20,x,alpha,0\n`);
  assert.throws(() => readEpicSounds(dir, opts), /1 class indices without a name: 1 \(pass labels/);
  assert.throws(() => readEpicSounds(dir, { ...opts, labels: ['alpha'] }), /^Error: labels: 1 class names, expected 2/);
  assert.throws(
    () => readEpicSounds(dir, { ...opts, labels: ['x', 'y'] }),
    /^Error: labels: 1 names differ from the CSVs: 0: x vs the CSV's alpha/,
  );
  writeFileSync(p, `${HEADER}\nP01_1_0,P01,P01_1,0,0,10,20,x,alpha,0\nP01_1_0,P01,P01_1,0,0,30,40,x,beta,1\n`);
  assert.throws(() => readEpicSounds(dir, opts), /duplicate clip ids in split train: P01_1_0/);
  writeFileSync(p, `${HEADER}\n`);
  assert.throws(() => readEpicSounds(dir, { ...opts, labels: ['a', 'b'] }), /1 empty splits: train/);
  assert.throws(() => readEpicSounds(dir, { ...opts, train: join(dir, 'nope.csv') }), /^Error: train: .*nope\.csv not found/);
  assert.throws(() => readEpicSounds(join(dir, 'empty'), { verifyFiles: false }), /no EPIC-SOUNDS annotation CSV found/);
});
