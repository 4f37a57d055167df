/**
 * `<dataset>.unpacking-<pid>` folders of pulls killed mid-unpack (67 MB each) are removed by the
 * next pull when their process is gone; a live pull's folder is left alone (issue #25).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleUnpacking } from '../../src/models/datasets.js';
import { tempDir } from '../helpers.js';

test("a dead pull's .unpacking-<pid> folder is removed, a live one and look-alikes are kept", () => {
  const home = tempDir('unpacking');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(dead.stdout);
  assert.ok(deadPid > 0);
  const dir = join(home, 'fsdd');
  const stale = `${dir}.unpacking-${deadPid}`;
  mkdirSync(join(stale, 'recordings'), { recursive: true });
  writeFileSync(join(stale, 'recordings', 'a.wav'), Buffer.alloc(1000));
  const live = `${dir}.unpacking-${process.pid}`;
  mkdirSync(live);
  const parent = `${dir}.unpacking-1`; // pid 1 is alive: never removed
  mkdirSync(parent);
  mkdirSync(`${dir}.unpacking-x12`);
  mkdirSync(join(home, 'esc50.unpacking-99999999'));
  const logged: string[] = [];
  const removed = removeStaleUnpacking(dir, (l) => logged.push(l));
  assert.deepEqual(removed, [`fsdd.unpacking-${deadPid}`]);
  assert.ok(!existsSync(stale));
  for (const kept of [live, parent, `${dir}.unpacking-x12`, join(home, 'esc50.unpacking-99999999')]) assert.ok(existsSync(kept), kept);
  assert.match(logged[0]!, new RegExp(`removed .*fsdd\\.unpacking-${deadPid} \\(left by a pull that stopped, process ${deadPid}\\)`));
});

test('the next pull removes them, even one that finds the dataset already in place', async () => {
  const { pullDataset } = await import('../../src/models/datasets.js');
  const home = tempDir('unpacking-pull');
  const dir = join(home, 'datasets', 'fsdd');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '.loaa-dataset.json'), JSON.stringify({ files: 3000, manifest: 'verified' }));
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
  mkdirSync(`${dir}.unpacking-${dead}`);
  const r = await pullDataset('fsdd', { home, endpoint: 'http://127.0.0.1:9' });
  assert.equal(r.skipped, true);
  assert.ok(!existsSync(`${dir}.unpacking-${dead}`));
});
