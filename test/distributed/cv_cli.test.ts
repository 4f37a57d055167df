import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinyFolds, tinyRecipe } from '../train/tiny.js';
import { glooSkip } from './ranks.js';
import { loaa, tempDir } from '../helpers.js';

/** the ranks' and the single process's BLAS threads: one each, as the 2-core CI has */
// one fp32 GEMM kernel for the single process and the ranks: a kernel each process measured for
// itself may differ between them (the launcher hands its ranks one; the reference run chooses alone)
const ONE_THREAD = { env: { LOAA_NUM_THREADS: '1', LOAA_GEMM: 'torch' } };

const skip = glooSkip();

interface Cv {
  folds: { fold: number; curve: number[]; final: number; reused: boolean }[];
  final: { mean: number };
}

const valLosses = (dir: string): number[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { val: { loss: number } }).val.loss);

test('loaa cv --nproc 2: every fold trains over 2 ranks with the single-process accuracy per fold and epoch; rank 0 writes', {
  skip,
}, async () => {
  const dir = tempDir('dist-cv');
  // 2 folds of 9 clips: each fold trains on 9 clips in batches of 4 (a last batch of 1: one rank
  // idles with a zero gradient) and evaluates 9 held-out clips over 2 ranks (shards of 5 and 4)
  const data = tinyFolds(join(dir, 'data'), 2, 3);
  const recipe = join(dir, 'cv.yaml');
  writeFileSync(
    recipe,
    JSON.stringify(
      tinyRecipe(data, {
        data: { type: 'csv', fold: 1, validation: null, test: null, workers: 0 },
        augment: { freqm: 0, timem: 0 },
        train: { epochs: 2 },
      }),
    ),
  );
  const one = loaa(['cv', '--config', recipe, '--folds', '2', '--out', join(dir, 'one'), '--json'], ONE_THREAD);
  assert.equal(one.status, 0, one.stderr);
  const two = loaa(['cv', '--config', recipe, '--folds', '2', '--out', join(dir, 'two'), '--nproc', '2', '--json'], ONE_THREAD);
  assert.equal(two.status, 0, two.stderr);
  const r1 = JSON.parse(one.stdout) as Cv;
  const r2 = JSON.parse(two.stdout.trim().split('\n').pop()!) as Cv;
  assert.equal(r2.folds.length, 2);
  for (const [i, f] of r1.folds.entries()) {
    const g = r2.folds[i]!;
    assert.equal(g.reused, false);
    // accuracy per epoch exactly (the 2-rank steps equal the 1-rank ones up to float rounding)
    assert.deepEqual(g.curve, f.curve, `fold ${f.fold}: accuracy per epoch`);
    const [l1, l2] = [valLosses(join(dir, 'one', `fold${f.fold}`)), valLosses(join(dir, 'two', `fold${f.fold}`))];
    l1.forEach((l, e) => {
      assert.ok(Math.abs(l2[e]! - l) <= 1e-5, `fold ${f.fold} epoch ${e + 1}: validation loss ${l2[e]} vs ${l}`);
    });
  }
  assert.equal(r2.final.mean, r1.final.mean);
  assert.deepEqual(
    JSON.parse(readFileSync(join(dir, 'two', 'cv_results.json'), 'utf8')).folds.map((f: { curve: number[] }) => f.curve),
    r1.folds.map((f) => f.curve),
  );
  const rank1 = readFileSync(join(dir, 'two', 'logs', 'rank1.log'), 'utf8');
  assert.match(rank1, /fold 2\/2/, 'rank 1 trained both folds');
  assert.ok(!rank1.includes('"folds"'), 'rank 1 prints no results');
  assert.ok(!existsSync(join(dir, 'two', 'fold1', 'logs')), "the ranks log under the cv directory, not a fold's");

  // run again over 2 ranks: every fold is read back on both ranks, none re-run
  const again = loaa(['cv', '--config', recipe, '--folds', '2', '--out', join(dir, 'two'), '--nproc', '2', '--json'], ONE_THREAD);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(
    (JSON.parse(again.stdout.trim().split('\n').pop()!) as Cv).folds.map((f) => f.reused),
    [true, true],
  );
});

test('loaa cv --help lists the data-parallel flags; bad ones are usage errors', async () => {
  const h = loaa(['cv', '--help'], ONE_THREAD);
  assert.equal(h.status, 0, h.stderr);
  for (const f of ['--nproc', '--nnodes', '--node-rank', '--master-addr', '--master-port', '--dist-timeout', '--dist-backend'])
    assert.ok(h.stdout.includes(f), `${f} in cv --help`);
  assert.match(h.stdout, /gloo, nccl, auto/);
  const bad = loaa(['cv', '--config', 'x.yaml', '--out', '/tmp/none', '--nproc', 'two'], ONE_THREAD);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--nproc: expected a non-negative integer/);
  const backend = loaa(['cv', '--config', 'x.yaml', '--out', '/tmp/none', '--dist-backend', 'mpi'], ONE_THREAD);
  assert.equal(backend.status, 2);
  assert.match(backend.stderr, /--dist-backend: expected one of gloo, nccl, auto/);
});
