import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { glooSkip } from './ranks.js';

const skip = glooSkip();
const script = join(repoRoot, 'dist', 'src', 'bench', 'dist_check.js');

interface Report {
  ok: boolean;
  backend: string;
  ranks: number;
  devices: string[];
  allreduce_ms: number;
  allreduce_bytes: number;
  allreduce_correct: boolean;
  steps_equal_single: boolean;
  max_param_diff: number;
  error?: string;
}

function check(...args: string[]): { code: number | null; report: Report; stderr: string } {
  const r = spawnSync(process.execPath, [script, '--mib', '1', '--dist-timeout', '30', ...args], {
    encoding: 'utf8',
    env: { ...process.env, LOAA_NUM_THREADS: '1' },
    timeout: 120_000,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  assert.ok(last.startsWith('{'), `no report: ${r.stdout}${r.stderr}`);
  return { code: r.status, report: JSON.parse(last) as Report, stderr: r.stderr };
}

// scripts/gpu-check.sh runs this module with NCCL on CUDA; here its Gloo/CPU path is what can run.
test("the backend check (gpu-check.sh's NCCL step) on 2 Gloo ranks: all-reduce sums, data-parallel steps equal one process's", {
  skip,
}, () => {
  const two = check('--backend', 'gloo', '--nproc', '2');
  assert.equal(two.code, 0, two.stderr);
  assert.equal(two.report.ok, true);
  assert.equal(two.report.ranks, 2);
  assert.deepEqual(two.report.devices, ['cpu', 'cpu']);
  assert.equal(two.report.allreduce_bytes, 2 ** 20);
  assert.ok(two.report.allreduce_correct);
  assert.ok(two.report.allreduce_ms > 0);
  assert.ok(two.report.steps_equal_single && two.report.max_param_diff <= 1e-5, `max diff ${two.report.max_param_diff}`);
  // its control: without the gradient all-reduce the ranks' weights part from one process's, and it says so
  const broken = check('--backend', 'gloo', '--nproc', '2', '--no-reduce');
  assert.equal(broken.code, 1);
  assert.equal(broken.report.ok, false);
  assert.equal(broken.report.steps_equal_single, false);
  // a native group of one (what runs on a single GPU, where NCCL refuses two ranks on one device)
  const one = check('--backend', 'gloo', '--nproc', '1');
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.report.ranks, 1);
  assert.ok(one.report.ok && one.report.allreduce_correct);
});
