import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSpeechCommands, SPEECH_COMMANDS_WORDS_12 } from '../../src/data/speech_commands.js';
import { writeWav } from './wav_writer.js';
import { tempDir } from '../helpers.js';

const OTHER = ['bed', 'bird', 'cat'];
const WORDS = [...SPEECH_COMMANDS_WORDS_12, ...OTHER];
const NOISE = { 'white_noise.wav': 12 * 16000, 'dude_miaowing.wav': 11 * 16000 + 123 };

/** 13 words x 4 clips: clip 0 in validation, clip 1 in testing, clips 2-3 training; 2 noise files. */
function makeSpeechCommands(): string {
  const root = tempDir('sc');
  const val: string[] = [];
  const tst: string[] = [];
  for (const w of WORDS) {
    for (let k = 0; k < 4; k++) {
      const f = `${w}/${(k * 1234567).toString(16).padStart(8, '0')}_nohash_${k}.wav`;
      writeWav(join(root, f), 16);
      if (k === 0) val.push(f);
      if (k === 1) tst.push(f);
    }
  }
  for (const [name, frames] of Object.entries(NOISE)) writeWav(join(root, '_background_noise_', name), frames);
  writeFileSync(join(root, '_background_noise_', 'README.md'), 'noise');
  writeFileSync(join(root, 'validation_list.txt'), `${val.join('\n')}\n`);
  writeFileSync(join(root, 'testing_list.txt'), tst.join('\r\n'));
  writeFileSync(join(root, 'LICENSE'), 'cc-by');
  return root;
}

test('35-class layout: sorted word labels, lists give validation/test, the rest trains', () => {
  const root = makeSpeechCommands();
  const ds = readSpeechCommands(root);
  assert.equal(ds.name, 'speechcommands');
  assert.deepEqual(ds.labels, [...WORDS].sort());
  assert.equal(ds.sampleRate, 16000);
  assert.equal(ds.splits.train!.length, WORDS.length * 2);
  assert.equal(ds.splits.validation!.length, WORDS.length);
  assert.equal(ds.splits.test!.length, WORDS.length);
  const all = Object.values(ds.splits).flat();
  assert.ok(all.every((c) => !c.path.includes('_background_noise_')));
  const c = ds.splits.validation!.find((x) => x.id.startsWith('yes/'))!;
  assert.equal(c.label, ds.labels.indexOf('yes'));
  assert.equal(c.path, join(root, c.id));
  assert.ok(ds.splits.test!.every((x) => x.id.endsWith('_nohash_1.wav')));
  const ids = ds.splits.train!.map((x) => x.id);
  assert.deepEqual(ids, [...ids].sort());
});

test('12-class variant: 10 words, _unknown_, _silence_ windows cut deterministically from the noise', () => {
  const root = makeSpeechCommands();
  const ds = readSpeechCommands(root, { classes: 12 });
  assert.equal(ds.name, 'speechcommands12');
  assert.deepEqual(ds.labels, ['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go', '_unknown_', '_silence_']);
  for (const c of Object.values(ds.splits).flat()) {
    const word = c.id.split('/')[0]!;
    if (word === '_silence_') assert.equal(c.label, 11);
    else if (OTHER.includes(word)) assert.equal(c.label, 10);
    else assert.equal(c.label, SPEECH_COMMANDS_WORDS_12.indexOf(word as 'yes'));
  }
  // silence = ceil(10% of the 10-word clips): train 20 -> 2, validation 10 -> 1, test 10 -> 1
  const silence = (s: string) => ds.splits[s]!.filter((c) => c.label === 11);
  assert.equal(silence('train').length, 2);
  assert.equal(silence('validation').length, 1);
  assert.equal(silence('test').length, 1);
  assert.equal(ds.splits.train!.length, 20 + 6 + 2);
  const parts = { train: [0, 0.8], validation: [0.8, 0.9], test: [0.9, 1] } as const;
  for (const s of ['train', 'validation', 'test'] as const) {
    for (const c of silence(s)) {
      assert.equal(c.end! - c.start!, 16000);
      assert.match(c.source!, /^_background_noise_\/(white_noise|dude_miaowing)\.wav$/);
      const frames = NOISE[c.source!.split('/')[1] as keyof typeof NOISE];
      assert.ok(c.start! >= Math.floor(parts[s][0] * frames) && c.end! <= Math.floor(parts[s][1] * frames), `${c.id} ${c.start}-${c.end}`);
      assert.equal(c.path, join(root, c.source!));
    }
  }
  assert.deepEqual(readSpeechCommands(root, { classes: 12 }), ds);
  const more = readSpeechCommands(root, { classes: 12, silenceFraction: 1 });
  const starts = more.splits.train!.filter((c) => c.label === 11).map((c) => `${c.source}@${c.start}`);
  assert.equal(starts.length, 20);
  assert.equal(new Set(starts).size, 20, 'windows spread out, not repeated');
  assert.ok(starts.some((s) => s.includes('white')) && starts.some((s) => s.includes('dude')));
  const none = readSpeechCommands(root, { classes: 12, silenceFraction: 0, unknownFraction: 0.1 });
  assert.equal(none.splits.train!.filter((c) => c.label === 11).length, 0);
  assert.equal(none.splits.train!.filter((c) => c.label === 10).length, 2);
});

test('errors: missing list, unknown word, missing clip (skipMissing drops it), both lists, no noise', () => {
  const root = makeSpeechCommands();
  appendFileSync(join(root, 'validation_list.txt'), 'yes/gone_nohash_0.wav\nyes/gone_nohash_1.wav\n');
  assert.throws(
    () => readSpeechCommands(root),
    new RegExp(
      `^Error: ${join(root, 'validation_list.txt')}: 2 missing audio files: ${join(root, 'yes/gone_nohash_0.wav')}, .*gone_nohash_1\\.wav \\(pass skipMissing`,
    ),
  );
  const ds = readSpeechCommands(root, { skipMissing: true });
  assert.equal(ds.skipped!.count, 2);
  assert.equal(ds.splits.validation!.length, WORDS.length);
  appendFileSync(join(root, 'testing_list.txt'), '\nmarvin/x_nohash_0.wav\n');
  assert.throws(
    () => readSpeechCommands(root, { skipMissing: true }),
    /testing_list\.txt: 1 entries name no word folder: marvin\/x_nohash_0\.wav/,
  );

  const root2 = makeSpeechCommands();
  appendFileSync(join(root2, 'testing_list.txt'), '\nyes/00000000_nohash_0.wav\n');
  assert.throws(() => readSpeechCommands(root2), /1 clips listed for both validation and testing: yes\/00000000_nohash_0\.wav/);

  const root3 = makeSpeechCommands();
  rmSync(join(root3, '_background_noise_'), { recursive: true });
  assert.ok(readSpeechCommands(root3).splits.train!.length > 0);
  assert.throws(
    () => readSpeechCommands(root3, { classes: 12 }),
    /_background_noise_: not found, needed for the 12-class task's _silence_ clips/,
  );
  rmSync(join(root3, 'testing_list.txt'));
  assert.throws(() => readSpeechCommands(root3), /1 missing list files: .*testing_list\.txt/);
  rmSync(join(root3, 'stop'), { recursive: true });
  writeFileSync(join(root3, 'testing_list.txt'), '');
  assert.throws(() => readSpeechCommands(root3, { classes: 12 }), /1 word folders missing for the 12-class task: stop/);
  assert.throws(() => readSpeechCommands(root3, { classes: 10 as 12 }), /^Error: classes: expected 35 or 12/);
});
