import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchFrontEnd } from '../../src/bench/frontend_clips.js';

test('benchFrontEnd returns positive timings for every row', async () => {
  const r = await benchFrontEnd(1);
  assert.deepEqual(Object.keys(r).sort(), ['fbank_5s_16k_ms', 'frontend_1s_16k_ms', 'frontend_5s_44k1_ms', 'resample_5s_44k1_to_16k_ms']);
  for (const v of Object.values(r)) assert.ok(v > 0 && Number.isFinite(v));
});
