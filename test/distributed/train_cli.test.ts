import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinySet, tinyRecipe } from '../train/tiny.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { glooSkip, maxAbsDiff } from './ranks.js';
import { loaa, tempDir } from '../helpers.js';

/** the ranks' and the single process's BLAS threads: one each, as the 2-core CI has */
// one fp32 GEMM kernel for the single process and the ranks: a kernel each process measured for
// itself may differ between them (the launcher hands its ranks one; the reference run chooses alone)
const ONE_THREAD = { env: { LOAA_NUM_THREADS: '1', LOAA_GEMM: 'torch' } };

const skip = glooSkip();

function adapterWeights(run: string): number[][] {
  const f = readSafetensors(join(run, 'final', 'adapter_model.safetensors'));
  return [...f.tensors.keys()].sort().map((k) => Array.from(new Float32Array(f.tensors.get(k)!.data.slice().buffer)));
}

interface Line {
  epoch: number;
  val: Record<string, number>;
}

const metricsOf = (run: string): Line[] =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);

/** Sharded evaluation must give one process's numbers: n and the ranking metrics exactly, the loss to 1e-6. */
function sameMetrics(two: Record<string, number>, one: Record<string, number>, what: string): void {
  for (const k of ['n', 'top1', 'top5', 'mAP', 'meanClassAccuracy', 'macroAUC']) assert.equal(two[k], one[k], `${what}: ${k}`);
  assert.ok(Math.abs(two.loss! - one.loss!) <= 1e-6, `${what}: loss ${two.loss} vs ${one.loss}`);
}

test('loaa train --nproc 2 takes the single-process steps: same final adapter (1e-5), same sharded validation and test metrics, files from rank 0', {
  skip,
}, async () => {
  const dir = tempDir('dist-train');
  // 9 validation and 9 test clips: the ranks' evaluation shards are uneven (5 and 4)
  const data = tinySet(join(dir, 'data'), { train: 6, validation: 3, test: 3 });
  const recipe = join(dir, 'tiny.yaml');
  // no augmentation: the ranks' batches are then exactly the single-process batch's halves
  // 18 clips in batches of 4: a last batch of 2, one clip per rank
  writeFileSync(
    recipe,
    JSON.stringify(tinyRecipe(data, { augment: { freqm: 0, timem: 0 }, train: { epochs: 2, eval_batch_size: 4 }, data: { workers: 0 } })),
  );
  const one = loaa(['train', '--config', recipe, '--out', join(dir, 'one'), '--json'], ONE_THREAD);
  assert.equal(one.status, 0, one.stderr);
  const two = loaa(['train', '--config', recipe, '--out', join(dir, 'two'), '--nproc', '2', '--json'], ONE_THREAD);
  assert.equal(two.status, 0, two.stderr);
  const r1 = JSON.parse(one.stdout) as { test: { metrics: Record<string, number> }; steps: number };
  const r2 = JSON.parse(two.stdout.trim().split('\n').pop()!) as typeof r1;
  assert.equal(r2.steps, r1.steps);
  assert.equal(r1.test.metrics.n, 9);
  sameMetrics(r2.test.metrics, r1.test.metrics, 'test');
  const [m1, m2] = [metricsOf(join(dir, 'one')), metricsOf(join(dir, 'two'))];
  assert.equal(m2.length, m1.length);
  m1.forEach((l, i) => {
    sameMetrics(m2[i]!.val, l.val, `validation, epoch ${l.epoch}`);
  });
  const d = maxAbsDiff(adapterWeights(join(dir, 'one')), adapterWeights(join(dir, 'two')));
  assert.ok(d <= 1e-5, `final adapters differ by ${d}`);
  for (const f of ['results.json', 'metrics.jsonl', 'recipe.json', join('best', 'adapter_config.json')])
    assert.ok(existsSync(join(dir, 'two', f)), f);
  assert.ok(existsSync(join(dir, 'two', 'logs', 'rank1.log')), 'rank 1 logs to its own file');
  assert.ok(!readFileSync(join(dir, 'two', 'logs', 'rank1.log'), 'utf8').includes('{"name"'), 'rank 1 prints no results');
});

test('loaa train: bad distributed flags are usage errors naming the flag', async () => {
  const r = loaa(['train', '--config', 'x.yaml', '--out', '/tmp/none', '--nproc', 'two'], ONE_THREAD);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--nproc: expected a non-negative integer/);
  const r2 = loaa(['train', '--config', 'x.yaml', '--out', '/tmp/none', '--nnodes', '2'], ONE_THREAD);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /--master-addr: required/);
});
