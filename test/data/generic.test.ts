import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFolderDataset } from '../../src/data/folder.js';
import { readCsvManifest } from '../../src/data/csv_manifest.js';
import { readAstJson } from '../../src/data/ast_json.js';
import { readLabelFile } from '../../src/data/label_file.js';
import { writeWav } from './wav_writer.js';
import { tempDir } from '../helpers.js';

test('folder per class: natural label order, nested files, non-audio ignored, single split "all"', () => {
  const root = tempDir('folder');
  writeWav(join(root, '10', 'a.wav'), 4);
  writeWav(join(root, '2', 'b.wav'), 4);
  writeWav(join(root, '2', 'sub', 'c.wav'), 4);
  writeFileSync(join(root, '2', 'notes.txt'), '');
  writeFileSync(join(root, '10', 'd.FLAC'), '');
  mkdirSync(join(root, '.cache'));
  const ds = readFolderDataset(root);
  assert.deepEqual(ds.labels, ['2', '10']);
  assert.deepEqual(Object.keys(ds.splits), ['all']);
  assert.deepEqual(
    ds.splits.all!.map((c) => [c.id, c.label]),
    [
      ['10/a.wav', 1],
      ['10/d.FLAC', 1],
      ['2/b.wav', 0],
      ['2/sub/c.wav', 0],
    ],
  );
  assert.equal(ds.splits.all![0]!.path, join(root, '10', 'a.wav'));
  assert.equal(readFolderDataset(root, { extensions: ['wav'] }).splits.all!.length, 3);
  assert.deepEqual(readFolderDataset(root, { labels: ['10', '2', 'extra'] }).labels, ['10', '2', 'extra']);
  assert.throws(() => readFolderDataset(root, { labels: ['10'] }), /1 class folders not in labels: 2/);
  assert.throws(() => readFolderDataset(join(root, 'none')), /none: not a folder/);
});

test('folder per split, then per class', () => {
  const root = tempDir('folders');
  writeWav(join(root, 'train', 'cat', 'a.wav'), 4);
  writeWav(join(root, 'train', 'dog', 'b.wav'), 4);
  writeWav(join(root, 'test', 'dog', 'c.wav'), 4);
  const ds = readFolderDataset(root);
  assert.deepEqual(ds.labels, ['cat', 'dog']);
  assert.deepEqual(Object.keys(ds.splits).sort(), ['test', 'train']);
  assert.deepEqual(
    ds.splits.test!.map((c) => [c.id, c.label]),
    [['test/dog/c.wav', 1]],
  );
  mkdirSync(join(root, 'validation', 'cat'), { recursive: true });
  assert.throws(() => readFolderDataset(root), /1 empty splits: validation/);
});

test('CSV manifest: relative paths, split column, label order, unknown labels, missing files', () => {
  const root = tempDir('manifest');
  for (const f of ['a.wav', 'sub/b.wav', 'c.wav']) writeWav(join(root, 'audio', f), 4);
  const csv = join(root, 'lists', 'm.csv');
  mkdirSync(join(root, 'lists'));
  writeFileSync(csv, 'path,label,split\n../audio/a.wav,dog,train\n../audio/sub/b.wav,"cat, grey",train\n../audio/c.wav,dog,test\n');
  const ds = readCsvManifest(csv);
  assert.deepEqual(ds.labels, ['cat, grey', 'dog']);
  assert.deepEqual(Object.keys(ds.splits), ['train', 'test']);
  assert.deepEqual(ds.splits.train![1], { id: '../audio/sub/b.wav', path: join(root, 'audio', 'sub', 'b.wav'), label: 0, dataset: 'csv' });
  assert.throws(
    () => readCsvManifest(csv, { labels: ['dog'] }),
    new RegExp(`^Error: ${csv}: 1 rows with labels not in the label list: line 3: cat, grey`),
  );

  writeFileSync(csv, `path,label\n${Array.from({ length: 7 }, (_, i) => `../audio/gone${i}.wav,dog`).join('\n')}\n../audio/a.wav,cat\n`);
  assert.throws(
    () => readCsvManifest(csv),
    (e: Error) =>
      e.message.startsWith(`${csv}: 7 missing audio files: ${join(root, 'audio', 'gone0.wav')}, `) && e.message.includes('... (2 more)'),
  );
  const kept = readCsvManifest(csv, { skipMissing: true });
  assert.deepEqual(kept.skipped, { count: 7, examples: [0, 1, 2, 3, 4].map((i) => join(root, 'audio', `gone${i}.wav`)) });
  assert.deepEqual(Object.keys(kept.splits), ['all']);
  assert.equal(kept.splits.all!.length, 1);
  assert.deepEqual(kept.labels, ['cat', 'dog']);
  assert.equal(readCsvManifest(csv, { verifyFiles: false }).splits.all!.length, 8);

  writeFileSync(csv, 'path,label\n../audio/a.wav,dog;cat\n../audio/c.wav,\n');
  const ml = readCsvManifest(csv, { multiLabel: true });
  assert.equal(ml.multiLabel, true);
  assert.deepEqual(
    ml.splits.all!.map((c) => c.label),
    [[1, 0], []],
  );
  assert.throws(() => readCsvManifest(csv), /1 rows without a path, a label: line 3/);
  writeFileSync(csv, 'file,label\n');
  assert.throws(() => readCsvManifest(csv), /missing column path/);
});

const LABELS_CSV =
  'index,mid,display_name\n0,/m/09x0r,"Speech"\n1,/m/05zppz,"Male speech, man speaking"\n2,/m/02zsn,"Female speech, woman speaking"\n';

test('AST JSON manifests: mids to indices, display names, multi-label inferred, relative wavs', () => {
  const root = tempDir('astjson');
  writeFileSync(join(root, 'class_labels_indices.csv'), LABELS_CSV);
  writeWav(join(root, 'wav', 'a.wav'), 4);
  writeWav(join(root, 'wav', 'b.wav'), 4);
  writeFileSync(
    join(root, 'train.json'),
    JSON.stringify({
      data: [
        { wav: 'wav/a.wav', labels: '/m/09x0r,/m/05zppz' },
        { wav: join(root, 'wav', 'b.wav'), labels: '/m/02zsn' },
      ],
    }),
  );
  writeFileSync(join(root, 'eval.json'), JSON.stringify({ data: [{ wav: 'wav/b.wav', labels: '/m/05zppz' }] }));
  const ds = readAstJson(root);
  assert.deepEqual(ds.labels, ['Speech', 'Male speech, man speaking', 'Female speech, woman speaking']);
  assert.equal(ds.multiLabel, true);
  assert.deepEqual(Object.keys(ds.splits), ['eval', 'train']);
  assert.deepEqual(ds.splits.train![0], { id: 'wav/a.wav', path: join(root, 'wav', 'a.wav'), label: [0, 1], dataset: 'ast-json' });
  assert.deepEqual(ds.splits.train![1]!.label, [2]);

  const single = readAstJson(root, { splits: { test: 'eval.json' } });
  assert.equal(single.multiLabel, false);
  assert.deepEqual(Object.keys(single.splits), ['test']);
  assert.equal(single.splits.test![0]!.label, 1);

  writeFileSync(join(root, 'bad.json'), JSON.stringify({ data: [{ wav: 'wav/a.wav', labels: '/m/nope' }, { wav: 'x.wav' }] }));
  assert.throws(
    () => readAstJson(root, { splits: { x: 'bad.json' } }),
    /bad\.json: 1 entries without string "wav" and "labels": data\[1\]/,
  );
  writeFileSync(join(root, 'bad.json'), JSON.stringify({ data: [{ wav: 'wav/a.wav', labels: '/m/nope' }] }));
  assert.throws(
    () => readAstJson(root, { splits: { x: 'bad.json' } }),
    /bad\.json: 1 entries with labels not in .*class_labels_indices\.csv: data\[0\] \/m\/nope/,
  );
  writeFileSync(join(root, 'bad.json'), JSON.stringify({ data: [{ wav: 'wav/gone.wav', labels: '/m/09x0r' }] }));
  assert.throws(() => readAstJson(root, { splits: { x: 'bad.json' } }), /1 missing audio files: .*gone\.wav/);
  writeFileSync(join(root, 'bad.json'), '{"rows": []}');
  assert.throws(() => readAstJson(root, { splits: { x: 'bad.json' } }), /bad\.json: expected \{"data": \[\.\.\.\]\}/);
});

test('label files: JSON list or map, CSV with index and name columns, plain lines', () => {
  const dir = tempDir('labels');
  writeFileSync(join(dir, 'a.json'), '["x","y"]');
  writeFileSync(join(dir, 'b.json'), '{"y": 1, "x": 0}');
  writeFileSync(join(dir, 'c.csv'), 'class_id,class\n1,y\n0,x\n');
  writeFileSync(join(dir, 'd.txt'), 'x\ny\n\n');
  writeFileSync(join(dir, 'e.csv'), 'class_id,class\n2,z\n0,x\n');
  for (const f of ['a.json', 'b.json', 'c.csv', 'd.txt']) assert.deepEqual(readLabelFile(join(dir, f)), ['x', 'y']);
  assert.throws(() => readLabelFile(join(dir, 'e.csv')), /e\.csv: 1 class indices without a name: 1/);
});
