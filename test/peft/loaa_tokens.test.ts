import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, randn } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';
import { autocast } from '../../src/tensor/autocast.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { LookAsideAdapter, type AdapterImpl } from '../../src/peft/adapter.js';
import type { AudioSpectrogramTransformer } from '../../src/models/ast.js';
import { caseInput, caseNamed, loadCase, maxDiff } from '../models/model_cases.js';

/** fp32 tolerance of issue #12: the fast path equals the Conv2d path to 1e-5 relative. */
const REL = 1e-5;

function relDiff(a: Float32Array, b: Float32Array, what: string): number {
  assert.equal(a.length, b.length, `${what}: sizes differ`);
  const { diff, scale } = maxDiff(a, b);
  assert.ok(scale > 0, `${what}: the reference is all zero, the comparison would prove nothing`);
  return diff / scale;
}

/**
 * ||a - b|| / ||b||: through 12 blocks the two summation orders drift apart by rounding, and a bias
 * gradient (a sum over every token, with cancellation) has a max element far below its terms, so the
 * whole-model comparison is norm-wise; the single-adapter comparison above stays element-wise.
 */
function normRel(a: Float32Array, b: Float32Array, what: string): number {
  assert.equal(a.length, b.length, `${what}: sizes differ`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  assert.ok(den > 0, `${what}: the reference is all zero, the comparison would prove nothing`);
  return Math.sqrt(num / den);
}

/** Output, input gradient and weight gradients of one adapter on one path. */
function adapterRun(a: LookAsideAdapter, impl: AdapterImpl, nPre: number, grid: [number, number], B: number): Map<string, Float32Array> {
  a.impl = impl;
  return scope(() => {
    const L = nPre + grid[0] * grid[1];
    const u = randn([B, L, a.dim], { seed: 31 }).requiresGrad_();
    const y = a.forward(u, nPre, grid);
    // a random cotangent so that every output element carries its own weight in the gradients
    y.mul(randn(y.shape, { seed: 37 }))
      .sum()
      .backward();
    const out = new Map<string, Float32Array>([
      ['y', y.toFloat32()],
      ['du', u.grad!.toFloat32()],
    ]);
    for (const [name, p] of a.namedParameters()) {
      out.set(`d${name}`, p.grad!.toFloat32());
      noGrad(() => p.grad!.zero_());
    }
    return out;
  });
}

function trained(dim: number, kernel: [number, number], r: number, bias: boolean): LookAsideAdapter {
  const a = new LookAsideAdapter(dim, { position: 'ffn', kernel, bottleneck: r, bias }, { seed: 3 });
  noGrad(() => {
    a.up.weight.copy_(randn(a.up.weight.shape, { seed: 5 }).mul_(0.3));
    a.up.bias?.copy_(randn(a.up.bias.shape, { seed: 6 }).mul_(0.1));
    a.down.bias?.copy_(randn(a.down.bias.shape, { seed: 7 }).mul_(0.1));
  });
  return a;
}

test('token-layout LoAA equals the Conv2d path: outputs and all gradients, every kernel, bias, special tokens', () => {
  const kernels: [number, number][] = [
    [1, 3],
    [3, 1],
    [3, 3],
    [1, 1],
    [5, 3],
    [1, 5],
  ];
  let checked = 0;
  for (const kernel of kernels) {
    for (const bias of [false, true]) {
      for (const nPre of [0, 1, 2, 5]) {
        const a = trained(12, kernel, 4, bias);
        // grids smaller than the kernel's reach too, where every tap meets the zero padding
        for (const grid of [
          [4, 7],
          [1, 3],
          [2, 1],
        ] as [number, number][]) {
          const ref = adapterRun(a, 'conv', nPre, grid, 2);
          const fast = adapterRun(a, 'tokens', nPre, grid, 2);
          assert.deepEqual([...fast.keys()], [...ref.keys()]);
          for (const [k, v] of ref) {
            const rel = relDiff(fast.get(k)!, v, `${kernel} bias=${bias} nPre=${nPre} grid=${grid} ${k}`);
            assert.ok(rel <= REL, `${kernel} bias=${bias} nPre=${nPre} grid=${grid} ${k}: relative difference ${rel}`);
            checked++;
          }
        }
        a.dispose();
      }
    }
  }
  assert.ok(checked > 100);
});

test('token-layout LoAA under bf16 autocast: stays in bf16 (the bias does not promote it) and tracks the conv path', () => {
  const a = trained(16, [1, 3], 4, true);
  noGrad(() =>
    scope(() => {
      const u = randn([2, 2 + 3 * 5, 16], { seed: 43 });
      a.impl = 'conv';
      const ref = autocast('cpu', 'bfloat16', () => a.forward(u, 2, [3, 5]));
      a.impl = 'tokens';
      const fast = autocast('cpu', 'bfloat16', () => a.forward(u, 2, [3, 5]));
      assert.equal(fast.dtype, 'bfloat16');
      assert.equal(fast.dtype, ref.dtype);
      // bf16 keeps 8 bits of mantissa: the two summation orders differ by a few units in the last place
      const rel = relDiff(fast.toFloat32(), ref.toFloat32(), 'bf16');
      assert.ok(rel <= 3e-2, `bf16 relative difference ${rel}`);
    }),
  );
  a.dispose();
});

test('token-layout LoAA rejects a token count that does not make the grid', () => {
  const a = trained(8, [1, 3], 2, false);
  assert.throws(() => noGrad(() => scope(() => a.forward(randn([1, 2 + 11, 8]), 2, [3, 4]))), /^Error: adapter: 13 tokens/);
  a.dispose();
});

function adapters(model: AudioSpectrogramTransformer): LookAsideAdapter[] {
  return [...model.namedModules()].map(([, m]) => m).filter((m): m is LookAsideAdapter => m instanceof LookAsideAdapter);
}

/** Logits and the gradient of every trainable tensor of a fixture model on one path. */
function modelRun(model: AudioSpectrogramTransformer, x: Tensor, impl: AdapterImpl): Map<string, Float32Array> {
  for (const a of adapters(model)) a.impl = impl;
  return scope(() => {
    const logits = model.forward(x);
    logits
      .mul(randn(logits.shape, { seed: 41 }))
      .sum()
      .backward();
    const out = new Map<string, Float32Array>([['logits', logits.toFloat32()]]);
    for (const [name, p] of model.trainableParameters()) {
      if (!p.grad) continue;
      out.set(name, p.grad.toFloat32());
      noGrad(() => p.grad!.zero_());
    }
    return out;
  });
}

// distilled (cls + dist) and plain (cls only) backbones, strides 16 and 10, LoAA kernels 1x3, 3x1, 3x3,
// with bias, with prompts (more tokens outside the grid)
for (const name of ['loaa_attn_1x3_ffn_3x1_s10', 'loaa_ffn_3x1_bias_half', 'loaa_3x3_mixed', 'tinycls_loaa_3x3', 'loaa_prompt_n3']) {
  test(`fixture model ${name}: token-layout fast path equals the Conv2d path on logits and gradients`, () => {
    const c = caseNamed(name);
    const { model } = loadCase(c);
    const x = caseInput(c);
    const found = adapters(model);
    assert.ok(
      found.some((a) => a.spec.kernel[0] * a.spec.kernel[1] > 1),
      `${name} has no LoAA kernel to compare`,
    );
    const ref = modelRun(model, x, 'conv');
    const fast = modelRun(model, x, 'tokens');
    assert.ok(
      [...ref.keys()].some((k) => k.includes('_adapter.')),
      `${name}: no adapter gradient was compared`,
    );
    assert.deepEqual([...fast.keys()], [...ref.keys()]);
    for (const [k, v] of ref) {
      const rel = normRel(fast.get(k)!, v, `${name} ${k}`);
      // element-wise, the largest difference must still be at fp32 rounding level of the whole tensor
      const elem = relDiff(fast.get(k)!, v, `${name} ${k}`);
      // a bias gradient is one sum over every token of every clip: its cancellation leaves it ~10x below
      // its terms, so its rounding relative to itself is ~10x larger (seen: 1.8e-5 in block 0 of 12)
      const tol = k.endsWith('.bias') ? 10 * REL : REL;
      assert.ok(rel <= tol && elem <= 1e-4, `${name} ${k}: relative difference ${rel} (norm), ${elem} (max element)`);
    }
    x.dispose();
    model.dispose();
  });
}
