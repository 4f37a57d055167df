import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loaa } from '../helpers.js';
import { encodeWav } from '../../src/audio/wav.js';
import { fileProvenance, recordBackbone } from '../../src/infer/provenance.js';
import { readAdapterConfig } from '../../src/peft/checkpoint.js';
import { runBatchPredict } from '../../src/batch/cli.js';
import { cudaAvailable } from '../../src/tensor/device.js';
import type { ClassifierBackend, ClassifyItem, Scored } from '../../src/serve/backend.js';
import { adapterDir, backbonePath, caseNamed, freshDir } from '../models/model_cases.js';

const C = caseNamed('loaa_attn_1x3_s10');

function softmax(v: number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

interface Rec {
  input: string;
  top: Scored[];
  logits: number[];
}

test("batch predict --jsonl and --json carry each clip's logits beside the top labels (as the single form does)", {
  timeout: 180_000,
}, () => {
  const dir = freshDir('predict-logits');
  const adapter = adapterDir(C)!;
  const cfg = readAdapterConfig(adapter);
  const backbone = backbonePath(C.backbone);
  recordBackbone(adapter, fileProvenance(cfg.arch, backbone));
  const clips: string[] = [];
  mkdirSync(join(dir, 'clips'));
  for (let k = 0; k < 3; k++) {
    const ch = new Float32Array(9000).map((_, i) => 0.3 * Math.sin(i * (0.04 + 0.03 * k)));
    clips.push(join(dir, 'clips', `c${k}.wav`));
    writeFileSync(clips[k], encodeWav({ sampleRate: 16000, channels: [ch] }));
  }
  const jl = loaa(['predict', join(dir, 'clips'), '--adapter', adapter, '--jsonl', '--batch-size', '2', '--top-k', '3']);
  assert.equal(jl.status, 0, jl.stderr);
  const recs = jl.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Rec);
  assert.deepEqual(
    recs.map((r) => r.input),
    clips,
  );
  for (const r of recs) {
    assert.deepEqual(Object.keys(r), ['input', 'top', 'logits']);
    assert.equal(r.logits.length, cfg.num_classes);
    const p = softmax(r.logits);
    const labels = cfg.labels ?? p.map((_, i) => String(i));
    const best = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, 3);
    assert.deepEqual(
      r.top.map((t) => t.label),
      best.map((i) => labels[i]),
    );
    r.top.forEach((t, i) => {
      assert.ok(Math.abs(t.score - p[best[i]]) < 1e-6, `${t.score} vs softmax ${p[best[i]]}`);
    });
  }
  assert.notDeepEqual(recs[0].logits, recs[1].logits);

  // --json: the single form's shape {input, logits, top: [{label, p}]}, and the same numbers as it
  const js = loaa(['predict', ...clips.slice(0, 2), '--adapter', adapter, '--json', '--top-k', '3']);
  assert.equal(js.status, 0, js.stderr);
  const batch = JSON.parse(js.stdout) as { results: { input: string; logits: number[]; top: { label: string; score: number }[] }[] };
  assert.deepEqual(Object.keys(batch.results[0]), ['input', 'logits', 'top']);
  const single = loaa(['predict', clips[0], '--backbone', backbone, '--adapter', adapter, '--json', '--top-k', '3']);
  assert.equal(single.status, 0, single.stderr);
  const s = JSON.parse(single.stdout) as { results: { logits: number[] }[] };
  const diff = Math.max(...s.results[0].logits.map((v, i) => Math.abs(v - batch.results[0].logits[i])));
  assert.ok(diff < 1e-4, `batch and single-form logits differ by ${diff}`);
  assert.deepEqual(batch.results[1].logits, recs[1].logits);
});

test('a backend without logits: the records keep their old shape', async () => {
  const dir = freshDir('predict-nologits');
  writeFileSync(join(dir, 'a.wav'), encodeWav({ sampleRate: 16000, channels: [new Float32Array(4000).fill(0.1)] }));
  const backend: ClassifierBackend = {
    adapters: () => ['default'],
    classifyBatch: async (items: ClassifyItem[]) => items.map(() => [{ label: 'x', score: 1 }]),
  };
  let out = '';
  const stdout = new Writable({
    write(c, _e, cb) {
      out += c.toString();
      cb();
    },
  });
  const stderr = new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });
  const { code } = await runBatchPredict(backend, {
    inputs: [join(dir, 'a.wav')],
    format: 'jsonl',
    batchSize: 2,
    topK: 1,
    adapter: 'default',
    stdout,
    stderr,
    progressEveryS: 0,
  });
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), { input: join(dir, 'a.wav'), top: [{ label: 'x', score: 1 }] });
});

test('loaa predict --precision bf16 / --device: logits near fp32; cuda without a GPU is a one-line error', { timeout: 180_000 }, (t) => {
  const dir = freshDir('predict-precision');
  const adapter = adapterDir(C)!;
  const cfg = readAdapterConfig(adapter);
  recordBackbone(adapter, fileProvenance(cfg.arch, backbonePath(C.backbone)));
  const clip = join(dir, 'a.wav');
  writeFileSync(clip, encodeWav({ sampleRate: 16000, channels: [new Float32Array(9000).map((_, i) => 0.3 * Math.sin(i * 0.07))] }));
  const run = (...extra: string[]) => loaa(['predict', clip, '--adapter', adapter, '--json', ...extra]);
  const fp32 = run();
  const bf16 = run('--precision', 'bf16', '--device', 'cpu');
  assert.equal(fp32.status, 0, fp32.stderr);
  assert.equal(bf16.status, 0, bf16.stderr);
  const a = (JSON.parse(fp32.stdout) as { results: { logits: number[] }[] }).results[0].logits;
  const b = (JSON.parse(bf16.stdout) as { results: { logits: number[] }[] }).results[0].logits;
  const diff = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  const scale = Math.max(...a.map(Math.abs));
  assert.ok(diff > 0 && diff <= 0.05 * (1 + scale), `bf16 vs fp32: ${diff}`);
  const bad = run('--precision', 'int4');
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /--precision: expected one of fp32, bf16, fp16, auto, got "int4"/);
  if (cudaAvailable()) return t.skip('a CUDA device is visible: the no-GPU error cannot be shown here');
  const cuda = run('--device', 'cuda');
  assert.notEqual(cuda.status, 0);
  assert.equal(cuda.stdout, '');
  const lines = cuda.stderr.split('\n').filter((l) => l.trim() && !/^npm warn/.test(l));
  assert.equal(lines.length, 1, cuda.stderr);
  assert.match(lines[0], /--device: cuda requested but /);
});
