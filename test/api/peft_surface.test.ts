/**
 * `loaa/peft` as users import it (mergeLora there, swapAdapter gone) and the typed `backbone` record
 * of adapter_config.json: written by saveAdapter / recordBackbone, read and checked by
 * readAdapterConfig, old files (without it, or as the earlier recordBackbone wrote it) still read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as peft from '../../src/api/peft.js';
import * as root from '../../src/index.js';
import {
  applyPeft,
  mergeLora,
  readAdapterConfig,
  readBackbone,
  recordBackbone,
  saveAdapter,
  type BackboneRecord,
} from '../../src/api/peft.js';
import { loadAst } from '../../src/models/ast.js';
import { adapterDir, astConfigOf, backbonePath, caseNamed, freshDir } from '../models/model_cases.js';

const C = caseNamed('loaa_attn_1x3_s10');
const SHA = 'ab'.repeat(32);

function oldAdapter(name: string): string {
  const d = freshDir(name);
  cpSync(adapterDir(C)!, d, { recursive: true });
  return d;
}

test('loaa/peft exports mergeLora and no swapAdapter (loadAdapter replaces an adapter already on the model)', () => {
  assert.equal(typeof peft.mergeLora, 'function');
  assert.ok(!('swapAdapter' in peft) && !('swapAdapter' in root), 'swapAdapter is gone');
  const m = loadAst(backbonePath(C.backbone), { ...astConfigOf(C), numClasses: 3, depth: 2 }, { seed: 1 }).model;
  try {
    applyPeft(m, { method: 'lora', lora: { rank: 2, alpha: 4, targets: ['q', 'v'] } });
    assert.equal(mergeLora(m), 4, 'two blocks x (q, v)');
    assert.ok(![...m.namedParameters()].some(([n]) => n.includes('lora_')));
  } finally {
    m.dispose();
  }
});

test('saveAdapter writes the typed backbone record and readAdapterConfig returns it', () => {
  const m = loadAst(backbonePath(C.backbone), { ...astConfigOf(C), numClasses: 3, depth: 2 }, { seed: 1 }).model;
  try {
    const dir = freshDir('peft-record-save');
    const rec: BackboneRecord = { sha256: SHA, seed: 7, source: 'random', arch: astConfigOf(C).arch };
    saveAdapter(dir, m, undefined, { backbone: rec });
    const raw = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    assert.deepEqual(Object.keys(raw.backbone), ['arch', 'source', 'seed', 'sha256'], 'one file form, keys in order');
    assert.deepEqual(readAdapterConfig(dir).backbone, rec);
    assert.deepEqual(readBackbone(dir), rec);
    assert.throws(
      () => saveAdapter(freshDir('peft-record-bad'), m, undefined, { backbone: { ...rec, source: 'random', seed: undefined } }),
      /^Error: meta\.backbone: backbone\.seed: a random backbone needs its integer seed$/,
    );
  } finally {
    m.dispose();
  }
});

test('adapters without a record, or with one as the earlier recordBackbone wrote it, still read; a bad record is an error naming the key', () => {
  const old = oldAdapter('peft-record-old');
  assert.equal(readAdapterConfig(old).backbone, undefined);
  assert.equal(readBackbone(old), null);

  // the earlier writer: indent 2, the record appended to whatever was there
  const file = join(old, 'adapter_config.json');
  const before = JSON.parse(readFileSync(file, 'utf8'));
  const rec = { arch: before.arch, source: 'file:/models/deit.safetensors', sha256: SHA };
  writeFileSync(file, `${JSON.stringify({ ...before, backbone: rec }, null, 2)}\n`);
  assert.deepEqual(readAdapterConfig(old).backbone, rec);

  // recordBackbone replaces the record and keeps every other key
  const pulled: BackboneRecord = { arch: before.arch, source: `pull:${before.arch}`, sha256: 'cd'.repeat(32) };
  recordBackbone(old, pulled);
  const { backbone, ...rest } = readAdapterConfig(old);
  assert.deepEqual(backbone, pulled);
  assert.deepEqual(rest, readAdapterConfig(adapterDir(C)!));

  writeFileSync(file, JSON.stringify({ ...before, backbone: { ...rec, source: 'http://x' } }));
  assert.throws(
    () => readAdapterConfig(old),
    /adapter_config\.json: backbone\.source: expected "random", "pull:<arch>" or "file:<path>", got "http:\/\/x"$/,
  );
  writeFileSync(file, JSON.stringify({ ...before, backbone: 'deit' }));
  assert.throws(() => readAdapterConfig(old), /adapter_config\.json: backbone: expected an object \{arch, source, seed\?, sha256\}$/);
});
