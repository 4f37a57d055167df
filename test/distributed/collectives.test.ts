import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, launchLocal } from '../../src/distributed/launch.js';
import { ProcessGroup } from '../../src/distributed/group.js';
import { gatherRows } from '../../src/distributed/gather.js';
import { GradientReducer } from '../../src/distributed/reducer.js';
import { nativeDist } from '../../src/distributed/native.js';
import { zeros } from '../../src/tensor/functional.js';
import { assertOk, child, glooSkip, startRanks, type RankRun } from './ranks.js';

const skip = glooSkip();

function checkCollectives(runs: RankRun[], W: number): void {
  assertOk(runs);
  for (const r of runs) {
    const out = JSON.parse(r.stdout.trim()) as {
      rank: number;
      allreduce: number[];
      broadcast: number[];
      allgather: number[][];
      sums: number[];
    };
    assert.equal(out.rank, r.rank);
    const total = (W * (W + 1)) / 2; // sum of rank + 1
    assert.deepEqual(out.allreduce, Array(5).fill(total));
    assert.deepEqual(out.broadcast, [(W - 1) * 10, (W - 1) * 10 + 1], 'the root is the last rank');
    assert.deepEqual(
      out.allgather,
      Array.from({ length: W }, (_, k) => Array(4).fill(k)),
    );
    assert.deepEqual(out.sums, [(W * (W - 1)) / 2, W, W / 2]);
  }
}

test('Gloo collectives on 2 and 3 ranks (1 thread each)', { skip }, async () => {
  for (const W of [2, 3]) checkCollectives(await startRanks(W, await freePort(), ['collectives']).done, W);
});

test('two addresses: ranks bound to 127.0.0.1 and 127.0.0.2 with MASTER_ADDR', { skip }, async () => {
  const runs = await startRanks(2, await freePort(), ['collectives'], { env: (r) => ({ LOAA_DIST_HOST: `127.0.0.${r + 1}` }) }).done;
  checkCollectives(runs, 2);
});

/** Two network namespaces joined by a veth pair: two "machines" with their own addresses. */
function netnsSkip(): string | false {
  if (skip) return skip;
  try {
    execFileSync('ip', ['netns', 'add', `loaa-probe-${process.pid}`], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', `loaa-probe-${process.pid}`], { stdio: 'pipe' });
    return false;
  } catch (e) {
    return `ip netns is not permitted here (${((e as { stderr?: Buffer }).stderr?.toString() || (e as Error).message).trim()})`;
  }
}

test('two machines: ranks in two network namespaces joined by a veth pair', { skip: netnsSkip() }, async () => {
  const tag = `l${process.pid % 100000}`;
  const [a, b] = [`${tag}a`, `${tag}b`];
  const net = 10 + (process.pid % 200);
  const ip = (...cmd: string[]) => execFileSync('ip', cmd, { stdio: 'pipe' });
  try {
    ip('netns', 'add', a);
    ip('netns', 'add', b);
    ip('link', 'add', `${tag}0`, 'type', 'veth', 'peer', 'name', `${tag}1`);
    ip('link', 'set', `${tag}0`, 'netns', a);
    ip('link', 'set', `${tag}1`, 'netns', b);
    ip('-n', a, 'addr', 'add', `10.213.${net}.1/24`, 'dev', `${tag}0`);
    ip('-n', b, 'addr', 'add', `10.213.${net}.2/24`, 'dev', `${tag}1`);
    for (const [ns, dev] of [
      [a, `${tag}0`],
      [b, `${tag}1`],
    ] as const) {
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    const runs = await startRanks(2, 29400 + (process.pid % 500), ['collectives'], {
      masterAddr: `10.213.${net}.1`,
      wrap: (r) => ['ip', 'netns', 'exec', r === 0 ? a : b],
      env: (r) => ({ LOAA_DIST_HOST: `10.213.${net}.${r + 1}` }),
    }).done;
    checkCollectives(runs, 2);
  } finally {
    for (const ns of [a, b])
      try {
        ip('netns', 'del', ns);
      } catch {
        /* not created */
      }
  }
});

test('a rank that cannot rendezvous fails within the timeout, naming itself and the operation', { skip }, async () => {
  const [r0] = await startRanks(1, await freePort(), ['collectives'], { env: () => ({ WORLD_SIZE: '2', LOAA_DIST_TIMEOUT: '2' }) }).done;
  assert.equal(r0!.code, 2);
  assert.match(r0!.stderr, /^dist rank 0\/2 rendezvous: could not join the group at 127\.0\.0\.1:\d+ within 2 s/);
  assert.ok(r0!.ms < 20_000, `took ${r0!.ms} ms`);
});

test('the local launcher: N ranks with their own logs; a failing rank fails the launch', { skip }, async () => {
  const logDir = mkdtempSync(join(tmpdir(), 'loaa-launch-'));
  const plan = { nproc: 2, nnodes: 1, nodeRank: 0, masterAddr: '127.0.0.1', masterPort: null, timeoutMs: 30_000, backend: 'gloo' as const };
  const ok = await launchLocal({ plan, script: child, args: ['collectives'], logDir, cores: 2 });
  assert.equal(ok.code, 0);
  assert.deepEqual(
    ok.exits.map((e) => [e.rank, e.code]),
    [
      [0, 0],
      [1, 0],
    ],
  );
  const log1 = JSON.parse(readFileSync(join(logDir, 'rank1.log'), 'utf8').trim()) as { rank: number; allreduce: number[] };
  assert.equal(log1.rank, 1);
  assert.deepEqual(log1.allreduce, [3, 3, 3, 3, 3]);
  const bad = await launchLocal({ plan, script: child, args: ['no-such-mode'], logDir, cores: 2, graceMs: 5000 });
  assert.equal(bad.code, 2);
  assert.ok(bad.firstFailure !== null);
});

test('a world of one needs no native group and every collective is the identity', () => {
  const g = ProcessGroup.single();
  assert.equal(g.distributed, false);
  assert.deepEqual(g.sumNumbers([1, 2]), [1, 2]);
  g.barrier();
  g.close();
});

test('bad process-group options are errors naming the option; NCCL needs a CUDA build', { skip }, () => {
  const d = nativeDist();
  const base = { backend: 'gloo' as const, rank: 0, worldSize: 2, masterAddr: '127.0.0.1', masterPort: 29999, timeoutMs: 1000 };
  assert.throws(() => new d.ProcessGroup({ ...base, rank: 2 }), /^RangeError: ProcessGroup option rank: 2 is outside \[0, 2\)/);
  assert.throws(() => new d.ProcessGroup({ ...base, masterPort: 0 }), /ProcessGroup option masterPort/);
  assert.throws(() => new d.ProcessGroup({ ...base, timeoutMs: 0 }), /ProcessGroup option timeoutMs/);
  assert.throws(() => new d.ProcessGroup({ ...base, backend: 'mpi' as 'gloo' }), /ProcessGroup option backend: "mpi" is not gloo or nccl/);
  if (!d.available.nccl) assert.throws(() => new d.ProcessGroup({ ...base, backend: 'nccl' }), /NCCL needs a CUDA build/);
});

test('gatherRows checks the shard it is given; a world of one returns it as it is', () => {
  const g = ProcessGroup.single();
  const rows = zeros([5, 3]);
  assert.equal(gatherRows(g, rows, 5), rows);
  assert.throws(() => gatherRows(g, rows, 6), /^Error: gatherRows: rank 0 has 5 rows, its shard of 6 clips over 1 ranks is 6/);
  const r = new GradientReducer(g, [zeros([4, 4]).requiresGrad_(), zeros([3]).requiresGrad_()], 64);
  assert.equal(r.bytesPerStep, 19 * 4);
  // 64-byte buckets in reverse order: the 12-byte bias first, then the 64-byte weight no longer fits
  assert.deepEqual(
    r.buckets.map((b) => b.map((p) => p.numel)),
    [[3], [16]],
  );
});
