import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { tensor } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { FeatureCache, sha256File, type FeatureContext, type FeatureModel } from '../../src/peft/feature_cache.js';
import { caseInput, caseNamed, loadCase, tempDir } from '../models/model_cases.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

/** A model whose features are the row sums of its input, counting its calls. */
function counting(): FeatureModel & { calls: number } {
  const m = {
    calls: 0,
    features(x: Tensor): Tensor {
      m.calls++;
      return x.sum(2);
    },
  };
  return m;
}

const batch = (v: number) => () => tensor(new Float32Array([v, 1, 2, 3, v, 5]), [2, 1, 3]);

test('linear probe: head on cached features equals the full model, logits and head gradients, epoch after epoch', () => {
  const c = caseNamed('tinycls_s16_t100_f128');
  const { model } = loadCase(c);
  const x = caseInput(c);
  const ctx: FeatureContext = { backbone: SHA_A, frontend: { bins: c.fdim, frames: c.tdim } };
  const clips = Array.from({ length: x.shape[0] }, (_, i) => `clip${i}`);
  const cache = new FeatureCache();
  let inputs = 0;
  const headGrads = (logits: Tensor): Float32Array[] => {
    logits.sum().backward();
    const g = [...model.head.namedParameters()].map(([, p]) => {
      const v = p.grad!.toFloat32();
      p.grad!.zero_();
      return v;
    });
    return g;
  };
  scope(() => {
    const want = model.forward(x);
    const wantGrads = headGrads(want);
    for (let epoch = 0; epoch < 3; epoch++) {
      const f = cache.features(model, ctx, clips, () => {
        inputs++;
        return x.alias();
      });
      const got = model.head.forward(f);
      assert.deepEqual(got.toFloat32(), want.toFloat32(), `epoch ${epoch}: logits differ`);
      assert.deepEqual(headGrads(got), wantGrads, `epoch ${epoch}: head gradients differ`);
    }
  });
  assert.equal(inputs, 1, 'the backbone (and front end) must run once, then come from the cache');
  assert.equal(cache.hits, 2 * clips.length);
  x.dispose();
  model.dispose();
});

test('feature cache key: backbone sha256, front-end settings (any key order) and clip', () => {
  const m = counting();
  const cache = new FeatureCache();
  const ctx: FeatureContext = { backbone: SHA_A, frontend: { sr: 16000, bins: 128 } };
  const first = cache.features(m, ctx, ['a', 'b'], batch(0));
  assert.deepEqual(first.toFloat32(), new Float32Array([3, 8]));
  cache.features(m, { backbone: SHA_A, frontend: { bins: 128, sr: 16000 } }, ['a', 'b'], batch(0));
  assert.equal(m.calls, 1, 'the same settings in another key order must hit');
  const other = cache.features(m, { backbone: SHA_B, frontend: ctx.frontend }, ['a', 'b'], batch(4));
  assert.deepEqual(other.toFloat32(), new Float32Array([7, 12]), 'another backbone must compute, not reuse');
  cache.features(m, { backbone: SHA_A, frontend: { sr: 16000, bins: 64 } }, ['a', 'b'], batch(0));
  cache.features(m, ctx, ['a', 'c'], batch(0));
  assert.equal(m.calls, 4);
  assert.throws(
    () => cache.features(m, { backbone: 'abc', frontend: {} }, ['a'], batch(0)),
    /^Error: FeatureCache: backbone must be a sha256/,
  );
  assert.throws(() => cache.features(m, ctx, ['z'], batch(0)), /^Error: FeatureCache: 1 clip names for a batch of 2/);
});

test('feature cache is bounded (least recently used go first) and off with augmentation', () => {
  const m = counting();
  const ctx: FeatureContext = { backbone: SHA_A, frontend: {} };
  const one = (v: number) => () => tensor(new Float32Array([v, 1]), [1, 1, 2]);
  const cache = new FeatureCache({ maxBytes: 8 }); // two features of one float each
  cache.features(m, ctx, ['a'], one(1));
  cache.features(m, ctx, ['b'], one(2));
  cache.features(m, ctx, ['a'], one(1)); // a is now the most recent
  cache.features(m, ctx, ['c'], one(3)); // evicts b
  assert.equal(cache.size, 2);
  assert.equal(cache.bytes, 8);
  const calls = m.calls;
  cache.features(m, ctx, ['a'], one(1));
  assert.equal(m.calls, calls, 'a was used recently and must still be cached');
  cache.features(m, ctx, ['b'], one(2));
  assert.equal(m.calls, calls + 1, 'b was the least recent and must have been evicted');

  const aug = new FeatureCache({ augment: true });
  aug.features(m, ctx, ['a'], one(1));
  aug.features(m, ctx, ['a'], one(1));
  assert.equal(aug.size, 0);
  assert.equal(m.calls, calls + 3);
  assert.throws(() => new FeatureCache({ maxBytes: -1 }), /^Error: FeatureCache: maxBytes/);
});

test('sha256File hashes the file content', async () => {
  const p = join(tempDir(), 'feature_cache_sha.bin');
  const data = Buffer.from('loaa backbone bytes');
  writeFileSync(p, data);
  assert.equal(await sha256File(p), createHash('sha256').update(data).digest('hex'));
});
