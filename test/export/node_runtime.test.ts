import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { features, modelInfo, topK } from '../../src/export/classify.js';
import { fixture, loaa } from '../helpers.js';
import { freshDir } from '../models/model_cases.js';
import { exportCase } from './export_cases.js';

test('the Node recipe of docs/deploy.md (onnxruntime-node + loaa front end) gives what loaa predict gives', async () => {
  const { dir, backbone } = exportCase('loaa_3x3_mixed');
  const file = join(freshDir('node-rt'), 'model.onnx');
  const ex = loaa(['export', dir, '--backbone', backbone, '--out', file]);
  assert.equal(ex.status, 0, ex.stderr);
  const wav = fixture('audio', 'wav', 'in_16000_2ch_float32.wav');

  // the recipe
  const info = modelInfo(readFileSync(file));
  const session = await ort.InferenceSession.create(file);
  const spec = await features(readFileSync(wav), wav, info);
  const out = await session.run({ fbank: new ort.Tensor('float32', spec.data, [1, spec.frames, spec.bins]) });
  const top = topK(out.logits.data as Float32Array, info.labels, 3);
  await session.release();

  const p = loaa(['predict', wav, '--backbone', backbone, '--adapter', dir, '--top-k', '3', '--json']);
  assert.equal(p.status, 0, p.stderr);
  const want = (JSON.parse(p.stdout) as { results: { logits: number[]; top: { label: string; score: number }[] }[] }).results[0];
  assert.deepEqual(
    top.map((t) => t.label),
    want.top.map((t) => t.label),
  );
  top.forEach((t, i) => {
    assert.ok(Math.abs(t.score - want.top[i].score) <= 1e-4, `${t.label}: ${t.score} vs ${want.top[i].score}`);
  });
  const logits = out.logits.data as Float32Array;
  const scale = Math.max(...want.logits.map(Math.abs));
  want.logits.forEach((l, i) => {
    assert.ok(Math.abs(logits[i] - l) <= 1e-4 * (1 + scale), `logit ${i}: ${logits[i]} vs ${l}`);
  });
});
