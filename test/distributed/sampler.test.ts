import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalShard, evalShardSize, shardEpoch } from '../../src/distributed/sampler.js';
import { Rng } from '../../src/audio/rng.js';

function shuffled(n: number, seed: number): number[] {
  const rng = new Rng(seed);
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.randint(0, i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

test('training shards: every clip exactly once per epoch, same steps on every rank, global batches kept', () => {
  for (const n of [0, 1, 2, 7, 8, 9, 20, 53, 101]) {
    for (const W of [1, 2, 3, 4, 8]) {
      for (const B of [1, 4, 8, 16]) {
        for (const dropLast of [false, true]) {
          const order = shuffled(n, n * 31 + W);
          const shards = Array.from({ length: W }, (_, rank) => shardEpoch(order, { rank, worldSize: W, batchSize: B, dropLast }));
          const what = `n=${n} W=${W} B=${B} dropLast=${dropLast}`;
          const steps = shards[0]!.length;
          assert.equal(steps, dropLast ? Math.floor(n / B) : Math.ceil(n / B), what);
          const seen = new Map<number, number>();
          for (let k = 0; k < steps; k++) {
            const global = shards.flatMap((s) => s[k]!.indices);
            // the ranks together hold exactly the single-process batch k
            assert.deepEqual(
              [...global].sort((a, b) => a - b),
              order.slice(k * B, k * B + B).sort((a, b) => a - b),
              `${what} step ${k}`,
            );
            for (const s of shards) {
              assert.equal(s.length, steps, what);
              assert.equal(s[k]!.globalCount, global.length, what);
              assert.ok(s[k]!.indices.length <= Math.ceil(s[k]!.globalCount / W), what);
            }
            for (const i of global) seen.set(i, (seen.get(i) ?? 0) + 1);
          }
          const expected = dropLast ? Math.floor(n / B) * B : n;
          assert.equal(seen.size, expected, what);
          for (const [clip, count] of seen) assert.equal(count, 1, `${what}: clip ${clip} seen ${count} times`);
        }
      }
    }
  }
});

test('training shards are a function of the order only (deterministic from seed and epoch)', () => {
  const a = shardEpoch(shuffled(30, 4), { rank: 1, worldSize: 3, batchSize: 8 });
  const b = shardEpoch(shuffled(30, 4), { rank: 1, worldSize: 3, batchSize: 8 });
  const c = shardEpoch(shuffled(30, 5), { rank: 1, worldSize: 3, batchSize: 8 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('evaluation shards partition the clips, sizes as evalShardSize says', () => {
  for (const n of [0, 1, 5, 11, 64]) {
    for (const W of [1, 2, 3, 7]) {
      const all = Array.from({ length: W }, (_, r) => evalShard(n, r, W));
      all.forEach((s, r) => {
        assert.equal(s.length, evalShardSize(n, r, W));
      });
      assert.deepEqual(
        all.flat().sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i),
      );
    }
  }
});

test('bad sharding arguments name the argument', () => {
  assert.throws(() => shardEpoch([1, 2], { rank: 2, worldSize: 2, batchSize: 4 }), /^Error: sampler: rank 2/);
  assert.throws(() => shardEpoch([1, 2], { rank: 0, worldSize: 0, batchSize: 4 }), /sampler: worldSize/);
  assert.throws(() => shardEpoch([1, 2], { rank: 0, worldSize: 1, batchSize: 0 }), /sampler: batchSize/);
});
