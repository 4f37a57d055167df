/** `loaa train --dry-run`: the resolved recipe and the plan, with no data and no weights read. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from '../helpers.js';
import { tinySet, tinyRecipe } from '../train/tiny.js';
import { countAst } from '../../src/peft/params.js';

const bin = join(repoRoot, 'bin', 'loaa.js');
const dir = tempDir('cli-dry-run');

function loaa(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: dir });
}

test('the EPIC recipe: lr 1e-4 for epochs 1-25 and 1e-5 for 26-30, batch 32 x 4 = 128, nothing read', () => {
  const r = loaa([
    'train',
    '--config',
    join(repoRoot, 'recipes', 'epic_sounds_loaa.yaml'),
    '--dry-run',
    '--json',
    '--data-root',
    join(dir, 'absent'),
    '--set',
    `model.backbone=${join(dir, 'absent.pth')}`,
  ]);
  assert.equal(r.status, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  assert.equal(plan.lr_per_epoch.length, 30);
  plan.lr_per_epoch.forEach((lr: number, e: number) => {
    assert.ok(Math.abs(lr - (e < 25 ? 1e-4 : 1e-5)) < 1e-18, `epoch ${e + 1}: ${lr}`);
  });
  assert.equal(plan.effective_batch, 128);
  assert.equal(plan.recipe.train.accumulate, 4);
  assert.equal(plan.recipe.optim.weight_decay, 1e-4);
  assert.deepEqual(plan.recipe.data.window, { seconds: 1.999, train: 'random', validation: 'random', test_views: 5 });
  assert.equal(plan.classes, 44);
  // the counts of the backbone name's geometry (128 x 400 input), as `loaa params` gives them
  const want = countAst(
    { arch: 'deit_base_distilled_patch16_384', numClasses: 44, melBins: 128, frames: 400, fstride: 16, tstride: 16 },
    plan.recipe.peft,
  );
  assert.deepEqual(plan.params, want);
  assert.equal(plan.train_clips, null);
  assert.match(plan.train_clips_note, /absent is not there/);
  assert.equal(plan.steps_per_epoch, null);
});

test('steps per epoch from the dataset index, overrides applied, the text form', () => {
  const data = tinySet(join(dir, 'data'), { train: 5, validation: 1, test: 1 });
  const file = join(dir, 'tiny.yaml');
  writeFileSync(file, JSON.stringify(tinyRecipe(data)));
  const r = loaa([
    'train',
    '--config',
    file,
    '--dry-run',
    '--json',
    '--set',
    'train.batch_size=2',
    '--set',
    'train.accumulate=3',
    '--set',
    'train.epochs=3',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  // 15 clips: 8 batches of 2, 3 steps of 3 batches (the last one of 2)
  assert.equal(plan.train_clips, 15);
  assert.equal(plan.batches_per_epoch, 8);
  assert.equal(plan.steps_per_epoch, 3);
  assert.equal(plan.effective_batch, 6);
  assert.deepEqual(plan.lr_per_epoch, [1e-3, 1e-3, 1e-3]);
  const text = loaa([
    'train',
    '--config',
    join(repoRoot, 'recipes', 'epic_sounds_loaa.yaml'),
    '--dry-run',
    '--data-root',
    join(dir, 'absent'),
  ]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /accumulate: 4/);
  assert.match(text.stdout + text.stderr, /epochs 1-25: 1\.000e-4/);
  assert.match(text.stdout + text.stderr, /epochs 26-30: 1\.000e-5/);
  assert.match(text.stdout + text.stderr, /effective batch 128/);
  const bad = loaa(['train', '--dry-run']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--config is required/);
});
