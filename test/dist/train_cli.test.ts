import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { tempDir } from '../data/tmp.js';
import { tinySet, tinyRecipe } from '../train/tiny.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { glooSkip, maxAbsDiff } from './ranks.js';

const skip = glooSkip();
const bin = join(repoRoot, 'bin', 'loaa.js');

function loaa(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { env: { ...process.env, LOAA_NUM_THREADS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function adapterWeights(run: string): number[][] {
  const f = readSafetensors(join(run, 'final', 'adapter_model.safetensors'));
  return [...f.tensors.keys()].sort().map((k) => Array.from(new Float32Array(f.tensors.get(k)!.data.slice().buffer)));
}

test('loaa train --nproc 2 takes the single-process steps: same final adapter (1e-5), same test metrics, files from rank 0', { skip }, async () => {
  const dir = tempDir('dist-train');
  const data = tinySet(join(dir, 'data'));
  const recipe = join(dir, 'tiny.yaml');
  // no augmentation: the ranks' batches are then exactly the single-process batch's halves
  // 18 clips in batches of 4: a last batch of 2, one clip per rank
  writeFileSync(recipe, JSON.stringify(tinyRecipe(data, { augment: { freqm: 0, timem: 0 }, train: { epochs: 2 }, data: { workers: 0 } })));
  const one = await loaa(['train', '--config', recipe, '--out', join(dir, 'one'), '--json']);
  assert.equal(one.code, 0, one.stderr);
  const two = await loaa(['train', '--config', recipe, '--out', join(dir, 'two'), '--nproc', '2', '--json']);
  assert.equal(two.code, 0, two.stderr);
  const r1 = JSON.parse(one.stdout) as { test: { metrics: Record<string, number> }; steps: number };
  const r2 = JSON.parse(two.stdout.trim().split('\n').pop()!) as typeof r1;
  assert.equal(r2.steps, r1.steps);
  assert.deepEqual(r2.test.metrics.top1, r1.test.metrics.top1);
  const d = maxAbsDiff(adapterWeights(join(dir, 'one')), adapterWeights(join(dir, 'two')));
  assert.ok(d <= 1e-5, `final adapters differ by ${d}`);
  for (const f of ['results.json', 'metrics.jsonl', 'recipe.json', join('best', 'adapter_config.json')]) assert.ok(existsSync(join(dir, 'two', f)), f);
  assert.ok(existsSync(join(dir, 'two', 'logs', 'rank1.log')), 'rank 1 logs to its own file');
  assert.ok(!readFileSync(join(dir, 'two', 'logs', 'rank1.log'), 'utf8').includes('{"name"'), 'rank 1 prints no results');
});

test('loaa train: bad distributed flags are usage errors naming the flag', async () => {
  const r = await loaa(['train', '--config', 'x.yaml', '--out', '/tmp/none', '--nproc', 'two']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--nproc: expected a non-negative integer/);
  const r2 = await loaa(['train', '--config', 'x.yaml', '--out', '/tmp/none', '--nnodes', '2']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /--master-addr: required/);
});
