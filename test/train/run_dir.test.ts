import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepMetrics, readMetrics } from '../../src/train/run_dir.js';

test('metrics.jsonl: a torn last line is dropped with one warning naming the file and line; damage before it is an Error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-run-dir-'));
  try {
    const file = join(dir, 'metrics.jsonl');
    writeFileSync(file, '{"epoch": 1, "train_loss": 2.5}\n{"epoch": 2, "train_loss": 2.1}\n{"epoch": 3, "train_lo');
    const warnings: string[] = [];
    const warn = (l: string): void => void warnings.push(l);
    assert.deepEqual(
      readMetrics(dir, warn).map((m) => m.epoch),
      [1, 2],
    );
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]!.includes(`${file}: line 3`), warnings[0]);
    assert.deepEqual(
      readMetrics(dir, warn).map((m) => m.epoch),
      [1, 2],
      'read again: the same lines',
    );
    assert.equal(warnings.length, 1, 'the same torn line is reported once');
    // resume keeps the good lines and rewrites the file without the torn one
    keepMetrics(dir, 2, warn);
    assert.deepEqual(
      readMetrics(dir, warn).map((m) => m.epoch),
      [1, 2],
    );
    assert.equal(warnings.length, 1);

    writeFileSync(file, '{"epoch": 1}\n{"epo\n{"epoch": 3}\n');
    assert.throws(
      () => readMetrics(dir, warn),
      (e: Error) => e.message.startsWith(`${file}: line 2: not valid JSON`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
