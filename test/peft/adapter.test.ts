import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cat, conv2d, linear, noGrad, randn } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';
import { LookAsideAdapter, adapterParamCount } from '../../src/peft/adapter.js';
import { checkAdapterSpec } from '../../src/peft/config.js';
import { applyPeft, removePeft, type PeftConfig } from '../../src/peft/methods.js';
import { mergeLora } from '../../src/peft/lora.js';
import { loadAst } from '../../src/models/ast.js';
import { backbonePath, caseInput, caseNamed, maxDiff } from '../models/model_cases.js';

/** An adapter whose Up is random too (a trained one), so that its output is not zero. */
function trained(dim: number, kernel: [number, number], r = 4, bias = false): LookAsideAdapter {
  const a = new LookAsideAdapter(dim, { position: 'attn', kernel, bottleneck: r, bias }, { seed: 3 });
  noGrad(() => {
    a.up.weight.copy_(randn(a.up.weight.shape, { seed: 5 }).mul_(0.3));
    a.up.bias?.copy_(randn(a.up.bias.shape, { seed: 6 }).mul_(0.1));
    a.down.bias?.copy_(randn(a.down.bias.shape, { seed: 7 }).mul_(0.1));
  });
  return a;
}

/** Which tokens' adapter output changes when input token `tok` is perturbed. */
function changedTokens(a: LookAsideAdapter, nPre: number, grid: [number, number], tok: number): Set<number> {
  return noGrad(() =>
    scope(() => {
      const D = a.dim;
      const L = nPre + grid[0] * grid[1];
      const u = randn([1, L, D], { seed: 11 });
      const y0 = a.forward(u, nPre, grid).toFloat32();
      const delta = randn([1, 1, D], { seed: 13 });
      const parts = [u.narrow(1, 0, tok), u.narrow(1, tok, 1).add(delta), u.narrow(1, tok + 1, L - tok - 1)];
      const y1 = a
        .forward(
          cat(
            parts.filter((p) => p.shape[1] > 0),
            1,
          ),
          nPre,
          grid,
        )
        .toFloat32();
      const out = new Set<number>();
      for (let i = 0; i < L; i++) {
        for (let d = 0; d < D; d++) {
          if (Math.abs(y1[i * D + d] - y0[i * D + d]) > 1e-7) {
            out.add(i);
            break;
          }
        }
      }
      return out;
    }),
  );
}

test('a time kernel (1x3) mixes only along time, within reach of the two convolutions', () => {
  const a = trained(16, [1, 3]);
  const grid: [number, number] = [6, 7];
  const nPre = 2;
  const [f0, t0] = [2, 3];
  const changed = changedTokens(a, nPre, grid, nPre + f0 * grid[1] + t0);
  assert.ok(changed.size > 1, 'a neighbour in time must change');
  for (const i of changed) {
    assert.ok(i >= nPre, `special token ${i} changed`);
    const f = Math.floor((i - nPre) / grid[1]);
    const t = (i - nPre) % grid[1];
    assert.equal(f, f0, `token (${f}, ${t}) is in another frequency row`);
    assert.ok(Math.abs(t - t0) <= 2, `token (${f}, ${t}) is out of reach`);
  }
  assert.ok(changed.has(nPre + f0 * grid[1] + t0 + 1) && changed.has(nPre + f0 * grid[1] + t0 - 1));
  a.dispose();
});

test('a frequency kernel (3x1) mixes only along frequency', () => {
  const a = trained(16, [3, 1]);
  const grid: [number, number] = [6, 7];
  const nPre = 1;
  const [f0, t0] = [3, 4];
  const changed = changedTokens(a, nPre, grid, nPre + f0 * grid[1] + t0);
  assert.ok(changed.size > 1);
  for (const i of changed) {
    const f = Math.floor((i - nPre) / grid[1]);
    const t = (i - nPre) % grid[1];
    assert.equal(t, t0, `token (${f}, ${t}) is in another time column`);
    assert.ok(Math.abs(f - f0) <= 2);
  }
  a.dispose();
});

test('special tokens are their own 1x1 grid: only the centre tap, nothing leaks to or from the grid', () => {
  const a = trained(16, [3, 3], 4, true);
  const grid: [number, number] = [4, 5];
  const changed = changedTokens(a, 2, grid, 1);
  assert.deepEqual([...changed], [1]);
  // and the special token's output is the centre-tap linear map
  noGrad(() =>
    scope(() => {
      const u = randn([2, 2 + 20, 16], { seed: 21 });
      const y = a.forward(u, 2, grid).narrow(1, 0, 2);
      const wd = a.down.weight.select(3, 1).select(2, 1);
      const wu = a.up.weight.select(3, 1).select(2, 1);
      const want = linear(linear(u.narrow(1, 0, 2), wd, a.down.bias).gelu(), wu, a.up.bias);
      assert.ok(maxDiff(y.toFloat32(), want.toFloat32()).diff < 1e-6);
    }),
  );
  a.dispose();
});

test('grid tokens: the adapter is Up(GELU(Down(.))) as convolutions on [B, D, f, t]; 1x1 equals its fast path', () => {
  for (const kernel of [
    [1, 3],
    [3, 1],
    [3, 3],
    [1, 1],
    [5, 3],
  ] as [number, number][]) {
    const a = trained(8, kernel, 3, true);
    noGrad(() =>
      scope(() => {
        const [f, t] = [3, 4];
        const u = randn([2, 1 + f * t, 8], { seed: 31 });
        const y = a.forward(u, 1, [f, t]).narrow(1, 1, f * t);
        const pad = [kernel[0] >> 1, kernel[1] >> 1];
        const g = u
          .narrow(1, 1, f * t)
          .transpose(1, 2)
          .reshape(2, 8, f, t);
        const h = conv2d(conv2d(g, a.down.weight, a.down.bias, { padding: pad }).gelu(), a.up.weight, a.up.bias, { padding: pad });
        const want = h.reshape(2, 8, f * t).transpose(1, 2);
        assert.ok(maxDiff(y.toFloat32(), want.toFloat32()).diff < 1e-5, `kernel ${kernel}`);
      }),
    );
    a.dispose();
  }
});

test('scale multiplies the adapter output; Up starts at zero; Down has torch Conv2d default init', () => {
  const a = new LookAsideAdapter(32, { position: 'ffn', kernel: [1, 3], bottleneck: 4, scale: 0.5 }, { seed: 1 });
  assert.ok(a.up.weight.toFloat32().every((v) => v === 0));
  const bound = 1 / Math.sqrt(32 * 3);
  const d = a.down.weight.toFloat32();
  assert.ok(d.every((v) => Math.abs(v) <= bound) && d.some((v) => Math.abs(v) > bound / 2));
  assert.equal(a.scale, 0.5);
  a.dispose();
  assert.equal(adapterParamCount({ kernel: [1, 3], bottleneck: 36 }, 768), 165888);
  assert.throws(() => checkAdapterSpec({ position: 'attn', kernel: [2, 3], bottleneck: 4 }), /adapter\.kernel: expected two odd/);
  assert.throws(
    () => checkAdapterSpec({ position: 'mlp' as 'attn', kernel: [1, 3], bottleneck: 4 }, 'adapters.0'),
    /adapters\.0\.position/,
  );
  assert.throws(() => checkAdapterSpec({ position: 'attn', kernel: [1, 3], bottleneck: 0 }), /bottleneck/);
  assert.throws(() => checkAdapterSpec({ position: 'attn', kernel: [1, 3], bottleneck: 2, mode: 'serial' as 'parallel' }), /mode/);
});

// --------------------------------------------------------------------------------- neutral init

test('with a zero Up (and zero LoRA B) the adapted model computes exactly the bare backbone', () => {
  const c = caseNamed('loaa_attn_1x3_ffn_3x1_s10');
  const cfg = { arch: c.arch, numClasses: 3, melBins: c.fdim, frames: c.tdim, fstride: c.fstride, tstride: c.tstride, depth: 3 };
  const { model } = loadAst(backbonePath(c.backbone), cfg, { seed: 4 });
  const x = caseInput(c);
  const logits = () => noGrad(() => scope(() => model.eval().forward(x).toFloat32()));
  try {
    const bare = logits();
    const configs: PeftConfig[] = [
      {
        method: 'loaa',
        adapters: [
          { position: 'attn', kernel: [1, 3], bottleneck: 8 },
          { position: 'ffn', kernel: [3, 1], bottleneck: 8, bias: true },
        ],
      },
      { method: 'adapter' },
      {
        method: 'adapter',
        adapters: [
          { position: 'attn', kernel: [1, 3], bottleneck: 8, mode: 'sequential', bias: true, scale: 0.5 },
          { position: 'ffn', kernel: [1, 1], bottleneck: 8, mode: 'sequential' },
        ],
      },
      { method: 'lora', lora: { rank: 4, alpha: 8, targets: ['q', 'k', 'v'] } },
      { method: 'loaa', adapters: [{ position: 'attn', kernel: [3, 3], bottleneck: 4 }], lora: { rank: 2, alpha: 2 } },
    ];
    for (const p of configs) {
      applyPeft(model, p, { seed: 9 });
      const got = logits();
      assert.ok(maxDiff(got, bare).diff <= 1e-6, `${JSON.stringify(p)}: ${maxDiff(got, bare).diff}`);
      removePeft(model);
    }
    assert.deepEqual(logits(), bare);
  } finally {
    x.dispose();
    model.dispose();
  }
});

test('mergeLora folds the update into qkv: same logits, no LoRA modules left', () => {
  const c = caseNamed('lora_qv_r4');
  const { model } = loadAst(
    backbonePath(c.backbone),
    { arch: c.arch, numClasses: 3, melBins: c.fdim, frames: c.tdim, fstride: c.fstride, tstride: c.tstride, depth: 2 },
    { seed: 4 },
  );
  const x = caseInput(c);
  try {
    applyPeft(model, { method: 'lora', lora: { rank: 4, alpha: 8, targets: ['q', 'v'] } }, { seed: 2 });
    noGrad(() => {
      for (const [n, p] of model.namedParameters()) if (n.endsWith('.B')) p.copy_(randn(p.shape, { seed: n.length }).mul_(0.1));
    });
    const before = noGrad(() => scope(() => model.eval().forward(x).toFloat32()));
    const qkv0 = model.blocks.at(0).attn.qkv.weight.toFloat32();
    assert.equal(mergeLora(model), 4);
    assert.ok(![...model.namedParameters()].some(([n]) => n.includes('lora_')));
    const after = noGrad(() => scope(() => model.forward(x).toFloat32()));
    assert.ok(maxDiff(after, before).diff < 1e-5);
    assert.ok(maxDiff(model.blocks.at(0).attn.qkv.weight.toFloat32(), qkv0).diff > 0);
    // removing the PEFT config restores the unmerged backbone
    removePeft(model);
    assert.deepEqual(model.blocks.at(0).attn.qkv.weight.toFloat32(), qkv0);
  } finally {
    x.dispose();
    model.dispose();
  }
});
