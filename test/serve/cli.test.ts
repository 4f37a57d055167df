import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { encodeWav } from '../../src/audio/wav.js';
import { AudioClassifier } from '../../src/api/classifier.js';
import { adapterDir, backbonePath, caseNamed } from '../models/model_cases.js';

const C = caseNamed('loaa_attn_1x3_s10');

test('loaa serve: real model behind the server, two adapter names, --json startup line, SIGTERM exits 0', {
  timeout: 120_000,
}, async () => {
  const backbone = backbonePath(C.backbone);
  const adapter = adapterDir(C)!;
  const proc = spawn(
    process.execPath,
    [
      join(repoRoot, 'bin', 'loaa.js'),
      'serve',
      '--adapter',
      adapter,
      '--adapter',
      `twin=${adapter}`,
      '--backbone',
      backbone,
      '--port',
      '0',
      '--json',
      '--top-k',
      '2',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  proc.stderr!.on('data', (c) => (stderr += c));
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  assert.ok(!first.done, `no startup line; stderr: ${stderr}`);
  const info = JSON.parse(first.value);
  assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(info.adapters, ['default', 'twin']);
  const ch = new Float32Array(16000).map((_, i) => 0.3 * Math.sin(i * 0.2));
  const wav = encodeWav({ sampleRate: 16000, channels: [ch] });
  const r = await fetch(`${info.url}/v1/classify?adapter=twin`, { method: 'POST', body: wav });
  assert.equal(r.status, 200);
  const body = (await r.json()) as { adapter: string; top: { label: string; score: number }[] };
  assert.equal(body.adapter, 'twin');
  assert.equal(body.top.length, 2);
  const local = await AudioClassifier.fromPretrained(adapter, { backbone });
  try {
    const want = await local.classify(
      { samples: (await import('../../src/audio/wav.js')).parseWav(wav, 'x').channels[0], sampleRate: 16000 },
      { topK: 2 },
    );
    assert.deepEqual(
      body.top.map((t) => t.label),
      want.map((t) => t.label),
    );
    body.top.forEach((t, i) => {
      assert.ok(Math.abs(t.score - want[i].score) < 1e-5);
    });
  } finally {
    local.dispose();
  }
  const bad = await fetch(`${info.url}/v1/classify`, { method: 'POST', body: 'nope' });
  assert.equal(bad.status, 400);
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  proc.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});
