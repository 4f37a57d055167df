import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loaa } from '../helpers.js';
import { freshDir } from '../models/model_cases.js';
import { exportCase } from './export_cases.js';
import { fileProvenance, randomProvenance, recordBackbone } from '../../src/infer/provenance.js';
import { AudioSpectrogramTransformer } from '../../src/models/ast.js';
import { astConfigFromAdapter, readAdapterConfig } from '../../src/peft/checkpoint.js';

function errorLine(r: ReturnType<typeof loaa>): string {
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l.trim() && !/^npm warn/.test(l));
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^loaa export: /);
  return lines[0];
}

/** A copy of a fixture adapter (so recording provenance does not touch the shared one). */
function adapterCopy(name: string): { dir: string; backbone: string } {
  const c = exportCase(name);
  const dir = freshDir(`prov-${name}`);
  cpSync(c.dir, dir, { recursive: true });
  return { dir, backbone: c.backbone };
}

test('export without --backbone uses the recorded file backbone: the same ONNX file as with it', () => {
  const { dir, backbone } = adapterCopy('loaa_attn_1x3_s10');
  const cfg = readAdapterConfig(dir);
  recordBackbone(dir, fileProvenance(cfg.arch, backbone));
  const d = freshDir('prov-out');
  const a = loaa(['export', dir, '--out', join(d, 'recorded.onnx'), '--json']);
  assert.equal(a.status, 0, a.stderr);
  const b = loaa(['export', dir, '--backbone', backbone, '--out', join(d, 'explicit.onnx'), '--json']);
  assert.equal(b.status, 0, b.stderr);
  assert.ok(readFileSync(join(d, 'recorded.onnx')).equals(readFileSync(join(d, 'explicit.onnx'))));
  // another frame count: the recorded file backbone is re-cropped the same way --backbone is
  const f = loaa(['export', dir, '--out', join(d, 'f64.onnx'), '--frames', '64', '--json']);
  assert.equal(f.status, 0, f.stderr);
  assert.deepEqual(JSON.parse(f.stdout).input.shape, ['dynamic', 64, cfg.input.melBins]);
});

test('export: a backbone other than the recorded one is the named-hash error; --force overrides it', () => {
  const { dir, backbone } = adapterCopy('loaa_attn_1x3_s10');
  const cfg = readAdapterConfig(dir);
  const recorded = fileProvenance(cfg.arch, backbone);
  recordBackbone(dir, { ...recorded, sha256: 'ab'.repeat(32) });
  const d = freshDir('prov-bad');
  const line = errorLine(loaa(['export', dir, '--backbone', backbone, '--out', join(d, 'x.onnx')]));
  assert.ok(line.includes(`${backbone}: sha256 ${recorded.sha256} is not the backbone this adapter was trained on`), line);
  assert.ok(line.includes(`records file:${backbone}, sha256 ${'ab'.repeat(32)}`), line);
  // the recorded file is the same path: the check applies without --backbone too
  assert.match(
    errorLine(loaa(['export', dir, '--out', join(d, 'x.onnx')])),
    /sha256 [0-9a-f]{64} is not the backbone this adapter was trained on/,
  );
  const forced = loaa(['export', dir, '--backbone', backbone, '--force', '--out', join(d, 'forced.onnx')]);
  assert.equal(forced.status, 0, forced.stderr);
});

test('export: a random backbone is rebuilt from its recorded seed; no record and no --backbone is an error', () => {
  const { dir } = adapterCopy('adapter_seq_s10');
  const cfg = readAdapterConfig(dir);
  const seed = 1234;
  const model = new AudioSpectrogramTransformer(astConfigFromAdapter(cfg), { seed });
  try {
    recordBackbone(dir, randomProvenance(cfg.arch, seed, model));
  } finally {
    model.dispose();
  }
  const d = freshDir('prov-random');
  const r = loaa(['export', dir, '--out', join(d, 'r.onnx'), '--verify', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).verify.ok, true);
  assert.match(
    errorLine(loaa(['export', dir, '--out', join(d, 'f.onnx'), '--frames', String(cfg.input.frames + 16)])),
    /--frames: the adapter's random backbone \(seed 1234\) is rebuilt for its \d+ frames only/,
  );

  const bare = adapterCopy('loaa_attn_1x3_s10');
  assert.match(errorLine(loaa(['export', bare.dir, '--out', join(d, 'n.onnx')])), /--backbone: missing: .*records no backbone/);
});
