import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loaa } from '../helpers.js';
import { backbonePath, freshDir } from '../models/model_cases.js';
import { exportCase } from './export_cases.js';

/** A failure is one line on stderr that starts with "loaa export: " and names `what`. */
function oneLineError(r: ReturnType<typeof loaa>, what: RegExp): void {
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !/^npm warn/.test(l));
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^loaa export: /);
  assert.match(lines[0], what);
}

test('export --verify --json: the file runs in onnxruntime-node like loaa; fp16 with a fixed batch too', () => {
  const { dir, backbone } = exportCase('adapter_seq_s10');
  const d = freshDir('cli');
  let r = loaa(['export', dir, '--backbone', backbone, '--format', 'onnx', '--out', join(d, 'a.onnx'), '--verify', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    file: string;
    bytes: number;
    input: { shape: unknown[] };
    verify: { ok: boolean; maxDiff: number; bound: number; top1Agrees: boolean };
  };
  assert.ok(existsSync(j.file));
  assert.deepEqual(j.input.shape, ['dynamic', 100, 128]);
  assert.ok(j.verify.ok && j.verify.maxDiff <= j.verify.bound && j.verify.top1Agrees);
  r = loaa([
    'export',
    dir,
    '--backbone',
    backbone,
    '--out',
    join(d, 'b.onnx'),
    '--precision',
    'fp16',
    '--batch',
    '3',
    '--verify',
    '--json',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const k = JSON.parse(r.stdout) as { bytes: number; input: { shape: unknown[] }; verify: { ok: boolean; inputs: number } };
  assert.deepEqual(k.input.shape, [3, 100, 128]);
  assert.ok(k.verify.ok);
  assert.equal(k.verify.inputs % 3, 0);
  assert.ok(k.bytes < j.bytes * 0.55);
  r = loaa(['export', dir, '--backbone', backbone, '--out', join(d, 'c.onnx')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /c\.onnx: [\d.]+ MB, fp32, input fbank \[dynamic, 100, 128\], logits \[dynamic, \d+\]/);
});

test('bad input to export is a one-line error naming what is wrong', () => {
  const { dir, backbone } = exportCase('loaa_attn_1x3_s10');
  const d = freshDir('cli-bad');
  const out = join(d, 'x.onnx');
  const missing = join(d, 'no-such-adapter');
  oneLineError(loaa(['export', missing, '--backbone', backbone, '--out', out]), new RegExp(`${missing}: not an adapter directory`));
  // a DeiT-base (width 768) backbone under a DeiT-tiny adapter
  oneLineError(
    loaa(['export', dir, '--backbone', backbonePath('deit_base_distilled_patch16_384_depth1'), '--out', out]),
    /deit_base_distilled_patch16_384_depth1\.safetensors: this checkpoint is .*not deit_tiny_distilled_patch16_224/,
  );
  oneLineError(loaa(['export', dir, '--backbone', join(d, 'nothing.safetensors'), '--out', out]), /nothing\.safetensors: .*does not exist/);
  oneLineError(loaa(['export', dir, '--out', out]), /--backbone: missing/);
  oneLineError(loaa(['export', dir, '--backbone', backbone]), /--out: missing/);
  oneLineError(loaa(['export', dir, '--backbone', backbone, '--out', out, '--format', 'tflite']), /--format: expected one of onnx/);
  oneLineError(
    loaa(['export', dir, '--backbone', backbone, '--out', out, '--precision', 'int8']),
    /--precision: expected one of fp32, fp16/,
  );
  oneLineError(
    loaa(['export', dir, '--backbone', backbone, '--out', out, '--batch', '0']),
    /--batch: expected "dynamic" or a positive integer/,
  );
  oneLineError(
    loaa(['export', dir, '--backbone', backbone, '--out', out, '--frames', '8']),
    /--frames: expected an integer in \[16, 1000000\], got "8"/,
  );
  assert.ok(!existsSync(out), 'nothing written on bad input');
  rmSync(d, { recursive: true, force: true });
});
