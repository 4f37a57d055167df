import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { exportModel, loadForExport } from '../../src/export/export.js';
import { FP16_TOLERANCE, ortLogits, verifyOnnx } from '../../src/export/verify.js';
import { mergeLora } from '../../src/peft/lora.js';
import { freshDir } from '../models/model_cases.js';
import { exportCase } from './export_cases.js';

async function checkCase(name: string, opts: { frames?: number; merge?: boolean } = {}): Promise<void> {
  const { dir, backbone } = exportCase(name);
  const { model, config } = loadForExport(dir, backbone, opts.frames);
  try {
    if (opts.merge) assert.ok(mergeLora(model) > 0, 'LoRA deltas were merged');
    const out = join(freshDir('onnx'), 'model.onnx');
    exportModel(model, config, { out });
    const r = await verifyOnnx(out, model, { inputs: 2, batch: 2 });
    assert.ok(r.ok, `max diff ${r.maxDiff} > ${r.bound}`);
    assert.ok(r.maxLogit > 0.01, 'logits are not trivially zero');
  } finally {
    model.dispose();
  }
}

// distilled tiny DeiT (12 blocks) unless said; s10 = strides 10x10, else 16x16
const CASES: [string, string][] = [
  ['loaa_attn_1x3_s10', 'LoAA T (1x3) on attn, stride 10'],
  ['loaa_ffn_3x1_bias_half', 'LoAA F (3x1) on ffn with bias and scale 0.5, stride 16'],
  ['loaa_3x3_mixed', 'LoAA 3x3'],
  ['adapter_1x1_both_s10', '1x1 parallel adapter on attn and ffn'],
  ['adapter_seq_s10', 'sequential adapter'],
  ['lora_qv_r4', 'LoRA q,v (folded into qkv at export)'],
  ['prompt_n5', 'deep prompts'],
  ['loaa_prompt_n3', 'LoAA with deep prompts'],
  ['bitfit', 'BitFit'],
  ['tinycls_loaa_3x3', 'non-distilled DeiT (2 blocks), LoAA 3x3 + 1x3 with bias'],
];

for (const [name, what] of CASES) {
  test(`onnxruntime-node logits equal loaa's in fp32: ${what} (${name})`, () => checkCase(name));
}

test('merged LoRA (mergeLora before export) exports and matches', () => checkCase('lora_qv_r4', { merge: true }));

test('a time length whose grid is longer than the positional table (resized, 300 frames, 29 columns)', () =>
  checkCase('loaa_attn_1x3_s10', { frames: 300 }));

test('a time length shorter than the adapter was trained on (cropped, 64 frames)', () =>
  checkCase('loaa_ffn_3x1_bias_half', { frames: 64 }));

test('fp16 weights: half the file, logits within the documented tolerance', async () => {
  const { dir, backbone } = exportCase('loaa_3x3_mixed');
  const { model, config } = loadForExport(dir, backbone);
  try {
    const d = freshDir('fp16');
    const a = exportModel(model, config, { out: join(d, 'fp32.onnx') });
    const b = exportModel(model, config, { out: join(d, 'fp16.onnx'), precision: 'fp16' });
    assert.ok(b.bytes < a.bytes * 0.55 && b.bytes > a.bytes * 0.45, `fp16 ${b.bytes} B vs fp32 ${a.bytes} B`);
    const r = await verifyOnnx(b.file, model, { precision: 'fp16', inputs: 4, batch: 2 });
    assert.equal(r.tolerance, FP16_TOLERANCE);
    assert.ok(r.ok, `fp16 max diff ${r.maxDiff} > ${r.bound}`);
    const r32 = await verifyOnnx(a.file, model, { inputs: 4, batch: 2 });
    assert.ok(r.maxDiff > r32.maxDiff, 'fp16 storage is measurably coarser than fp32 (the weights really are float16)');
  } finally {
    model.dispose();
  }
});

test('dynamic batch: batch 1 and batch 4 give the same logits; a fixed batch is declared as such', async () => {
  const { dir, backbone } = exportCase('loaa_attn_1x3_s10');
  const { model, config } = loadForExport(dir, backbone);
  const { frames, melBins } = model.cfg;
  const C = model.numClasses;
  const d = freshDir('batch');
  let fixed: string;
  let dyn: string;
  try {
    dyn = exportModel(model, config, { out: join(d, 'dyn.onnx') }).file;
    fixed = exportModel(model, config, { out: join(d, 'fixed.onnx'), batch: 4 }).file;
  } finally {
    model.dispose();
  }
  const per = frames * melBins;
  const x = new Float32Array(4 * per);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) * 1.3;
  const all = await ortLogits(dyn, x, [4, frames, melBins]);
  for (let b = 0; b < 4; b++) {
    const one = await ortLogits(dyn, x.subarray(b * per, (b + 1) * per), [1, frames, melBins]);
    const ref = all.subarray(b * C, (b + 1) * C);
    const scale = Math.max(...ref.map(Math.abs));
    for (let k = 0; k < C; k++) assert.ok(Math.abs(one[k] - ref[k]) <= 1e-5 * (1 + scale), `item ${b} class ${k}: ${one[k]} vs ${ref[k]}`);
  }
  const f = await ortLogits(fixed, x, [4, frames, melBins]);
  for (let k = 0; k < all.length; k++) assert.ok(Math.abs(f[k] - all[k]) <= 1e-5 * (1 + Math.abs(all[k])));
  await assert.rejects(
    ortLogits(fixed, x.subarray(0, per), [1, frames, melBins]),
    /dimension|shape|Got/i,
    'a batch-4 model refuses batch 1',
  );
  const { onnx } = onnxProto;
  const dim0 = (file: string) => onnx.ModelProto.decode(readFileSync(file)).graph?.input?.[0]?.type?.tensorType?.shape?.dim?.[0];
  assert.equal(dim0(dyn)?.dimParam, 'batch');
  assert.equal(Number(dim0(fixed)?.dimValue), 4);
});

test('metadata_props carry the labels and the front end; opset 17', () => {
  const { dir, backbone } = exportCase('loaa_ffn_3x1_bias_half');
  const { model, config } = loadForExport(dir, backbone);
  try {
    const out = join(freshDir('meta'), 'm.onnx');
    exportModel(model, config, { out });
    const m = onnxProto.onnx.ModelProto.decode(readFileSync(out));
    const graph = m.graph;
    assert.ok(graph);
    const meta = new Map(m.metadataProps.map((p) => [p.key, p.value]));
    assert.deepEqual(JSON.parse(meta.get('labels')!), config.labels);
    assert.deepEqual(JSON.parse(meta.get('frontend')!), config.frontend);
    assert.equal(Number(m.opsetImport[0].version), 17);
    const ops = new Set((graph.node ?? []).map((n) => n.opType));
    for (const op of ['LayerNormalization', 'Erf', 'Conv', 'MatMul', 'Softmax']) assert.ok(ops.has(op), `uses ${op}`);
  } finally {
    model.dispose();
  }
});

test('external data: weights over the threshold go to <file>.data and the model still runs', async () => {
  const { dir, backbone } = exportCase('loaa_attn_1x3_s10');
  const { model, config } = loadForExport(dir, backbone);
  try {
    const d = freshDir('ext');
    const inl = exportModel(model, config, { out: join(d, 'inline.onnx') });
    const ext = exportModel(model, config, { out: join(d, 'ext.onnx'), externalThreshold: 64 * 1024 });
    assert.equal(inl.dataFile, undefined);
    assert.equal(ext.dataFile, join(d, 'ext.onnx.data'));
    assert.ok(existsSync(ext.dataFile!));
    assert.ok(ext.bytes < inl.bytes / 10, `the graph file is small (${ext.bytes} B of ${inl.bytes} B)`);
    assert.equal(statSync(ext.dataFile!).size, ext.dataBytes);
    const r = await verifyOnnx(ext.file, model, { inputs: 2, batch: 2 });
    assert.ok(r.ok, `max diff ${r.maxDiff} > ${r.bound}`);
  } finally {
    model.dispose();
  }
});
