import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { encodeWav } from '../../src/audio/wav.js';
import { fileProvenance, recordBackbone } from '../../src/infer/provenance.js';
import { readAdapterConfig } from '../../src/peft/checkpoint.js';
import { adapterDir, backbonePath, caseNamed, freshDir } from '../models/model_cases.js';

const C = caseNamed('loaa_attn_1x3_s10');

test('loaa predict DIR --csv: recorded backbone, every clip a row, the corrupt one reported and skipped, exit 1', {
  timeout: 120_000,
}, () => {
  const dir = freshDir('predict-batch-cli');
  const adapter = adapterDir(C)!;
  recordBackbone(adapter, fileProvenance(readAdapterConfig(adapter).arch, backbonePath(C.backbone)));
  const clips = join(dir, 'clips');
  for (let k = 0; k < 5; k++) {
    const ch = new Float32Array(8000).map((_, i) => 0.3 * Math.sin(i * (0.05 + 0.02 * k)));
    const p = join(clips, `sub${k % 2}`, `c${k}.wav`);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, encodeWav({ sampleRate: 16000, channels: [ch] }));
  }
  writeFileSync(join(clips, 'sub0', 'c9.wav'), 'RIFF....broken');
  const r = spawnSync(
    process.execPath,
    [join(repoRoot, 'bin', 'loaa.js'), 'predict', clips, '--adapter', adapter, '--csv', '--batch-size', '2', '--top-k', '2'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 1, r.stderr);
  const rows = r.stdout.trim().split('\n');
  assert.equal(rows[0], 'input,status,label1,score1,label2,score2,error');
  assert.equal(rows.length, 7);
  assert.equal(rows.filter((x) => x.includes(',ok,')).length, 5);
  assert.ok(rows.some((x) => x.startsWith(`${join(clips, 'sub0', 'c9.wav')},error,`)));
  assert.match(
    r.stderr,
    new RegExp(`^loaa predict: ${join(clips, 'sub0', 'c9.wav').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*\\(skipped\\)$`, 'm'),
  );
  assert.match(r.stderr, /6 inputs: 5 classified, 1 failed/);
  // the same through --json (one object at the end) and from a list on stdin
  const list = spawnSync(process.execPath, [join(repoRoot, 'bin', 'loaa.js'), 'predict', '-', '--adapter', adapter, '--json'], {
    encoding: 'utf8',
    input: `${join(clips, 'sub1', 'c1.wav')}\n${join(clips, 'sub0', 'c0.wav')}\n`,
  });
  assert.equal(list.status, 0, list.stderr);
  const j = JSON.parse(list.stdout);
  assert.deepEqual(
    j.results.map((x: { input: string }) => x.input),
    [join(clips, 'sub1', 'c1.wav'), join(clips, 'sub0', 'c0.wav')],
  );
  assert.ok(j.results[0].top[0].score > 0);
});
