/** loaa/onnx without the package round trip: its imports, metadata errors, clip extent, and a model run in-tree. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { featuresOf, modelInfo, topK } from '../../src/onnx/frontend.js';
import { onnxMetadata } from '../../src/onnx/metadata.js';
import { specFromFile } from '../../src/audio/frontend.js';

const LOAA = join(repoRoot, 'bin', 'loaa.js');

test('loaa/onnx loads neither libtorch nor the addon (child process, /proc/self/maps)', () => {
  const entry = join(repoRoot, 'dist', 'src', 'onnx', 'index.js');
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
const m = await import(${JSON.stringify(entry)});
const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
console.log(JSON.stringify({ exports: Object.keys(m).sort(), torch: /libtorch|libc10|loaa_native/.test(maps) }));`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { exports: string[]; torch: boolean };
  assert.equal(out.torch, false);
  for (const name of ['OnnxClassifier', 'modelInfo', 'features', 'topK', 'onnxMetadata']) assert.ok(out.exports.includes(name), name);
});

/** A ModelProto holding only metadata_props (field 14: {1: key, 2: value}). */
function protoWith(meta: Record<string, string>): Uint8Array {
  const enc = new TextEncoder();
  const bytes: number[] = [];
  const lenField = (field: number, body: number[]) => {
    bytes.push((field << 3) | 2);
    for (let n = body.length; ; n >>= 7) {
      if (n < 0x80) {
        bytes.push(n);
        break;
      }
      bytes.push((n & 0x7f) | 0x80);
    }
    bytes.push(...body);
  };
  for (const [k, v] of Object.entries(meta)) {
    const body: number[] = [];
    for (const [f, s] of [
      [1, k],
      [2, v],
    ] as const) {
      const b = [...enc.encode(s)];
      body.push((f << 3) | 2, b.length, ...b);
    }
    lenField(14, body);
  }
  return new Uint8Array(bytes);
}

test('modelInfo: labels and front end from metadata_props; errors name the file and the key', () => {
  const fe = { sample_rate: 16000, num_mel_bins: 128, target_length: 100, mean: -4, std: 4 };
  const info = modelInfo(protoWith({ labels: '["a","b"]', frontend: JSON.stringify(fe) }), 'm.onnx');
  assert.deepEqual(info, { labels: ['a', 'b'], frontend: fe, spec: specFromFile(fe) });
  assert.equal(info.spec.targetLength, 100);
  assert.throws(() => modelInfo(protoWith({ frontend: JSON.stringify(fe) }), 'x.onnx'), /^Error: x\.onnx: no "labels"/);
  assert.throws(
    () => modelInfo(protoWith({ labels: '[1]', frontend: JSON.stringify(fe) }), 'x.onnx'),
    /x\.onnx: metadata_props "labels" is not a list of strings/,
  );
  assert.throws(() => modelInfo(protoWith({ labels: '["a"]', frontend: '{"sample_rate":16000}' }), 'x.onnx'), /"frontend"\.num_mel_bins/);
  assert.throws(() => onnxMetadata(new Uint8Array([0x72, 0x40, 1]), 'y.onnx'), /^Error: y\.onnx: truncated protobuf field 14/);
});

test('featuresOf: the clip extent (validFrames) before the padding', () => {
  const frontend = { sample_rate: 16000, num_mel_bins: 128, target_length: 100 };
  const info = { labels: ['a'], frontend, spec: specFromFile(frontend) };
  const tone = (n: number, sr: number) => new Float32Array(n).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / sr));
  assert.equal(featuresOf({ sampleRate: 16000, channels: [tone(6400, 16000)] }, info).validFrames, 38); // 1 + (6400 - 400) / 160
  assert.equal(featuresOf({ sampleRate: 8000, channels: [tone(3200, 8000)] }, info).validFrames, 38); // the same 0.4 s at 8 kHz
  const long = featuresOf({ sampleRate: 16000, channels: [tone(48000, 16000)] }, info);
  assert.equal(long.validFrames, 100);
  assert.equal(long.frames, 100);
  const s = topK([0, Math.log(3)], ['x', 'y'], 2);
  assert.deepEqual(
    s.map((x) => x.label),
    ['y', 'x'],
  );
  assert.ok(Math.abs(s[0]!.score - 0.75) < 1e-12);
});

test("OnnxClassifier in-tree: an exported fixture model gives loaa predict's top-k", async (t) => {
  const { exportCase } = await import('../export/export_cases.js');
  const { freshDir } = await import('../models/model_cases.js');
  const { OnnxClassifier } = await import('../../src/onnx/classifier.js');
  const { dir: adapter, backbone } = exportCase('loaa_attn_1x3_s10');
  const out = join(freshDir('onnx-clf'), 'm.onnx');
  const ex = spawnSync(process.execPath, [LOAA, 'export', adapter, '--backbone', backbone, '--out', out], { encoding: 'utf8' });
  assert.equal(ex.status, 0, ex.stderr);
  const wav = join(repoRoot, 'fixtures', 'audio', 'wav', 'in_44100_2ch_int16.wav');
  const clf = await OnnxClassifier.load(out, { threads: 1 });
  const got = await clf.classify(wav, { topK: 3 });
  assert.deepEqual(await clf.classify(new Uint8Array(readFileSync(wav)), { topK: 3 }), got);
  await clf.dispose();
  await assert.rejects(clf.classify(wav), /has been disposed/);
  const p = spawnSync(process.execPath, [LOAA, 'predict', wav, '--backbone', backbone, '--adapter', adapter, '--top-k', '3', '--jsonl'], {
    encoding: 'utf8',
  });
  assert.equal(p.status, 0, p.stderr);
  const want = JSON.parse(p.stdout) as { top: { label: string; score: number }[] };
  assert.deepEqual(
    got.map((x) => x.label),
    want.top.map((x) => x.label),
  );
  got.forEach((x, i) => {
    assert.ok(Math.abs(x.score - want.top[i]!.score) < 1e-4, `${x.label} ${x.score} vs ${want.top[i]!.score}`);
  });
  t.diagnostic(`top-1 ${got[0]!.label} ${got[0]!.score.toFixed(4)}`);
});
