import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../src/distributed/launch.js';
import { evalShard } from '../../src/distributed/sampler.js';
import { assertOk, glooSkip, startRanks } from './ranks.js';
import { CLASSES, evalRowsAt } from './eval_rows.js';

const skip = glooSkip();

interface Gathered {
  logits: number[];
  targets: number[];
  labels: number[];
  lossSum: number;
  soft: boolean;
}

test('sharded evaluation rows gathered back into clip order: even, uneven and fewer clips than ranks', { skip }, async () => {
  for (const [W, n, soft] of [
    [2, 5, false],
    [3, 7, true],
    [3, 2, false],
  ] as const) {
    const runs = await startRanks(W, await freePort(), ['evalrows', '--n', String(n), ...(soft ? ['--soft'] : [])]).done;
    assertOk(runs);
    const got = JSON.parse(runs[0]!.stdout.trim()) as Gathered;
    // what one process would hold: every clip's row, in clip order (soft ones where an odd rank had them)
    const want = Array.from({ length: n }, (_, p) => evalRowsAt([p], { soft: soft && (p % W) % 2 === 1 }));
    const what = `${W} ranks, ${n} clips`;
    assert.deepEqual(
      got.logits,
      want.flatMap((r) => Array.from(r.logits)),
      `${what}: logits`,
    );
    assert.deepEqual(
      got.targets,
      want.flatMap((r) => Array.from(r.targets)),
      `${what}: targets`,
    );
    assert.deepEqual(
      got.labels,
      want.flatMap((r) => Array.from(r.labels)),
      `${what}: labels`,
    );
    assert.equal(got.labels.length * CLASSES, got.logits.length);
    const lossSum = want.reduce((a, r) => a + r.lossSum, 0);
    assert.ok(Math.abs(got.lossSum - lossSum) < 1e-9, `${what}: loss sum ${got.lossSum} vs ${lossSum}`);
    assert.equal(got.soft, soft, `${what}: soft`);
    // the shards the ranks evaluated were disjoint and covered every clip
    assert.deepEqual(
      Array.from({ length: W }, (_, r) => evalShard(n, r, W))
        .flat()
        .sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i),
    );
  }
});
