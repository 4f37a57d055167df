/**
 * Batch predict's `--out` and inputs through the guarded file layer (issue #25): a planted
 * `<out>.part` symlink, a socket or FIFO as --out, and a FIFO or device among the inputs are each
 * refused by name, nothing is written through a link, and nothing hangs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runBatchPredict } from '../../src/batch/cli.js';
import { tempDir } from '../helpers.js';
import { writeWav } from '../data/wav_writer.js';
import { FakeBackend } from '../serve/fake_backend.js';
import { haveMkfifo, mkfifo, unixSocket } from '../util/special_files.js';

function sink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

const opts = { format: 'jsonl' as const, batchSize: 4, topK: 1, adapter: 'default', stderr: sink(), progressEveryS: 0 };

test('--out with a planted <out>.part symlink: refused naming it, the link target untouched', async () => {
  const d = tempDir('batch-part-link');
  writeWav(join(d, 'a.wav'), new Float32Array(8000).fill(0.1));
  writeFileSync(join(d, 'victim'), 'keep');
  symlinkSync(join(d, 'victim'), join(d, 'res.jsonl.part'));
  await assert.rejects(
    runBatchPredict(new FakeBackend(), { ...opts, inputs: [join(d, 'a.wav')], out: join(d, 'res.jsonl') }),
    /--out: .*res\.jsonl\.part: .*symbolic link/,
  );
  assert.equal(readFileSync(join(d, 'victim'), 'utf8'), 'keep');
  assert.ok(lstatSync(join(d, 'res.jsonl.part')).isSymbolicLink());
});

test('--out onto a socket or a FIFO: refused before any input is read, the node still there', {
  skip: haveMkfifo ? false : 'mkfifo is not available',
  timeout: 20_000,
}, async () => {
  const d = tempDir('batch-out-node');
  writeWav(join(d, 'a.wav'), new Float32Array(8000).fill(0.1));
  await unixSocket(join(d, 'out.sock'));
  await assert.rejects(
    runBatchPredict(new FakeBackend(), { ...opts, inputs: [join(d, 'a.wav')], out: join(d, 'out.sock') }),
    /--out: .*out\.sock: refusing to write: it is a socket/,
  );
  assert.ok(lstatSync(join(d, 'out.sock')).isSocket());
  mkfifo(join(d, 'out.fifo'));
  await assert.rejects(
    runBatchPredict(new FakeBackend(), { ...opts, inputs: [join(d, 'a.wav')], out: join(d, 'out.fifo') }),
    /out\.fifo: refusing to write: it is a FIFO/,
  );
  assert.ok(lstatSync(join(d, 'out.fifo')).isFIFO());
});

test('a FIFO and a device among the inputs: each one failed record naming what it is, no hang, the rest classified', {
  skip: haveMkfifo ? false : 'mkfifo is not available',
  timeout: 20_000,
}, async () => {
  const d = tempDir('batch-in-node');
  writeWav(join(d, 'a.wav'), new Float32Array(8000).fill(0.1));
  mkfifo(join(d, 'b.wav'));
  symlinkSync('/dev/zero', join(d, 'c.wav'));
  const { code, progress } = await runBatchPredict(new FakeBackend(), { ...opts, inputs: [d], out: join(d, 'res.jsonl') });
  assert.equal(code, 1);
  assert.deepEqual({ done: progress.done, failed: progress.failed }, { done: 1, failed: 2 });
  const lines = readFileSync(join(d, 'res.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { input: string; error?: string });
  const err = (f: string) => lines.find((l) => l.input === join(d, f))?.error ?? '';
  assert.match(err('b.wav'), /FIFO/);
  assert.match(err('c.wav'), /character device/);
  assert.doesNotMatch(err('b.wav'), new RegExp(`^${join(d, 'b.wav')}`), 'the record does not repeat its input');
});
