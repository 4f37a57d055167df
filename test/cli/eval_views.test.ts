/**
 * Views end to end: a run whose recipe has data.window.test_views tests its best checkpoint on
 * averaged views (one score per clip), and `loaa eval --views N [--window S]` does the same for any run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from '../helpers.js';
import { tinySet, tinyRecipe } from '../train/tiny.js';

const bin = join(repoRoot, 'bin', 'loaa.js');

test('a run tests on 3 averaged views; loaa eval --views follows or overrides the recipe', () => {
  const dir = tempDir('eval-views');
  const data = tinySet(join(dir, 'data'), { train: 3, validation: 1, test: 2 });
  const file = join(dir, 'r.yaml');
  writeFileSync(
    file,
    JSON.stringify(
      tinyRecipe(data, { train: { epochs: 1 }, data: { window: { seconds: 0.2, train: 'random', validation: 'center', test_views: 3 } } }),
    ),
  );
  const loaa = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: dir });
  const run = join(dir, 'run');
  const t = loaa(['train', '--config', file, '--out', run, '--json']);
  assert.equal(t.status, 0, t.stderr);
  const results = JSON.parse(t.stdout);
  assert.equal(results.test.metrics.n, 6, 'one score per test clip, not per view');
  // the test split: the recipe's 3 views; the same metrics as the run's own test
  const e = loaa(['eval', run, '--split', 'test', '--json']);
  assert.equal(e.status, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assert.equal(ev.views, 3);
  assert.equal(ev.window, 0.2);
  assert.equal(ev.n, 6);
  assert.ok(Math.abs(ev.metrics.loss - results.test.metrics.loss) < 1e-6, `${ev.metrics.loss} vs ${results.test.metrics.loss}`);
  const e5 = JSON.parse(loaa(['eval', run, '--split', 'test', '--views', '5', '--window', '0.1', '--json']).stdout);
  assert.equal(e5.views, 5);
  assert.equal(e5.window, 0.1);
  assert.equal(e5.n, 6);
  assert.notEqual(e5.metrics.loss, ev.metrics.loss);
  const v = JSON.parse(loaa(['eval', run, '--split', 'validation', '--json']).stdout);
  assert.equal(v.views, 1, 'validation: one window, where data.window.validation puts it');
  const bad = loaa(['eval', run, '--views', '0']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--views/);
});
