import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readEsc50 } from '../../src/data/esc50.js';
import { foldNames, foldTrainTest } from '../../src/data/folds.js';
import { writeWav } from './wav_writer.js';
import { tempDir } from '../helpers.js';

const NAMES = (
  'dog rooster pig cow frog cat hen insects sheep crow rain sea_waves crackling_fire crickets chirping_birds ' +
  'water_drops wind pouring_water toilet_flush thunderstorm crying_baby sneezing clapping breathing coughing footsteps ' +
  'laughing brushing_teeth snoring drinking_sipping door_wood_knock mouse_click keyboard_typing door_wood_creaks ' +
  'can_opening washing_machine vacuum_cleaner clock_alarm clock_tick glass_breaking helicopter chainsaw siren car_horn ' +
  'engine train church_bells airplane fireworks hand_saw'
).split(' ');
const ESC10 = new Set([0, 1, 10, 11, 12, 20, 21, 38, 40, 41]);

/** An ESC-50 copy: 50 classes x 5 folds x 2 clips, rows in a scrambled order. */
function makeEsc50(variant: 'target' | 'category_name'): string {
  const root = tempDir('esc50');
  const rows: string[] = [];
  for (let fold = 1; fold <= 5; fold++) {
    for (let t = 0; t < 50; t++) {
      for (let k = 0; k < 2; k++) {
        const src = 100000 + t * 10 + k;
        const file = `${fold}-${src}-${'AB'[k]}-${t}.wav`;
        writeWav(join(root, 'audio', file), 8, { sampleRate: 44100 });
        rows.push(`${file},${fold},${t},${NAMES[t]},${ESC10.has(t) ? 'True' : 'False'},${src},${'AB'[k]}`);
      }
    }
  }
  // scramble deterministically so label order cannot come from row order
  rows.sort((a, b) => ((a.length * 7919 + a.charCodeAt(2)) % 13) - ((b.length * 7919 + b.charCodeAt(2)) % 13) || (a < b ? 1 : -1));
  const header =
    variant === 'target' ? 'filename,fold,target,category,esc10,src_file,take' : 'filename,fold,category,category_name,esc10,src_file,take';
  mkdirSync(join(root, 'meta'), { recursive: true });
  writeFileSync(join(root, 'meta', 'esc50.csv'), `${[header, ...rows].join('\n')}\n`);
  return root;
}

for (const variant of ['target', 'category_name'] as const) {
  test(`ESC-50 (${variant} header): 50 labels by target index, 5 folds of 100`, () => {
    const root = makeEsc50(variant);
    const ds = readEsc50(root);
    assert.equal(ds.name, 'esc50');
    assert.deepEqual(ds.labels, NAMES);
    assert.equal(ds.multiLabel, false);
    assert.equal(ds.sampleRate, 44100);
    assert.deepEqual(foldNames(ds), ['fold1', 'fold2', 'fold3', 'fold4', 'fold5']);
    for (const f of foldNames(ds)) assert.equal(ds.splits[f]!.length, 100);
    const c = ds.splits.fold3!.find((x) => x.id === '3-100071-B-7.wav')!;
    assert.deepEqual(c, {
      id: '3-100071-B-7.wav',
      path: join(root, 'audio', '3-100071-B-7.wav'),
      label: 7,
      dataset: 'esc50',
      source: '100071',
    });
    for (const x of Object.values(ds.splits).flat()) assert.equal(NAMES[x.label as number], NAMES[Number(/-(\d+)\.wav$/.exec(x.id)![1])]);
    assert.deepEqual(ds.skipped, { count: 0, examples: [] });
  });
}

test('ESC-10: the 10 classes re-indexed in target order', () => {
  const ds = readEsc50(makeEsc50('target'), { esc10: true });
  assert.equal(ds.name, 'esc10');
  assert.deepEqual(ds.labels, [
    'dog',
    'rooster',
    'rain',
    'sea_waves',
    'crackling_fire',
    'crying_baby',
    'sneezing',
    'clock_tick',
    'helicopter',
    'chainsaw',
  ]);
  for (const f of foldNames(ds)) assert.equal(ds.splits[f]!.length, 20);
  const heli = ds.splits.fold1!.filter((c) => c.label === 8);
  assert.equal(heli.length, 2);
  assert.ok(heli.every((c) => c.id.endsWith('-40.wav')));
});

test('foldTrainTest: the test fold against the other four', () => {
  const ds = readEsc50(makeEsc50('target'));
  const { train, test: held } = foldTrainTest(ds, 2);
  assert.equal(train.length, 400);
  assert.equal(held.length, 100);
  assert.ok(held.every((c) => c.id.startsWith('2-')));
  assert.ok(train.every((c) => !c.id.startsWith('2-')));
  assert.deepEqual(foldTrainTest(ds, 'fold2').test, held);
  assert.throws(() => foldTrainTest(ds, 6), /^Error: testFold: esc50 has no split fold6 \(folds: fold1, fold2, fold3, fold4, fold5\)/);
});

test('missing audio: an error naming the first five and the count, or skipped with skipMissing', () => {
  const root = makeEsc50('target');
  const gone = [
    '1-100000-A-0.wav',
    '1-100001-B-0.wav',
    '2-100010-A-1.wav',
    '3-100020-A-2.wav',
    '4-100030-A-3.wav',
    '5-100040-A-4.wav',
    '5-100041-B-4.wav',
  ];
  for (const f of gone) rmSync(join(root, 'audio', f));
  assert.throws(
    () => readEsc50(root),
    (e: Error) => {
      assert.match(e.message, new RegExp(`^${join(root, 'audio')}: 7 missing audio files: `));
      assert.match(e.message, /1-100000-A-0\.wav/);
      assert.match(e.message, /\.\.\. \(2 more\)/);
      assert.match(e.message, /skipMissing/);
      return true;
    },
  );
  const ds = readEsc50(root, { skipMissing: true });
  assert.equal(ds.skipped!.count, 7);
  assert.equal(ds.skipped!.examples.length, 5);
  assert.equal(Object.values(ds.splits).flat().length, 500 - 7);
  assert.equal(ds.labels.length, 50);
});

test('bad metadata: unknown header, conflicting names, missing classes, empty fold', () => {
  const root = tempDir('esc50bad');
  const meta = join(root, 'meta', 'esc50.csv');
  mkdirSync(join(root, 'meta'));
  writeWav(join(root, 'audio', 'a.wav'), 4);
  writeWav(join(root, 'audio', 'b.wav'), 4);
  writeFileSync(meta, 'filename,fold,label\na.wav,1,0\n');
  assert.throws(() => readEsc50(root), new RegExp(`^Error: ${meta}: expected columns target,category or category,category_name`));
  writeFileSync(meta, 'filename,fold,target,category\na.wav,1,0,dog\nb.wav,1,0,cat\n');
  assert.throws(() => readEsc50(root), /1 class indices with two names: target 0 is both dog and cat \(line 3\)/);
  writeFileSync(meta, 'filename,fold,target,category\na.wav,1,0,dog\nb.wav,1,2,cat\n');
  assert.throws(() => readEsc50(root), /class indices missing below the largest \(2\): 1/);
  writeFileSync(meta, 'filename,fold,target,category\na.wav,1,0,dog\nb.wav,x,1,cat\n');
  assert.throws(() => readEsc50(root), /1 rows without a filename, a fold >= 1.*: line 3 \(b\.wav\)/);
  writeFileSync(meta, 'filename,fold,target,category\na.wav,1,0,dog\nb.wav,2,1,cat\n');
  rmSync(join(root, 'audio', 'b.wav'));
  assert.throws(() => readEsc50(root, { skipMissing: true }), /1 empty splits: fold2/);
  assert.throws(() => readEsc50(join(root, 'nowhere')), /nowhere\/meta\/esc50\.csv: cannot read/);
});
