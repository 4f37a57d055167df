import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinySet, tinyRecipe } from './tiny.js';
import { cpuAutocastLimitation } from '../../src/tensor/autocast.js';
import { recipeFromObject } from '../../src/train/recipe.js';
import { checkLoopState, train } from '../../src/train/trainer.js';
import { tempDir } from '../helpers.js';

const fp16Skip = cpuAutocastLimitation();
const quiet = { progress: { silent: true } };
// a start scale above torch's, so that the first step overflows fp16 for real (skipped, scale halved),
// and a growth interval short enough that the scale also grows, overflows again and has its tracker
// mid-count at the cut (on this model: skips at steps 1, 5, 6; growth at 4 and 9)
const gradScaler = { initScale: 2 ** 17, growthInterval: 3 };

const readState = (dir: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(dir, 'checkpoint', 'state.json'), 'utf8')) as Record<string, unknown>;

test('fp16 resume: the loss scale and its growth tracker are checkpointed, so a resumed run ends as an uninterrupted one', {
  skip: fp16Skip ? `fp16 on the CPU: ${fp16Skip}` : false,
}, async () => {
  const data = tinySet(tempDir('amp-ck-data'));
  const dir = tempDir('amp-ck');
  const base = tinyRecipe(data, { train: { epochs: 2, checkpoint_every: 3, precision: 'fp16' }, data: { test: null } });
  const wholeLog: string[] = [];
  const whole = await train({ recipe: recipeFromObject(base), out: join(dir, 'a'), gradScaler, log: (l) => wholeLog.push(l), ...quiet });
  const skips = wholeLog.filter((l) => /fp16 gradients overflowed; step skipped/.test(l));
  const skippedSteps = skips.map((l) => Number(/^step (\d+):/.exec(l)![1]));
  assert.ok(
    skippedSteps.some((s) => s <= 7),
    `an overflow before the cut at step 7: skipped steps ${skippedSteps.join(', ')}`,
  );
  const ampWhole = readState(join(dir, 'a')).amp as { scale: number; growthTracker: number; skipped: number };
  assert.equal(ampWhole.skipped, skips.length);

  // the same run cut at step 7 (mid-epoch 2), then resumed without the cut
  const cutLog: string[] = [];
  await train({
    recipe: recipeFromObject(base, 'r', ['train.max_steps=7']),
    out: join(dir, 'b'),
    gradScaler,
    log: (l) => cutLog.push(l),
    ...quiet,
  });
  const cut = readState(join(dir, 'b'));
  assert.equal(cut.step, 7);
  const ampCut = cut.amp as { scale: number; growthTracker: number };
  assert.ok(ampCut.scale < gradScaler.initScale, `the cut run's scale was lowered by the overflow (${ampCut.scale})`);
  writeFileSync(join(dir, 'b', 'recipe.json'), JSON.stringify(recipeFromObject(base)));
  rmSync(join(dir, 'b', 'results.json'));
  const resumedLog: string[] = [];
  const resumed = await train({
    recipe: recipeFromObject(base),
    out: join(dir, 'b'),
    resume: true,
    gradScaler,
    log: (l) => resumedLog.push(l),
    ...quiet,
  });
  assert.ok(
    resumedLog.some((l) => l.includes(`step 7, loss scale ${ampCut.scale}`)),
    resumedLog.join('\n'),
  );
  assert.equal(resumed.steps, whole.steps);
  assert.deepEqual(readState(join(dir, 'b')).amp, ampWhole, 'the same scale, growth tracker and skip count');
  // skips after the cut are logged on the loop's step numbers, as in the uninterrupted run
  const later = (log: string[]): string[] => log.filter((l) => /step skipped/.test(l) && Number(/^step (\d+):/.exec(l)![1]) > 7);
  assert.deepEqual(later(resumedLog), later(wholeLog));
  assert.ok(
    readFileSync(join(dir, 'a', 'final', 'adapter_model.safetensors')).equals(
      readFileSync(join(dir, 'b', 'final', 'adapter_model.safetensors')),
    ),
    'the same weights',
  );
});

test('checkpoint state: a tampered loss scale is an Error naming amp.scale; checkpoints without amp load', () => {
  const good = {
    format: 'loaa-checkpoint/1',
    epoch: 0,
    batch: 2,
    step: 2,
    lossSum: 1,
    lossCount: 8,
    epochSeconds: 0.5,
    trainSeconds: [],
    best: null,
  };
  assert.equal(checkLoopState(good, 'state.json').amp, undefined, 'a checkpoint of an fp32 run or an older version: no amp');
  assert.deepEqual(checkLoopState({ ...good, amp: { scale: 512, growthTracker: 3 } }, 'state.json').amp, { scale: 512, growthTracker: 3 });
  for (const [amp, re] of [
    [{ scale: -1, growthTracker: 0 }, /^s\.json: amp\.scale: expected a finite positive number, got -1$/],
    [{ scale: NaN, growthTracker: 0 }, /^s\.json: amp\.scale: expected a finite positive number, got NaN$/],
    [{ scale: null, growthTracker: 0 }, /^s\.json: amp\.scale: expected a finite positive number, got null$/],
    [{ scale: '1024', growthTracker: 0 }, /^s\.json: amp\.scale: expected a finite positive number, got "1024"$/],
    [{ scale: 0, growthTracker: 0 }, /^s\.json: amp\.scale: /],
    [{ scale: 1024, growthTracker: -2 }, /^s\.json: amp\.growthTracker: expected a non-negative integer, got -2$/],
    [{ scale: 1024, growthTracker: 1.5 }, /^s\.json: amp\.growthTracker: /],
    [{ scale: 1024, growthTracker: 0, skipped: 'x' }, /^s\.json: amp\.skipped: /],
    ['big', /^s\.json: amp: expected \{scale, growthTracker\}, got "big"$/],
  ] as const) {
    assert.throws(
      () => checkLoopState({ ...good, amp }, 's.json'),
      (e: Error) => re.test(e.message),
      JSON.stringify(amp),
    );
  }
});

test('fp16 resume from a tampered state.json: the Error names amp.scale before anything trains', {
  skip: fp16Skip ? `fp16 on the CPU: ${fp16Skip}` : false,
}, async () => {
  const data = tinySet(tempDir('amp-ck-data2'));
  const out = join(tempDir('amp-ck-tamper'), 'run');
  const recipe = recipeFromObject(
    tinyRecipe(data, {
      train: { epochs: 1, max_steps: 2, checkpoint_every: 1, precision: 'fp16' },
      data: { validation: null, test: null },
    }),
  );
  await train({ recipe, out, gradScaler, log: () => undefined, ...quiet });
  const file = join(out, 'checkpoint', 'state.json');
  const state = readState(out);
  assert.equal(typeof (state.amp as { scale: unknown }).scale, 'number');
  for (const [scale, shown] of [
    [-4, '-4'],
    ['lots', '"lots"'],
    [null, 'null'],
  ] as const) {
    writeFileSync(file, JSON.stringify({ ...state, amp: { ...(state.amp as object), scale } }));
    await assert.rejects(
      train({ recipe, out, resume: true, log: () => undefined, ...quiet }),
      (e: Error) => e.message === `${file}: amp.scale: expected a finite positive number, got ${shown}`,
    );
  }
});
