import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMEOUT_MS, launchPlan, rankEnv, rankFromEnv, threadsPerRank } from '../../src/distributed/env.js';

test('a plain run is not a rank; torchrun variables make one', () => {
  assert.equal(rankFromEnv({}), null);
  const c = rankFromEnv({
    RANK: '3',
    WORLD_SIZE: '4',
    LOCAL_RANK: '1',
    LOCAL_WORLD_SIZE: '2',
    MASTER_ADDR: '10.0.0.1',
    MASTER_PORT: '1234',
  });
  assert.deepEqual(
    {
      rank: c!.rank,
      worldSize: c!.worldSize,
      localRank: c!.localRank,
      nodeRank: c!.nodeRank,
      addr: c!.masterAddr,
      port: c!.masterPort,
      timeout: c!.timeoutMs,
      backend: c!.backend,
    },
    { rank: 3, worldSize: 4, localRank: 1, nodeRank: 1, addr: '10.0.0.1', port: 1234, timeout: DEFAULT_TIMEOUT_MS, backend: 'gloo' },
  );
  assert.equal(rankFromEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'a', LOAA_DIST_TIMEOUT: '7.5' })!.timeoutMs, 7500);
  assert.equal(rankFromEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'a' }, { timeout: 2 })!.timeoutMs, 2000);
});

test('bad rank variables are errors naming the variable', () => {
  assert.throws(() => rankFromEnv({ RANK: '2', WORLD_SIZE: '2', MASTER_ADDR: 'a' }), /^Error: RANK: 2 is not below WORLD_SIZE 2/);
  assert.throws(() => rankFromEnv({ RANK: 'x', WORLD_SIZE: '2', MASTER_ADDR: 'a' }), /^Error: RANK: expected an integer/);
  assert.throws(() => rankFromEnv({ RANK: '0', WORLD_SIZE: '2' }), /^Error: MASTER_ADDR: not set/);
  assert.throws(() => rankFromEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'a', MASTER_PORT: '70000' }), /^Error: MASTER_PORT/);
  assert.throws(() => rankFromEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'a', LOAA_DIST_TIMEOUT: '0' }), /^Error: LOAA_DIST_TIMEOUT/);
  assert.throws(() => rankFromEnv({ WORLD_SIZE: '2' }), /^Error: RANK and WORLD_SIZE/);
});

test("launch plans from flags; the ranks get torchrun's variables and a share of the cores", () => {
  assert.equal(launchPlan({}), null);
  assert.equal(launchPlan({ nproc: 1 }), null);
  const p = launchPlan({ nproc: 2, nnodes: 2, nodeRank: 1, masterAddr: '10.1.1.1', masterPort: 4000 }, {})!;
  const env = rankEnv({ ...p, masterPort: 4000 }, 1, 3);
  assert.equal(env.RANK, '3');
  assert.equal(env.WORLD_SIZE, '4');
  assert.equal(env.LOCAL_RANK, '1');
  assert.equal(env.MASTER_ADDR, '10.1.1.1');
  assert.equal(env.LOAA_NUM_THREADS, '3');
  assert.equal(env.OMP_NUM_THREADS, '3');
  // and a rank started with that environment reads back the same place in the group
  const c = rankFromEnv(env)!;
  assert.deepEqual([c.rank, c.worldSize, c.localRank, c.nodeRank, c.masterPort], [3, 4, 1, 1, 4000]);
  assert.equal(launchPlan({ nproc: 2 }, {})!.masterPort, null, 'a single node picks its own port');
  assert.throws(() => launchPlan({ nproc: 2, nnodes: 2 }, {}), /^Error: --master-addr: required/);
  assert.throws(
    () => launchPlan({ nproc: 2, nnodes: 2, nodeRank: 2, masterAddr: 'a' }, {}),
    /^Error: --node-rank: 2 is not below --nnodes 2/,
  );
  assert.throws(() => launchPlan({ nproc: 0 }, {}), /^Error: --nproc: expected an integer/);
  assert.throws(() => launchPlan({ nproc: 2, backend: 'mpi' }, {}), /^Error: --backend: backend must be gloo or nccl/);
  assert.equal(threadsPerRank(2, 2), 1);
  assert.equal(threadsPerRank(3, 16), 5);
  assert.equal(threadsPerRank(4, 2), 1);
});

test('--dist-backend: auto is NCCL for a CUDA train.device with a GPU per local rank; the flag beats LOAA_DIST_BACKEND; NCCL ranks take GPUs in turn', async () => {
  const { resolveBackend } = await import('../../src/cli/dist_flags.js');
  const { ncclDevice } = await import('../../src/distributed/group.js');
  assert.equal(await resolveBackend(undefined, 'cpu', {}, { gpus: 4 }), 'gloo');
  assert.equal(await resolveBackend('auto', 'cuda', {}, { gpus: 2, ranksHere: 2 }), 'nccl');
  assert.equal(await resolveBackend(undefined, 'cuda:1', {}, { gpus: 2 }), 'nccl');
  assert.equal(await resolveBackend(undefined, 'auto', {}, { gpus: 1 }), 'nccl');
  assert.equal(await resolveBackend(undefined, 'auto', {}, { gpus: 0 }), 'gloo');
  // two ranks on one GPU: NCCL would refuse them ("Duplicate GPU detected")
  assert.equal(await resolveBackend(undefined, 'cuda', {}, { gpus: 1, ranksHere: 2 }), 'gloo');
  assert.equal(await resolveBackend(undefined, 'cuda', { LOAA_DIST_BACKEND: 'gloo' }, { gpus: 2 }), 'gloo');
  assert.equal(await resolveBackend('nccl', 'cpu', { LOAA_DIST_BACKEND: 'gloo' }), 'nccl');
  await assert.rejects(
    resolveBackend(undefined, 'cpu', { LOAA_DIST_BACKEND: 'mpi' }),
    /LOAA_DIST_BACKEND: expected gloo, nccl or auto, got "mpi"/,
  );
  assert.deepEqual(
    [0, 1, 2, 3].map((r) => ncclDevice(r, 2)),
    ['cuda:0', 'cuda:1', 'cuda:0', 'cuda:1'],
  );
  assert.throws(() => ncclDevice(0, 0), /^Error: dist backend nccl: rank 0 on this node sees no CUDA device/);
});
