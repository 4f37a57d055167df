import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDataset } from '../../src/data/open.js';
import { fsddDir, sharedDir, tempDir } from '../helpers.js';
import { writeWav } from './wav_writer.js';

test('openDataset dispatches by type and alias', () => {
  const root = tempDir('open');
  writeWav(join(root, 'audio', '1-1-A-0.wav'), 4);
  writeWav(join(root, 'audio', '2-2-A-1.wav'), 4);
  mkdirSync(join(root, 'meta'));
  writeFileSync(
    join(root, 'meta', 'esc50.csv'),
    'filename,fold,target,category,esc10\n1-1-A-0.wav,1,0,dog,True\n2-2-A-1.wav,2,1,rooster,False\n',
  );
  assert.deepEqual(openDataset({ type: 'esc50', root }).labels, ['dog', 'rooster']);
  assert.deepEqual(openDataset({ type: 'ESC10', root }).labels, ['dog']);
  assert.deepEqual(Object.keys(openDataset({ type: 'esc-10', root }).splits), ['fold1']);

  writeFileSync(join(root, 'manifest.csv'), 'path,label\naudio/1-1-A-0.wav,dog\n');
  assert.equal(openDataset({ type: 'csv', root }).splits.all!.length, 1);
  assert.equal(openDataset({ type: 'manifest', root: join(root, 'manifest.csv') }).splits.all!.length, 1);
  assert.deepEqual(openDataset({ type: 'folder', root: join(root, 'meta', '..') }).labels, ['audio', 'meta']);
});

test('openDataset: unknown type, missing root and unknown options are errors naming the key', () => {
  assert.throws(
    () => openDataset({ type: 'audioset', root: '/x' }),
    /^Error: dataset\.type: unknown dataset type 'audioset' \(known: esc50, speechcommands, epic, fsdd, folder, csv, ast-json\)/,
  );
  assert.throws(() => openDataset({ type: 'fsdd' }), /^Error: dataset\.root: a path is required for fsdd/);
  assert.throws(
    () => openDataset({ type: 'fsdd', root: '/x', valdiation: 'index5-9' }),
    /^Error: dataset\.valdiation: unknown option for fsdd \(known: root, skipMissing, verifyFiles, validation\)/,
  );
  assert.throws(() => openDataset(null as unknown as Record<string, unknown>), /^Error: dataset: expected an object/);
});

test('openDataset on the real data (FSDD, EPIC-SOUNDS)', { skip: existsSync(fsddDir) ? false : `FSDD not found at ${fsddDir}` }, () => {
  assert.equal(openDataset({ type: 'fsdd', root: fsddDir, validation: 'index5-9' }).splits.validation!.length, 300);
  const epic = join(sharedDir, 'data', 'epic-sounds');
  if (!existsSync(epic)) {
    console.log(`# SKIP openDataset epic: ${epic} not found`);
    return;
  }
  assert.equal(openDataset({ type: 'epic-sounds', root: epic, verifyFiles: false }).labels.length, 44);
});
