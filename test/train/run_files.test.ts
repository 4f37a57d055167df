/**
 * The run directory's own files through the guarded layer (issue #25): metrics.jsonl is never
 * appended through a planted symlink (and a link there is called one, not "a crash while it was
 * written?"), results.json as a device is refused instead of read until memory runs out, and a FIFO
 * as train's lock file is refused at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendMetrics, readMetrics, readResults } from '../../src/train/run_dir.js';
import { FileLock } from '../../src/util/lock.js';
import { tempDir } from '../helpers.js';
import { haveMkfifo, mkfifo } from '../util/special_files.js';

test('appendMetrics through a planted metrics.jsonl symlink: refused, the target untouched; readMetrics says it is a link', () => {
  const out = tempDir('metrics-link');
  writeFileSync(join(out, 'victim'), 'keep');
  symlinkSync(join(out, 'victim'), join(out, 'metrics.jsonl'));
  assert.throws(() => appendMetrics(out, { epoch: 0 }), /metrics\.jsonl: refusing to append metrics line: it is a symbolic link/);
  assert.equal(readFileSync(join(out, 'victim'), 'utf8'), 'keep');
  assert.throws(() => readMetrics(out), /metrics\.jsonl: cannot read metrics log: it is a symbolic link/);
});

test('results.json as a character device is refused naming it (report used to abort with bad_alloc)', () => {
  const out = tempDir('results-dev');
  symlinkSync('/dev/zero', join(out, 'results.json'));
  assert.throws(() => readResults(out), /results\.json: cannot read run results: it is a character device/);
});

test('a FIFO as the lock file is refused at once, naming it and what to do', {
  skip: haveMkfifo ? false : 'mkfifo is not available',
  timeout: 20_000,
}, async () => {
  const out = tempDir('lock-fifo');
  mkdirSync(join(out, 'run'));
  mkfifo(join(out, 'run', '.train-lock'));
  await assert.rejects(
    FileLock.acquireWaiting(join(out, 'run', '.train-lock'), 'test', 100),
    /\.train-lock: cannot read lock: it is a FIFO .*remove it/,
  );
});
