import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/distributed/launch.js';
import { assertOk, glooSkip, maxAbsDiff, readResult, runSingle, startRanks } from './ranks.js';
import { tempDir } from '../helpers.js';

const skip = glooSkip();

function argmax(logits: number[], classes = 3): number[] {
  const out: number[] = [];
  for (let i = 0; i < logits.length; i += classes) {
    const row = logits.slice(i, i + classes);
    out.push(row.indexOf(Math.max(...row)));
  }
  return out;
}

for (const opt of ['sgd', 'adam']) {
  test(`2 ranks x batch 4 == 1 rank x batch 8 (${opt}, 5 steps, uneven last batch; buckets of several sizes)`, { skip }, async () => {
    const dir = tempDir('dist');
    const one = await runSingle(['train', '--opt', opt, '--steps', '5', '--batch', '8', '--out', join(dir, 'one.json')]);
    assertOk([one]);
    const ref = readResult(join(dir, 'one.json'));
    // 1 MiB: one bucket; 256 bytes: one tensor or two per bucket
    for (const bucket of ['1048576', '256']) {
      const out = join(dir, `two-${bucket}.json`);
      assertOk(
        await startRanks(2, await freePort(), ['train', '--opt', opt, '--steps', '5', '--batch', '8', '--bucket', bucket, '--out', out])
          .done,
      );
      const two = readResult(out);
      const d = maxAbsDiff(ref.params, two.params);
      assert.ok(d <= 1e-6, `trainable tensors differ by ${d}`);
      assert.ok(maxAbsDiff(ref.logits, two.logits) <= 1e-6, 'gathered evaluation logits differ');
      assert.deepEqual(argmax(two.logits), argmax(ref.logits), 'predictions (hence metrics) differ');
      assert.equal(two.bytesPerStep, ref.bytesPerStep);
      assert.equal(two.allReducedBytes, 5 * two.bytesPerStep, 'all-reduce volume per step is the trainable bytes');
      if (bucket === '256') assert.ok(two.buckets > 1, 'small buckets split the gradients');
    }
    // the control: without the gradient all-reduce rank 0 trains on its half alone, and the test sees it
    const alone = join(dir, 'no-reduce.json');
    assertOk(
      await startRanks(2, await freePort(), ['train', '--opt', opt, '--steps', '5', '--batch', '8', '--no-reduce', '--out', alone]).done,
    );
    assert.ok(maxAbsDiff(ref.params, readResult(alone).params) > 1e-4, 'skipping the reduction went unnoticed');
  });
}

test('3 ranks with an uneven split (batch 8 over 3, last batch of 4) still equal 1 rank', { skip }, async () => {
  const dir = tempDir('dist');
  assertOk([await runSingle(['train', '--opt', 'adam', '--steps', '4', '--out', join(dir, 'one.json')])]);
  assertOk(await startRanks(3, await freePort(), ['train', '--opt', 'adam', '--steps', '4', '--out', join(dir, 'three.json')]).done);
  const d = maxAbsDiff(readResult(join(dir, 'one.json')).params, readResult(join(dir, 'three.json')).params);
  assert.ok(d <= 1e-6, `differ by ${d}`);
});

test('SIGKILL of a rank mid-run: the other exits non-zero naming it in under 60 s; --resume on 1 or 2 ranks completes', {
  skip,
}, async () => {
  const dir = tempDir('dist');
  const ckpt = join(dir, 'ckpt');
  const steps = 14;
  const started = startRanks(2, await freePort(), ['train', '--opt', 'adam', '--steps', '1000', '--sleep', '150', '--ckpt', ckpt]);
  // kill rank 1 once a few checkpoints exist
  const ready = Date.now();
  while (true) {
    const step = existsSync(join(ckpt, 'ckpt.json'))
      ? (JSON.parse(readFileSync(join(ckpt, 'ckpt.json'), 'utf8')) as { step: number }).step
      : 0;
    if (step >= 3) break;
    if (Date.now() - ready > 60_000) throw new Error('no checkpoint after 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const killedAt = Date.now();
  started.procs[1]!.kill('SIGKILL');
  const [r0, r1] = await started.done;
  const seconds = (Date.now() - killedAt) / 1000;
  assert.equal(r1!.signal, 'SIGKILL');
  assert.notEqual(r0!.code, 0);
  assert.match(r0!.stderr, /dist rank 0\/2 (allreduce|broadcast|barrier|allgather): lost rank 1\b/);
  assert.ok(seconds < 60, `rank 0 took ${seconds} s to fail`);
  const at = (JSON.parse(readFileSync(join(ckpt, 'ckpt.json'), 'utf8')) as { step: number }).step;
  assert.ok(at >= 3 && at < steps, `checkpoint at step ${at}`);

  // the reference: the same steps in one uninterrupted process
  assertOk([await runSingle(['train', '--opt', 'adam', '--steps', String(steps), '--out', join(dir, 'ref.json')])]);
  const ref = readResult(join(dir, 'ref.json'));
  // resume on 1 rank (a different world size) and on 2 ranks, each from a copy of the checkpoint
  for (const world of [1, 2]) {
    const copy = join(dir, `ckpt-${world}`);
    const { cpSync } = await import('node:fs');
    cpSync(ckpt, copy, { recursive: true });
    const out = join(dir, `resumed-${world}.json`);
    const args = ['train', '--opt', 'adam', '--steps', String(steps), '--ckpt', copy, '--resume', '--out', out];
    assertOk(world === 1 ? [await runSingle(args)] : await startRanks(2, await freePort(), args).done);
    const d = maxAbsDiff(ref.params, readResult(out).params);
    assert.ok(d <= 1e-6, `resumed on ${world} rank(s): differs from the uninterrupted run by ${d}`);
  }
});
