/**
 * A checkpoint's loop position is checked against the run it resumes (issue #25): state.json with
 * "batch": 1000000 was accepted and epoch 5 then logged 0 steps and train_loss null with exit 0.
 * A symlinked checkpoint/ folder (planted: the trainer never makes one) is refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkLoopState, checkStateAgainstRun, findCheckpoint, type LoopState } from '../../src/train/checkpoint.js';
import { tempDir } from '../helpers.js';

const good = {
  format: 'loaa-checkpoint/1',
  epoch: 4,
  batch: 2,
  step: 18,
  lossSum: 1.5,
  lossCount: 2,
  epochSeconds: 1,
  trainSeconds: [1, 1, 1, 1],
  best: { epoch: 3, value: 0.5 },
};
const run = { epochs: 5, batchesPerEpoch: 4 };
const check = (o: Record<string, unknown>): void =>
  checkStateAgainstRun(checkLoopState({ ...good, ...o }, 'ck/state.json') as LoopState, 'ck/state.json', run);

test("a state inside the run's ranges is accepted", () => {
  check({});
  check({ epoch: 5, batch: 0, step: 20, trainSeconds: [1, 1, 1, 1, 1] });
});

test("batch, epoch, step and best.epoch out of the run's ranges are refused naming the key and what to do", () => {
  assert.throws(
    () => check({ batch: 1_000_000 }),
    /^Error: ck\/state\.json: batch: 1000000 is past the 4 batches of an epoch of this run: .*delete ck\/ to start the run again/,
  );
  assert.throws(
    () => check({ epoch: 9, trainSeconds: Array(9).fill(1) }),
    /ck\/state\.json: epoch: 9 is past the recipe's train\.epochs \(5\)/,
  );
  assert.throws(
    () => check({ step: 1000 }),
    /ck\/state\.json: step: 1000 optimizer steps is more than the 18 batches before epoch 5, batch 2/,
  );
  assert.throws(() => check({ best: { epoch: 7, value: 0.1 } }), /ck\/state\.json: best\.epoch: 7 is not an epoch finished before epoch 5/);
});

test('a symlinked checkpoint/ (or .checkpoint-old/) folder is refused, naming it as a symbolic link', () => {
  const out = tempDir('ck-link');
  const elsewhere = join(out, 'elsewhere');
  mkdirSync(elsewhere);
  writeFileSync(join(elsewhere, 'state.json'), JSON.stringify(good));
  symlinkSync(elsewhere, join(out, 'checkpoint'));
  assert.throws(() => findCheckpoint(out), /checkpoint: it is a symbolic link, not the checkpoint folder the trainer wrote/);
  const out2 = tempDir('ck-old-link');
  symlinkSync(elsewhere, join(out2, '.checkpoint-old'));
  assert.throws(() => findCheckpoint(out2), /\.checkpoint-old: it is a symbolic link/);
  const out3 = tempDir('ck-real');
  mkdirSync(join(out3, 'checkpoint'));
  writeFileSync(join(out3, 'checkpoint', 'state.json'), JSON.stringify(good));
  assert.equal(findCheckpoint(out3), join(out3, 'checkpoint'));
});
