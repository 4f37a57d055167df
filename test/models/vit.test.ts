import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, randn } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';
import { getArch, expectedBackboneShapes } from '../../src/models/archs.js';
import { VisionTransformer, VitTrunk, VIT_LN_EPS } from '../../src/models/vit.js';
import { AudioSpectrogramTransformer, loadAst } from '../../src/models/ast.js';
import { loadBackboneStateDict } from '../../src/models/checkpoint_keys.js';
import { backbonePath, maxDiff } from './model_cases.js';

test("VisionTransformer has timm's parameter names and shapes (heads included)", () => {
  for (const [name, depth] of [
    ['deit_tiny_distilled_patch16_224', 2],
    ['deit_tiny_patch16_224', 1],
    ['deit_base_distilled_patch16_384', 1],
  ] as const) {
    const arch = { ...getArch(name), depth };
    const m = new VisionTransformer(arch, { numClasses: 10, depth, seed: 1 });
    try {
      const want = expectedBackboneShapes(arch);
      want.set('head.weight', [10, arch.embedDim]);
      want.set('head.bias', [10]);
      if (arch.distilled) {
        want.set('head_dist.weight', [10, arch.embedDim]);
        want.set('head_dist.bias', [10]);
      }
      const got = new Map([...m.namedParameters()].map(([n, t]) => [n, t.shape]));
      assert.deepEqual(new Map([...got].sort()), new Map([...want].sort()), name);
      assert.equal(m.norm.eps, VIT_LN_EPS);
      assert.equal(m.blocks.at(0).attn.scale, (arch.embedDim / arch.numHeads) ** -0.5);
    } finally {
      m.dispose();
    }
  }
});

test('VisionTransformer loads a timm checkpoint strictly and classifies images (distilled: mean of both heads)', () => {
  const sd = loadBackboneStateDict(backbonePath('deit_tiny_patch16_224_depth2'));
  const arch = { ...getArch('deit_tiny_patch16_224'), depth: 2 };
  const m = new VisionTransformer(arch, { numClasses: 10, depth: 2 });
  try {
    // the reader leaves the image heads out (they are `unused`): the classifier keeps its own init
    const r = m.loadStateDict(sd.tensors, { source: 'deit tiny' });
    assert.deepEqual(r.missing.sort(), ['head.bias', 'head.weight']);
    assert.deepEqual(r.unused, []);
    const out = noGrad(() =>
      scope(() =>
        m
          .eval()
          .forward(randn([2, 3, 224, 224], { seed: 1 }))
          .toFloat32(),
      ),
    );
    assert.equal(out.length, 20);
    assert.ok(out.every(Number.isFinite));
  } finally {
    m.dispose();
  }
});

test('the image model and the AST agree when the AST sees the image (224x224, stride 16, equal RGB channels)', () => {
  const path = backbonePath('deit_tiny_distilled_patch16_224');
  const sd = loadBackboneStateDict(path);
  const arch = getArch('deit_tiny_distilled_patch16_224');
  const vit = new VisionTransformer(arch, { numClasses: 0 });
  const ast = loadAst(path, { arch: arch.name, numClasses: 3, melBins: 224, frames: 224, fstride: 16, tstride: 16 }).model;
  try {
    vit.loadStateDict(sd.tensors, { strict: true });
    noGrad(() =>
      scope(() => {
        const fbank = randn([1, 224, 224], { seed: 3 }); // [B, T, F]
        const img = fbank.transpose(1, 2).unsqueeze(1).expand(1, 3, 224, 224).contiguous(); // [B, 3, F, T]
        const a = vit.eval().forwardFeatures(img, { attention: 'mean', layers: 'last' });
        const b = ast.eval().tokens(fbank);
        assert.ok(maxDiff(a.tokens.toFloat32(), b.toFloat32()).diff < 2e-4);
        assert.equal(a.attentions.filter(Boolean).length, 1);
        const last = ast.forward(fbank, { attention: 'last' }).attentions[arch.depth - 1]!;
        assert.ok(maxDiff(a.attentions[arch.depth - 1]!.toFloat32(), last.toFloat32()).diff < 1e-4);
      }),
    );
  } finally {
    vit.dispose();
    ast.dispose();
  }
});

test('one trunk: the image model and the AST are both VitTrunk, and both forwards return { logits, attentions } when asked', () => {
  const arch = getArch('deit_tiny_distilled_patch16_224');
  const vit = new VisionTransformer(arch, { numClasses: 3, depth: 2, seed: 5 });
  const ast = new AudioSpectrogramTransformer(
    { arch: arch.name, numClasses: 3, melBins: 32, frames: 48, fstride: 16, tstride: 16, depth: 2 },
    { seed: 5 },
  );
  try {
    assert.ok(vit instanceof VitTrunk && ast instanceof VitTrunk);
    // the same seed makes the same trunk weights in the same (timm) order, whatever the stem
    for (const k of ['cls_token', 'dist_token', 'blocks.1.mlp.fc2.weight', 'norm.weight']) {
      assert.deepEqual(ast.stateDict().get(k)!.toFloat32(), vit.stateDict().get(k)!.toFloat32(), k);
    }
    noGrad(() =>
      scope(() => {
        const img = randn([2, 3, 224, 224], { seed: 1 });
        const plain = vit.eval().forward(img);
        const r = vit.forward(img, { mode: 'heads', layers: 'all' });
        assert.ok(maxDiff(plain.toFloat32(), r.logits.toFloat32()).diff < 1e-5);
        assert.deepEqual(
          r.attentions.map((a) => a!.shape),
          [
            [2, 3, 198, 198],
            [2, 3, 198, 198],
          ],
        );
        const fbank = randn([2, 48, 32], { seed: 2 });
        const s = ast.eval().forward(fbank, { attention: 'last' });
        assert.ok(maxDiff(ast.forward(fbank).toFloat32(), s.logits.toFloat32()).diff < 1e-5);
        assert.deepEqual(
          s.attentions.map((a) => a?.shape ?? null),
          [null, [2, 2 + 2 * 3, 2 + 2 * 3]],
        );
      }),
    );
  } finally {
    vit.dispose();
    ast.dispose();
  }
});
