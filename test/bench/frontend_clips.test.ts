import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { benchFrontEnd } from '../../src/bench/frontend_clips.js';
import { repoRoot } from '../helpers.js';

test('benchFrontEnd returns positive timings for every row', async () => {
  const r = await benchFrontEnd(1);
  assert.deepEqual(Object.keys(r).sort(), ['fbank_5s_16k_ms', 'frontend_1s_16k_ms', 'frontend_5s_44k1_ms', 'resample_5s_44k1_to_16k_ms']);
  for (const v of Object.values(r)) assert.ok(v > 0 && Number.isFinite(v));
});

test('frontend_cost.js prints, per round, each row of benchFrontEnd with its wall time, CPU time and page faults', () => {
  const out = execFileSync(process.execPath, [join(repoRoot, 'dist/src/bench/frontend_cost.js'), '--rounds', '2', '--reps', '1'], {
    encoding: 'utf8',
  });
  const lines = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    lines.map((l) => l.round),
    [1, 2],
  );
  for (const l of lines) {
    assert.deepEqual(Object.keys(l).sort(), ['fbank_5s_16k', 'frontend_1s_16k', 'frontend_5s_44k1', 'resample_5s_44k1_to_16k', 'round']);
    for (const [k, v] of Object.entries(l)) {
      if (k === 'round') continue;
      const { wall_ms, cpu_ms, faults } = v as { wall_ms: number; cpu_ms: number; faults: number };
      assert.ok(wall_ms > 0 && cpu_ms >= 0 && Number.isInteger(faults) && faults >= 0, `${k}: ${JSON.stringify(v)}`);
    }
  }
  assert.throws(
    () => execFileSync(process.execPath, [join(repoRoot, 'dist/src/bench/frontend_cost.js'), '--rounds', '0'], { stdio: 'pipe' }),
    /--rounds/,
  );
});
