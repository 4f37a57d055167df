/**
 * Non-finite outputs (#11): NaN/Inf weights or inputs give an Error naming the clip and the likely
 * source in predict and eval, and a 400 with that message in serve, never NaN scores with exit 0 / 200.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../helpers.js';
import { fileProvenance, recordBackbone } from '../../src/infer/provenance.js';
import { AudioClassifier } from '../../src/api/classifier.js';
import { encodeWav } from '../../src/audio/wav.js';
import { DataLoader } from '../../src/data/loader.js';
import { Classifier } from '../../src/infer/classifier.js';
import { rawFromFloat32, rawToFloat32, readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { readAdapterConfig } from '../../src/peft/checkpoint.js';
import { startServer } from '../../src/serve/server.js';
import { evaluateModel } from '../../src/train/step.js';
import { adapterDir, backbonePath, caseNamed, freshDir } from '../models/model_cases.js';

const C = caseNamed('loaa_attn_1x3_s10');
const backbone = backbonePath(C.backbone);

/** A copy of the fixture adapter whose head weights hold one NaN. */
function nanAdapter(): string {
  const src = adapterDir(C)!;
  const d = freshDir('nan-adapter');
  copyFileSync(join(src, 'adapter_config.json'), join(d, 'adapter_config.json'));
  const out: Record<string, ReturnType<typeof rawFromFloat32>> = {};
  for (const [name, raw] of readSafetensors(join(src, 'adapter_model.safetensors')).tensors) {
    const x = rawToFloat32(raw).slice();
    if (name === 'head.fc.weight') x[3] = NaN;
    out[name] = rawFromFloat32(x, raw.shape);
  }
  writeSafetensors(join(d, 'adapter_model.safetensors'), out);
  return d;
}

function tone(dir: string, name: string, f: number): string {
  const sr = 16000;
  const ch = new Float32Array(Math.round(sr * 0.7)).map((_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / sr));
  const p = join(dir, name);
  writeFileSync(p, encodeWav({ sampleRate: sr, channels: [ch] }));
  return p;
}

const WEIGHTS = /the model's outputs are not finite \(NaN or infinity\) for finite features: the backbone or adapter weights hold NaN\/Inf/;

test('predict and eval: NaN weights are an Error naming the clip and the weights', async () => {
  const dir = freshDir('nonfinite-eval');
  const clips = [tone(dir, 'a.wav', 440), tone(dir, 'b.wav', 880)];
  const clf = Classifier.load(nanAdapter(), backbone);
  try {
    await assert.rejects(clf.classifyFile(clips[0]!), (e: Error) => e.message.startsWith(`${clips[0]}: `) && WEIGHTS.test(e.message));
    const loader = new DataLoader({
      clips: clips.map((path, i) => ({ id: `clip-${i}.wav`, path, label: i % clf.labels.length })),
      numClasses: clf.labels.length,
      frontend: clf.frontend!,
      batchSize: 2,
      workers: 0,
    });
    try {
      await assert.rejects(
        evaluateModel(clf.model, loader, { loss: 'ce', requireFinite: true }),
        (e: Error) => e.message.startsWith('clip-0.wav: ') && WEIGHTS.test(e.message),
      );
    } finally {
      await loader.close();
    }
  } finally {
    clf.dispose();
  }
});

function post(url: string, body: string): Promise<{ status: number; json: { error?: string; top?: unknown } }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('serve: NaN weights answer 400 with the message, and the server keeps serving', async () => {
  const dir = nanAdapter();
  const { frames: T, melBins: F } = readAdapterConfig(dir).input;
  const clf = await AudioClassifier.fromPretrained(dir, { backbone });
  const h = await startServer(clf, { port: 0 });
  try {
    const features = Array.from({ length: T }, (_, t) => Array.from({ length: F }, (_, f) => Math.sin(t + f) / 2));
    for (let i = 0; i < 2; i++) {
      const r = await post(`${h.url}/v1/classify`, JSON.stringify({ features }));
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.match(r.json.error ?? '', /the model's outputs are not finite/);
    }
  } finally {
    await h.close(1000);
    clf.dispose();
  }
});

test('batch predict: NaN weights each file is an error record naming it (not null scores), exit 1', async () => {
  const dir = freshDir('nonfinite-batch');
  const clips = [tone(dir, 'a.wav', 440), tone(dir, 'b.wav', 880)];
  const adapter = nanAdapter();
  recordBackbone(adapter, fileProvenance(readAdapterConfig(adapter).arch, backbone));
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'loaa.js'), 'predict', ...clips, '--adapter', adapter, '--jsonl'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 1, r.stderr);
  const recs = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { input: string; error?: string; top?: unknown });
  assert.deepEqual(
    recs.map((x) => x.input),
    clips,
  );
  for (const x of recs) {
    assert.equal(x.top, undefined, 'no scores written');
    assert.ok(x.error?.startsWith(`${x.input}: the model's outputs are not finite`), x.error);
  }
});
