import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ARCH_NAMES,
  ARCHS,
  assertBackbone,
  checkBackbone,
  expectedBackboneShapes,
  getArch,
  inferArch,
  posTokens,
  type ArchName,
} from '../../src/models/archs.js';
import { loadBackboneStateDict } from '../../src/models/checkpoint_keys.js';
import type { RawTensor } from '../../src/io/safetensors.js';
import { fixture } from '../helpers.js';

/** Shape-only state dicts: the checks never look at the bytes, and ViT-Base would be 350 MB. */
function fake(name: ArchName, head = true): Map<string, RawTensor> {
  const m = new Map<string, RawTensor>();
  for (const [k, shape] of expectedBackboneShapes(ARCHS[name])) m.set(k, { dtype: 'float32', shape, data: new Uint8Array(0) });
  if (head) m.set('head.weight', { dtype: 'float32', shape: [1000, ARCHS[name].embedDim], data: new Uint8Array(0) });
  return m;
}

test('the architecture table', () => {
  assert.deepEqual(ARCH_NAMES, [
    'deit_tiny_patch16_224',
    'deit_small_patch16_224',
    'deit_base_patch16_224',
    'deit_tiny_distilled_patch16_224',
    'deit_small_distilled_patch16_224',
    'deit_base_distilled_patch16_224',
    'deit_base_distilled_patch16_384',
    'vit_base_patch16_224',
    'vit_base_patch16_384',
  ]);
  const dims = ARCH_NAMES.map((n) => [ARCHS[n].embedDim, ARCHS[n].numHeads, ARCHS[n].depth, ARCHS[n].imgSize, ARCHS[n].distilled]);
  assert.deepEqual(dims, [
    [192, 3, 12, 224, false],
    [384, 6, 12, 224, false],
    [768, 12, 12, 224, false],
    [192, 3, 12, 224, true],
    [384, 6, 12, 224, true],
    [768, 12, 12, 224, true],
    [768, 12, 12, 384, true],
    [768, 12, 12, 224, false],
    [768, 12, 12, 384, false],
  ]);
  for (const n of ARCH_NAMES) {
    assert.equal(ARCHS[n].mlpRatio, 4);
    assert.equal(ARCHS[n].patchSize, 16);
    assert.equal(ARCHS[n].hub.file, 'model.safetensors');
    assert.ok(ARCHS[n].hub.repo.startsWith(`timm/${n}.`), ARCHS[n].hub.repo);
  }
  assert.equal(ARCHS.deit_base_distilled_patch16_384.hub.repo, 'timm/deit_base_distilled_patch16_384.fb_in1k');
  assert.equal(ARCHS.vit_base_patch16_224.hub.repo, 'timm/vit_base_patch16_224.augreg2_in21k_ft_in1k');
  assert.equal(ARCHS.vit_base_patch16_384.hub.repo, 'timm/vit_base_patch16_384.augreg_in21k_ft_in1k');
  assert.equal(posTokens(ARCHS.deit_base_distilled_patch16_384), 2 + 24 * 24);
  assert.equal(posTokens(ARCHS.vit_base_patch16_224), 1 + 14 * 14);
  assert.throws(() => getArch('deit_huge'), /deit_huge: unknown architecture \(known: deit_tiny_patch16_224, /);
  // parameter count of ViT-B/16 (timm: 86,567,656 with the 1000-class head)
  let params = 0;
  for (const s of expectedBackboneShapes(ARCHS.vit_base_patch16_224).values()) params += s.reduce((a, b) => a * b, 1);
  assert.equal(params + 768 * 1000 + 1000, 86_567_656);
});

test('inferArch names every architecture from its shapes', () => {
  for (const n of ARCH_NAMES) {
    const r = inferArch(fake(n));
    assert.ok(r.matches.includes(n), `${n}: ${r.description}`);
    assert.equal(r.depth, 12);
    assert.equal(r.embedDim, ARCHS[n].embedDim);
    assert.equal(r.mlpHidden, 4 * ARCHS[n].embedDim);
    assert.equal(r.distilled, ARCHS[n].distilled);
    const g = ARCHS[n].imgSize / 16;
    assert.deepEqual(r.posGrid, [g, g]);
    assert.equal(r.inChans, 3);
  }
  // DeiT-B and ViT-B (224) have the same shapes: both are named
  assert.deepEqual(inferArch(fake('vit_base_patch16_224')).matches, ['deit_base_patch16_224', 'vit_base_patch16_224']);
  assert.equal(inferArch(fake('deit_tiny_patch16_224')).description, 'deit_tiny_patch16_224 (depth 12, width 192)');
});

test('inferArch describes checkpoints that are none of them (the tiny fixtures, an AST)', () => {
  const ast = inferArch(loadBackboneStateDict(fixture('checkpoints', 'hf_ast.safetensors')).tensors);
  assert.deepEqual(ast.matches, []);
  assert.equal(ast.depth, 2);
  assert.equal(ast.embedDim, 8);
  assert.equal(ast.inChans, 1);
  assert.equal(ast.numTokens, 14);
  assert.equal(ast.posGrid, null);
  assert.equal(ast.description, 'an unknown ViT (depth 2, width 8, distilled, 14 position tokens, 1 input channel)');
  const vit = inferArch(loadBackboneStateDict(fixture('checkpoints', 'hf_vit.safetensors')).tensors);
  assert.deepEqual(vit.posGrid, [2, 2]);
  assert.equal(vit.distilled, false);
});

test('checkBackbone lists missing keys and shape mismatches', () => {
  assert.deepEqual(checkBackbone('deit_tiny_patch16_224', fake('deit_tiny_patch16_224')), { ok: true, missing: [], mismatched: [] });
  const r = checkBackbone('deit_tiny_distilled_patch16_224', fake('deit_tiny_patch16_224'));
  assert.equal(r.ok, false);
  assert.deepEqual(r.missing, ['dist_token']);
  assert.deepEqual(r.mismatched, [{ key: 'pos_embed', expected: [1, 198, 192], found: [1, 197, 192] }]);
  const big = checkBackbone(ARCHS.deit_base_distilled_patch16_384, fake('deit_tiny_patch16_224'));
  assert.ok(
    big.mismatched.some((m) => m.key === 'blocks.11.mlp.fc1.weight' && m.expected.join() === '3072,768' && m.found.join() === '768,192'),
  );
  const partial = fake('vit_base_patch16_384', false);
  partial.delete('blocks.3.attn.qkv.bias');
  assert.deepEqual(checkBackbone('vit_base_patch16_384', partial).missing, ['blocks.3.attn.qkv.bias']);
});

test('assertBackbone says what the checkpoint is', () => {
  assert.doesNotThrow(() => assertBackbone('deit_small_patch16_224', fake('deit_small_patch16_224'), 'x'));
  assert.throws(
    () => assertBackbone('deit_base_distilled_patch16_384', fake('deit_tiny_patch16_224'), 'tiny.safetensors'),
    (e: Error) => {
      assert.match(
        e.message,
        /^tiny\.safetensors: this checkpoint is deit_tiny_patch16_224 \(depth 12, width 192\), not deit_base_distilled_patch16_384 \(depth 12, width 768\): missing dist_token; shape mismatches cls_token: expected \[1, 1, 768\], found \[1, 1, 192\]/,
      );
      assert.ok(!e.message.includes('\n'));
      return true;
    },
  );
});
