import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AudioClassifier } from '../../src/api/classifier.js';
import { fileProvenance, randomProvenance, readBackbone, recordBackbone } from '../../src/infer/provenance.js';
import { encodeWav } from '../../src/audio/wav.js';
import { readAudio } from '../../src/audio/decode.js';
import { readSafetensors, rawFromFloat32, rawToFloat32, writeSafetensors } from '../../src/io/safetensors.js';
import { AudioSpectrogramTransformer } from '../../src/models/ast.js';
import { astConfigFromAdapter, readAdapterConfig } from '../../src/peft/checkpoint.js';
import { adapterDir, backbonePath, caseNamed, freshDir } from '../models/model_cases.js';

const C = caseNamed('loaa_attn_1x3_s10');
const backbone = backbonePath(C.backbone);

function wavFile(dir: string, name: string, f: number, sr = 16000): string {
  const n = Math.round(sr * 0.7);
  const ch = new Float32Array(n).map(
    (_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / sr) + 0.05 * Math.sin((2 * Math.PI * 3 * f * i) / sr),
  );
  const p = join(dir, name);
  writeFileSync(p, encodeWav({ sampleRate: sr, channels: [ch] }));
  return p;
}

/** A copy of the fixture adapter with its head changed, so the two give different answers. */
function otherAdapter(): string {
  const src = adapterDir(C)!;
  const d = freshDir('other-adapter');
  copyFileSync(join(src, 'adapter_config.json'), join(d, 'adapter_config.json'));
  const t = readSafetensors(join(src, 'adapter_model.safetensors')).tensors;
  const out: Record<string, ReturnType<typeof rawFromFloat32>> = {};
  for (const [name, raw] of t) {
    const x = rawToFloat32(raw);
    if (name === 'head.fc.weight')
      x.forEach((v, i) => {
        x[i] = -2 * v;
      });
    out[name] = rawFromFloat32(x, raw.shape);
  }
  writeSafetensors(join(d, 'adapter_model.safetensors'), out);
  return d;
}

test('classify from a path, the file bytes and the samples gives identical scores', async () => {
  const dir = freshDir('api-inputs');
  const wav = wavFile(dir, 'a.wav', 523, 22050);
  const clf = await AudioClassifier.fromPretrained(adapterDir(C)!, { backbone });
  try {
    const a = await clf.classify(wav, { topK: 4 });
    assert.equal(a.length, 4);
    assert.ok(
      a.every((x, i) => i === 0 || a[i - 1].score >= x.score),
      'best first',
    );
    assert.ok(a.every((x) => x.score > 0 && x.score < 1 && clf.labels.includes(x.label)));
    const b = await clf.classify(readFileSync(wav), { topK: 4 });
    const audio = await readAudio(wav);
    const c = await clf.classify(audio.channels[0], { sampleRate: audio.sampleRate, topK: 4 });
    const d = await clf.classify({ samples: audio.channels[0], sampleRate: audio.sampleRate }, { topK: 4 });
    assert.deepEqual(b, a);
    assert.deepEqual(c, a);
    assert.deepEqual(d, a);
    // batched the same as one by one
    const other = wavFile(dir, 'b.wav', 180);
    const many = await clf.classifyMany([wav, other, wav], { topK: 4, batchSize: 2 });
    assert.equal(many.length, 3);
    for (const [got, want] of [
      [many[0], a],
      [many[2], a],
      [many[1], await clf.classify(other, { topK: 4 })],
    ]) {
      got.forEach((x, i) => {
        assert.equal(x.label, want[i].label);
        assert.ok(Math.abs(x.score - want[i].score) < 1e-5);
      });
    }
    // the overloads make this a type error (test/api/types_check.ts); JavaScript callers get the run-time one
    // @ts-expect-error a bare Float32Array needs its sampleRate
    await assert.rejects(clf.classify(new Float32Array(10)), /^Error: sampleRate: required/);
    await assert.rejects(clf.classify(join(dir, 'nope.wav')), /nope\.wav: cannot read audio file: no such file/);
    await assert.rejects(clf.classify(Buffer.from('garbage!')), /^Error: audio bytes: not an audio file/);
  } finally {
    clf.dispose();
  }
});

test('two adapters on one backbone answer as two separate classifiers do', async () => {
  const dir = freshDir('api-two');
  const wav = wavFile(dir, 'a.wav', 300);
  const first = adapterDir(C)!;
  const second = otherAdapter();
  const shared = await AudioClassifier.fromPretrained(first, { backbone });
  const solo1 = await AudioClassifier.fromPretrained(first, { backbone });
  const solo2 = await AudioClassifier.fromPretrained(second, { backbone });
  try {
    shared.addAdapter('second', second);
    assert.deepEqual(shared.adapters(), ['default', 'second']);
    assert.equal(shared.activeAdapter, 'default', 'loading another adapter keeps the active one');
    const k = { topK: 5 };
    const s1 = await shared.classify(wav, k);
    shared.useAdapter('second');
    const s2 = await shared.classify(wav, k);
    shared.useAdapter('default');
    const s1again = await shared.classify(wav, k);
    assert.deepEqual(s1, await solo1.classify(wav, k));
    assert.deepEqual(s2, await solo2.classify(wav, k));
    assert.deepEqual(s1again, s1);
    assert.notDeepEqual(s1, s2);
    // the server/batch interface switches per call
    const audio = await readAudio(wav);
    const item = { input: { kind: 'audio' as const, samples: audio.channels[0], sampleRate: audio.sampleRate }, topK: 5 };
    const [viaBatch] = await shared.classifyBatch([item], 'second');
    assert.deepEqual(viaBatch, s2);
    const [bad] = await shared.classifyBatch(
      [{ input: { kind: 'features', data: new Float32Array(6), shape: [2, 3] }, topK: 1 }],
      'default',
    );
    assert.ok(bad instanceof Error && /^features: shape \[2, 3\], the model takes/.test(bad.message));
    assert.throws(() => shared.useAdapter('zzz'), /useAdapter: no adapter "zzz" \(loaded: default, second\)/);
    // loadAdapter: the deprecated alias of addAdapter, kept for one release
    assert.throws(() => shared.loadAdapter('second', second), /already loaded/);
  } finally {
    shared.dispose();
    solo1.dispose();
    solo2.dispose();
  }
});

test('provenance: the recorded file backbone is found and checked; another one is an error naming both hashes unless forced', async () => {
  const dir = freshDir('api-prov');
  const wav = wavFile(dir, 'a.wav', 700);
  const adapter = otherAdapter();
  await assert.rejects(AudioClassifier.fromPretrained(adapter), /adapter_config\.json: backbone: not recorded/);
  const arch = readAdapterConfig(adapter).arch;
  const prov = fileProvenance(arch, backbone);
  recordBackbone(adapter, prov);
  assert.deepEqual(readBackbone(adapter), prov);
  assert.equal(prov.source, `file:${backbone}`);
  const byRecord = await AudioClassifier.fromPretrained(adapter);
  const byPath = await AudioClassifier.fromPretrained(adapter, { backbone });
  try {
    assert.deepEqual(await byRecord.classify(wav), await byPath.classify(wav));
    assert.deepEqual(byRecord.backbone, prov);
  } finally {
    byRecord.dispose();
    byPath.dispose();
  }
  const tampered = join(dir, 'tampered.safetensors');
  const bytes = readFileSync(backbone);
  bytes[bytes.length - 1] ^= 0x10;
  writeFileSync(tampered, bytes);
  await assert.rejects(AudioClassifier.fromPretrained(adapter, { backbone: tampered }), (e: Error) => {
    assert.ok(e.message.startsWith(`${tampered}: sha256 `));
    assert.ok(e.message.includes(prov.sha256));
    assert.match(
      e.message,
      /sha256 [0-9a-f]{64} is not the backbone this adapter was trained on .*pass --force \(force: true in the API\)/,
    );
    return true;
  });
  const forced = await AudioClassifier.fromPretrained(adapter, { backbone: tampered, force: true });
  forced.dispose();
});

test('provenance: a random backbone is rebuilt from its seed; a seed that builds other weights is refused', async () => {
  const dir = freshDir('api-random');
  const wav = wavFile(dir, 'a.wav', 440);
  const adapter = otherAdapter();
  const cfg = readAdapterConfig(adapter);
  const model = new AudioSpectrogramTransformer(astConfigFromAdapter(cfg), { seed: 1234 });
  const prov = randomProvenance(cfg.arch, 1234, model);
  model.dispose();
  recordBackbone(adapter, prov);
  const a = await AudioClassifier.fromPretrained(adapter);
  const b = await AudioClassifier.fromPretrained(adapter);
  try {
    assert.deepEqual(await a.classify(wav), await b.classify(wav), 'rebuilt the same twice');
  } finally {
    a.dispose();
    b.dispose();
  }
  const j = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
  j.backbone.seed = 99;
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify(j));
  await assert.rejects(
    AudioClassifier.fromPretrained(adapter),
    /^Error: the random backbone rebuilt from seed 99: sha256 [0-9a-f]{64} is not the backbone/,
  );
  j.backbone.sha256 = 'xyz';
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify(j));
  await assert.rejects(AudioClassifier.fromPretrained(adapter), /adapter_config\.json: backbone\.sha256: expected 64 hex digits/);
});
