import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFsdd } from '../../src/cli/commands/demo.js';
import { repoRoot } from '../helpers.js';
import { wavBytes } from '../data/wav_writer.js';

/** FSDD's naming, `digits` x `indices` short clips of 8 kHz noise-free tones. */
function fsddFolder(dir: string, indices: number): string {
  mkdirSync(dir, { recursive: true });
  for (let d = 0; d < 10; d++) {
    for (let i = 0; i < indices; i++) {
      writeFileSync(
        join(dir, `${d}_spk_${i}.wav`),
        wavBytes(
          Array.from({ length: 1600 }, (_, k) => 0.3 * Math.sin((k * (d + 2) * (1 + i / 40)) / 9)),
          { sampleRate: 8000 },
        ),
      );
    }
  }
  return dir;
}

test('the demo looks for FSDD in order: --data, beside the repository, the loaa pull cache', () => {
  const root = mkdtempSync(join(tmpdir(), 'loaa-demo-data-'));
  try {
    const data = fsddFolder(join(root, 'data'), 1);
    const beside = fsddFolder(join(root, 'beside'), 1);
    const pulled = fsddFolder(join(root, 'home', 'datasets', 'fsdd', 'recordings'), 1);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    assert.deepEqual(findFsdd(data, pulled, beside), { dir: data, source: 'data', from: 'from --data' });
    assert.equal(findFsdd(undefined, pulled, beside)!.source, 'repository');
    assert.equal(findFsdd(undefined, pulled, beside)!.dir, beside);
    assert.deepEqual(findFsdd(undefined, pulled, join(root, 'absent')), {
      dir: pulled,
      source: 'pulled',
      from: 'downloaded by `loaa pull fsdd`',
    });
    assert.equal(findFsdd(undefined, pulled, empty)!.source, 'pulled', 'a folder without WAVs does not count');
    assert.equal(findFsdd(undefined, null, join(root, 'absent')), null);
    assert.equal(findFsdd(empty, pulled, beside), null, '--data without WAVs: no FSDD (not a silent fallback to another copy)');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('loaa demo --quick --data: trains on that FSDD folder and says where its data came from', () => {
  const root = mkdtempSync(join(tmpdir(), 'loaa-demo-fsdd-'));
  try {
    const data = fsddFolder(join(root, 'recordings'), 13);
    const r = spawnSync(
      process.execPath,
      [join(repoRoot, 'bin', 'loaa.js'), 'demo', '--quick', '--data', data, '--out', join(root, 'runs'), '--json'],
      {
        encoding: 'utf8',
        cwd: root,
        env: { ...process.env, LOAA_HOME: join(root, 'home') },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.data, 'fsdd');
    assert.equal(j.data_dir, data);
    assert.equal(j.data_source, 'data');
    assert.match(r.stderr, new RegExp(`data: +FSDD \\(${data.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, from --data\\)`));
    assert.ok(j.prediction.input.startsWith(data));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
