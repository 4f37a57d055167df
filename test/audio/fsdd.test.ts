/** The real spoken-digit recordings (../shared/data/fsdd): all decode and featurise; 20 match torchaudio. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readWavSync } from '../../src/audio/decode.js';
import { astFeatures } from '../../src/audio/frontend.js';
import { fsddDir } from '../helpers.js';
import { loadCases, loadExpected, maxAbsDiff } from './golden-util.js';

const missing = existsSync(fsddDir) ? false : `FSDD recordings not found at ${fsddDir}`;
if (missing) console.log(`# SKIP fsdd tests: ${missing}`);

test('every FSDD recording decodes and featurises', { skip: missing }, () => {
  const files = readdirSync(fsddDir).filter((f) => f.endsWith('.wav'));
  assert.ok(files.length > 0);
  for (const f of files) {
    const path = join(fsddDir, f);
    const a = readWavSync(path);
    assert.equal(a.sampleRate, 8000, path);
    const s = astFeatures(a, {}, path);
    assert.equal(s.bins, 128);
    assert.ok(s.frames > 0, path);
    for (const v of s.data) if (!Number.isFinite(v)) assert.fail(`${path}: non-finite feature`);
  }
});

test('20 FSDD recordings match torchaudio through the AST front end (<= 1e-2, resampled 8 -> 16 kHz)', { skip: missing }, () => {
  const exp = loadExpected('expected_fsdd.safetensors');
  const cases = loadCases().fsdd;
  assert.equal(cases.length, 20);
  let worst = 0;
  for (const c of cases) {
    const s = astFeatures(readWavSync(join(fsddDir, c.file)));
    assert.deepEqual([s.frames, s.bins], c.shape, c.file);
    const d = maxAbsDiff(s.data, exp.get(c.file)!.data);
    worst = Math.max(worst, d);
    assert.ok(d <= 1e-2, `${c.file}: max diff ${d}`);
  }
  console.log(`# parity: FSDD through the AST front end, max abs diff ${worst}`);
});
