/**
 * The bench's front-end group: the whole AST front end per clip (5 s at 44.1 kHz, 1 s at 16 kHz)
 * and its two stages on their own (resampling, Kaldi fbank), each beside torchaudio's row of the
 * same name when a Python with torchaudio exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchRows, QUICK } from '../../src/bench/rows.js';
import { torchaudioPython } from '../../src/bench/python.js';

test('bench --rows frontend: the front end per clip and its resample and fbank stages, beside torchaudio', async () => {
  const r = await benchRows({ ...QUICK, groups: ['frontend'], frontendReps: 1, log: () => {} });
  const works = r.rows.map((row) => row.work);
  assert.deepEqual(works, [
    'AST front end, 5 s at 44.1 kHz (resample + fbank, 1 thread)',
    'AST front end, 1 s at 16 kHz (fbank, 1 thread)',
    'resample alone, 5 s from 44.1 to 16 kHz (1 thread)',
    'Kaldi fbank alone, 5 s at 16 kHz, 128 bins (1 thread)',
  ]);
  const ta = torchaudioPython();
  for (const row of r.rows) {
    assert.equal(row.loaa.length, 1, row.work);
    assert.ok(row.loaa[0]! > 0 && Number.isFinite(row.loaa[0]), `${row.work}: ${row.loaa[0]}`);
    if (ta) assert.ok(row.pytorch.length === 1 && row.pytorch[0]! > 0, `${row.work}: torchaudio ${row.pytorch} (${row.pytorchNote})`);
    else assert.match(row.pytorchNote ?? '', /torchaudio not installed/);
  }
});
