import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tinyFolds, tinyRecipe } from './tiny.js';
import { recipeFromObject } from '../../src/train/recipe.js';
import { formatCv, meanStd, runCv } from '../../src/train/cv.js';
import { tempDir } from '../helpers.js';

test('cross-validation: per-fold results, mean +/- std, AST epoch; resumes fold by fold', async () => {
  const dir = tempDir('cv');
  const data = tinyFolds(join(dir, 'data'), 3);
  const recipe = recipeFromObject(tinyRecipe(data, { data: { type: 'csv', fold: 1, validation: null, test: null }, train: { epochs: 2 } }));
  const out = join(dir, 'cv');
  const quiet = { log: () => undefined, progress: { silent: true } };
  const r = await runCv({ recipe, folds: 3, out, ...quiet });
  assert.equal(r.folds.length, 3);
  for (const f of r.folds) {
    assert.equal(f.curve.length, 2);
    assert.equal(f.final, f.curve[1]);
    assert.equal(f.reused, false);
    const res = JSON.parse(readFileSync(join(out, `fold${f.fold}`, 'results.json'), 'utf8'));
    assert.equal(res.best.split, `fold${f.fold}`);
    assert.equal(res.final.metrics.n, 6, 'the held-out fold is evaluated');
  }
  const expect = meanStd(r.folds.map((f) => f.final));
  assert.deepEqual(r.final, expect);
  const avg = [0, 1].map((e) => r.folds.reduce((a, f) => a + f.curve[e]!, 0) / 3);
  assert.deepEqual(r.ast.curve, avg);
  assert.equal(r.ast.epoch, avg[1]! > avg[0]! ? 2 : 1);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'cv_results.json'), 'utf8')), JSON.parse(JSON.stringify(r)));
  assert.match(formatCv(r), /AST's way \(epoch \d, best on the fold-averaged curve\): +[\d.]+ \+\/- [\d.]+/);

  // again: nothing re-run; with fold 3 gone: only fold 3 runs
  const mtime = (k: number) => statSync(join(out, `fold${k}`, 'results.json')).mtimeMs;
  const before = [1, 2, 3].map(mtime);
  const r2 = await runCv({ recipe, folds: 3, out, ...quiet });
  assert.deepEqual(
    r2.folds.map((f) => f.reused),
    [true, true, true],
  );
  assert.deepEqual([1, 2, 3].map(mtime), before);
  rmSync(join(out, 'fold3'), { recursive: true });
  const r3 = await runCv({ recipe, folds: 3, out, ...quiet });
  assert.deepEqual(
    r3.folds.map((f) => f.reused),
    [true, true, false],
  );
  assert.deepEqual([1, 2].map(mtime), before.slice(0, 2));
  assert.deepEqual(r3.final, r.final, 'a re-run fold gives the same numbers');
  // a different recipe in the same directory is refused
  await assert.rejects(
    runCv({ recipe: { ...recipe, optim: { ...recipe.optim, lr: 0.5 } }, folds: 3, out, ...quiet }),
    /fold 1 was run with a different recipe \(optim\.lr\)/,
  );
});
