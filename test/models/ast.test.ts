import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rawToFloat32, writeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { fromRaw, noGrad, tensor, toRaw, zeros } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';
import { astFromImageStateDict, astGrid, AudioSpectrogramTransformer, HF_LN_EPS, loadAst, resizePosEmbed } from '../../src/models/ast.js';
import { loadBackboneStateDict } from '../../src/models/checkpoint_keys.js';
import { countAst, countModel } from '../../src/peft/params.js';
import { peftOf } from '../../src/peft/methods.js';
import {
  astConfigOf,
  backbonePath,
  caseInput,
  cases,
  caseNamed,
  expectedOf,
  freshDir,
  loadCase,
  manifest,
  maxDiff,
} from './model_cases.js';
import { syntheticStateDict } from './synthetic_weights.js';

// --------------------------------------------------------------------------------- PyTorch parity

for (const c of cases) {
  test(`parity with the PyTorch reference: ${c.name} (${c.method}, ${c.f_dim}x${c.t_dim}, pos ${c.pos_embed_path.time}/${c.pos_embed_path.freq})`, () => {
    const { model } = loadCase(c);
    try {
      const exp = expectedOf(c);
      const x = caseInput(c);
      const wantAttn = exp.has('attn_last');
      const got = noGrad(() =>
        scope(() => {
          const out: Record<string, Float32Array> = {};
          const pooled = model.features(x);
          out.pooled = pooled.toFloat32();
          out.logits = model.head.forward(pooled).toFloat32();
          out.pos_embed = model.pos_embed.toFloat32();
          if (exp.has('embed')) {
            const e = model.embed(x);
            out.embed = e.toFloat32();
            out.block0 = model.blocks
              .at(0)
              .forward(e, { nSpecial: model.grid.special, grid: [model.grid.gridRows, model.grid.gridCols] })
              .out.toFloat32();
          }
          if (wantAttn) out.attn_last = model.forward(x, { attention: 'last' }).attentions[model.depth - 1]!.toFloat32();
          return out;
        }),
      );
      x.dispose();
      for (const [name, want] of exp) {
        const g = got[name];
        assert.ok(g, `${c.name}: ${name} not computed`);
        const { diff, scale } = maxDiff(g, want);
        assert.ok(diff <= 1e-4 * (1 + scale), `${c.name}: ${name} differs by ${diff.toExponential(2)} (max |value| ${scale.toFixed(3)})`);
      }
      // the model as built has the reference's parameter counts, and the analytic count agrees
      const counts = countModel(model);
      assert.deepEqual({ total: counts.total, trainable: counts.trainable, frozen: counts.frozen }, c.params, `${c.name}: params`);
      const analytic = countAst(astConfigOf(c), peftOf(model)!);
      assert.deepEqual(
        { total: analytic.total, trainable: analytic.trainable, frozen: analytic.frozen },
        c.params,
        `${c.name}: analytic params`,
      );
      assert.deepEqual(model.grid, { gridRows: c.f_dim, gridCols: c.t_dim, special: manifest.backbones[c.backbone].distilled ? 2 : 1 });
    } finally {
      model.dispose();
    }
  });
}

test('parity cases cover both strides, crop and resize in time and frequency, both token counts', () => {
  const paths = new Set(cases.map((c) => `${c.pos_embed_path.time}/${c.pos_embed_path.freq}`));
  for (const p of ['crop/crop', 'resize/crop', 'crop/resize', 'resize/resize']) assert.ok(paths.has(p), p);
  assert.ok(cases.some((c) => c.fstride === 10) && cases.some((c) => c.fstride === 16));
  assert.ok(cases.some((c) => !manifest.backbones[c.backbone].distilled));
});

// --------------------------------------------------------------------------------- conversion

test('loadAst: image heads are unused, the AST head is fresh, the patch weight is the RGB sum', () => {
  const c = caseNamed('tiny_s16_t100_f128');
  const path = backbonePath(c.backbone);
  const { model, unused, format, container } = loadAst(path, astConfigOf(c));
  try {
    assert.equal(format, 'timm');
    assert.equal(container, 'safetensors');
    assert.deepEqual(unused.sort(), ['head.bias', 'head.weight', 'head_dist.bias', 'head_dist.weight']);
    assert.equal(model.loadInfo!.headLoaded, false);
    const sd = loadBackboneStateDict(path).tensors;
    const summed = noGrad(() => scope(() => fromRaw(sd.get('patch_embed.proj.weight')!).sum(1, true).toFloat32()));
    assert.deepEqual(model.patch_embed.proj.weight.shape, [192, 1, 16, 16]);
    assert.ok(maxDiff(model.patch_embed.proj.weight.toFloat32(), summed).diff === 0);
    // every backbone tensor other than the two converted ones is copied as is
    const qkv = model.blocks.at(3).attn.qkv.weight.toFloat32();
    const src = rawToFloat32(sd.get('blocks.3.attn.qkv.weight')!);
    assert.ok(maxDiff(qkv, src).diff === 0);
  } finally {
    model.dispose();
  }
});

test('astFromImageStateDict: a raw timm state dict; image heads listed as unused', () => {
  const spec = manifest.backbones.deit_tiny_patch16_224_depth2;
  const m = astFromImageStateDict(
    syntheticStateDict(spec),
    { arch: 'deit_tiny_patch16_224', numClasses: 2, melBins: 128, frames: 100, fstride: 16, tstride: 16, depth: 2 },
    'synthetic',
  );
  try {
    assert.deepEqual(m.loadInfo!.unused.sort(), ['head.bias', 'head.weight']);
    assert.equal(m.loadInfo!.kind, 'image');
    assert.deepEqual(m.loadInfo!.sourceGrid, [14, 14]);
  } finally {
    m.dispose();
  }
  assert.throws(
    () =>
      astFromImageStateDict(
        syntheticStateDict(spec),
        { arch: 'deit_tiny_patch16_224', numClasses: 2, melBins: 128, frames: 100, fstride: 16, tstride: 16 },
        'synthetic',
      ),
    /^Error: synthetic: this checkpoint is .*depth 2.*not deit_tiny_patch16_224 \(depth 12, width 192\): missing blocks\.2\./,
  );
});

test('loadAst: the wrong architecture is a one-line error naming the checkpoint and what it is', () => {
  const path = backbonePath('deit_tiny_distilled_patch16_224');
  const cfg = { arch: 'deit_small_distilled_patch16_224', numClasses: 3, melBins: 128, frames: 100, fstride: 16, tstride: 16 };
  assert.throws(
    () => loadAst(path, cfg),
    (e: Error) => {
      assert.ok(e.message.startsWith(`${path}:`), e.message);
      assert.match(e.message, /deit_tiny_distilled_patch16_224/);
      assert.match(e.message, /not deit_small_distilled_patch16_224/);
      assert.ok(!e.message.includes('\n'));
      return true;
    },
  );
  // a non-distilled checkpoint for a distilled arch: dist_token missing
  assert.throws(
    () => loadAst(backbonePath('deit_tiny_patch16_224_depth2'), { ...cfg, arch: 'deit_tiny_distilled_patch16_224', depth: 2 }),
    /missing dist_token/,
  );
  assert.throws(() => loadAst(path, { ...cfg, arch: 'nope' }), /nope: unknown architecture/);
});

test('loadAst: reduced depth leaves extra blocks unused; strict refuses them', () => {
  const path = backbonePath('deit_tiny_distilled_patch16_224');
  const cfg = { arch: 'deit_tiny_distilled_patch16_224', numClasses: 3, melBins: 128, frames: 100, fstride: 16, tstride: 16, depth: 2 };
  const { model, unused } = loadAst(path, cfg);
  assert.equal(model.depth, 2);
  assert.ok(unused.includes('blocks.2.attn.qkv.weight'));
  model.dispose();
  assert.throws(() => loadAst(path, cfg, { strict: true }), /not used by a depth-2/);
});

test('forward: a wrong input shape names the expected frames and mel bins', () => {
  const m = new AudioSpectrogramTransformer(
    { arch: 'deit_tiny_patch16_224', numClasses: 2, melBins: 128, frames: 100, fstride: 16, tstride: 16, depth: 1 },
    { seed: 1 },
  );
  try {
    assert.throws(
      () => scope(() => m.forward(zeros([1, 50, 192]))),
      /fbank: expected \[batch, 100 frames, 128 mel bins\], got \[1, 50, 192\]/,
    );
  } finally {
    m.dispose();
  }
});

test('astGrid follows the AST formula and names bad values', () => {
  assert.deepEqual(astGrid({ melBins: 128, frames: 1024, fstride: 10, tstride: 10 }), { gridRows: 12, gridCols: 101 });
  assert.deepEqual(astGrid({ melBins: 128, frames: 400, fstride: 16, tstride: 16 }), { gridRows: 8, gridCols: 25 });
  assert.throws(() => astGrid({ melBins: 128, frames: 8, fstride: 16, tstride: 16 }), /^Error: frames: 8 frames/);
  assert.throws(() => astGrid({ melBins: 128, frames: 100, fstride: 0, tstride: 16 }), /^Error: fstride/);
});

test('attention maps: last block averaged over heads, or every block per head; same logits either way', () => {
  const c = caseNamed('tinycls_s16_t100_f128');
  const { model } = loadCase(c);
  const x = caseInput(c);
  try {
    const L = 1 + c.f_dim * c.t_dim;
    const withMaps = noGrad(() =>
      scope(() => {
        const r = model.forward(x, { attention: 'all', attentionHeads: true });
        assert.equal(r.attentions.length, model.depth);
        assert.ok(
          r.attentions.every((a) => a !== null && a.shape.join() === [2, 3, L, L].join()),
          'every block recorded per head',
        );
        const rows = r.attentions[1]!.sum(-1).toFloat32();
        assert.ok(rows.every((v) => Math.abs(v - 1) < 1e-5));
        return r.logits.toFloat32();
      }),
    );
    noGrad(() =>
      scope(() => {
        const r = model.forward(x, { attention: true });
        assert.deepEqual(
          r.attentions.map((a) => a?.shape ?? null),
          [...Array(model.depth - 1).fill(null), [2, L, L]],
        );
      }),
    );
    // the maps belong to the forward's caller: nothing stays on the model
    assert.equal('lastAttention' in model || 'attentions' in model, false);
    const plain = noGrad(() => scope(() => model.forward(x).toFloat32()));
    assert.ok(maxDiff(plain, withMaps).diff < 1e-5);
  } finally {
    x.dispose();
    model.dispose();
  }
});

// --------------------------------------------------------------------------------- audio checkpoints

/** Our AST's state dict under Hugging Face ASTForAudioClassification names. */
function toHfAst(model: AudioSpectrogramTransformer): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  const D = model.embedDim;
  const P = 'audio_spectrogram_transformer.';
  const sd = model.stateDict();
  const raw = (k: string): RawTensor => toRaw(sd.get(k)!);
  out.set(`${P}embeddings.cls_token`, raw('cls_token'));
  if (sd.has('dist_token')) out.set(`${P}embeddings.distillation_token`, raw('dist_token'));
  out.set(`${P}embeddings.position_embeddings`, raw('pos_embed'));
  out.set(`${P}embeddings.patch_embeddings.projection.weight`, raw('patch_embed.proj.weight'));
  out.set(`${P}embeddings.patch_embeddings.projection.bias`, raw('patch_embed.proj.bias'));
  for (let i = 0; i < model.depth; i++) {
    const b = `blocks.${i}.`;
    const l = `${P}encoder.layer.${i}.`;
    for (const kind of ['weight', 'bias']) {
      const qkv = sd.get(`${b}attn.qkv.${kind}`)!;
      ['query', 'key', 'value'].forEach((n, j) => {
        out.set(`${l}attention.attention.${n}.${kind}`, toRaw(qkv.narrow(0, j * D, D).contiguous()));
      });
      out.set(`${l}attention.output.dense.${kind}`, raw(`${b}attn.proj.${kind}`));
      out.set(`${l}intermediate.dense.${kind}`, raw(`${b}mlp.fc1.${kind}`));
      out.set(`${l}output.dense.${kind}`, raw(`${b}mlp.fc2.${kind}`));
      out.set(`${l}layernorm_before.${kind}`, raw(`${b}norm1.${kind}`));
      out.set(`${l}layernorm_after.${kind}`, raw(`${b}norm2.${kind}`));
    }
  }
  for (const kind of ['weight', 'bias']) {
    out.set(`${P}layernorm.${kind}`, raw(`norm.${kind}`));
    out.set(`classifier.layernorm.${kind}`, raw(`head.norm.${kind}`));
    out.set(`classifier.dense.${kind}`, raw(`head.fc.${kind}`));
  }
  for (const t of sd.values()) t.dispose();
  return out;
}

test('loadAst: a Hugging Face AST checkpoint (1-channel, its own 12x101 grid) keeps its grid and head', () => {
  // an "AudioSet" AST: 1024 frames at stride 10 -> 12 x 101 patches
  const src = loadAst(backbonePath('deit_tiny_patch16_224_depth2'), {
    arch: 'deit_tiny_patch16_224',
    numClasses: 4,
    melBins: 128,
    frames: 1024,
    fstride: 10,
    tstride: 10,
    depth: 2,
  }).model;
  const dir = freshDir('hf-ast');
  const file = join(dir, 'model.safetensors');
  try {
    assert.deepEqual([src.grid.gridRows, src.grid.gridCols], [12, 101]);
    writeSafetensors(file, toHfAst(src));
    // same geometry: the same model (its head included); HF's LayerNorm eps 1e-12 is used
    const same = loadAst(dir, { ...src.cfg });
    try {
      assert.equal(same.format, 'hf-ast');
      assert.equal(same.model.loadInfo!.kind, 'audio');
      assert.equal(same.model.loadInfo!.headLoaded, true);
      assert.equal(same.model.norm.eps, HF_LN_EPS);
      assert.deepEqual(same.model.loadInfo!.sourceGrid, [12, 101]);
      const x = tensor(
        new Float32Array(1024 * 128).map((_, i) => Math.sin(i * 0.37)),
        [1, 1024, 128],
      );
      const a = noGrad(() => scope(() => src.eval().forward(x).toFloat32()));
      const b = noGrad(() => scope(() => same.model.eval().forward(x).toFloat32()));
      const { diff, scale } = maxDiff(b, a);
      assert.ok(diff <= 1e-4 * (1 + scale), `logits differ by ${diff}`);
      x.dispose();
    } finally {
      same.model.dispose();
    }
    // a shorter input: its pos table is cropped from the 12x101 grid by the same rule; another class count: fresh head
    const short = loadAst(file, {
      arch: 'deit_tiny_patch16_224',
      numClasses: 7,
      melBins: 128,
      frames: 100,
      fstride: 10,
      tstride: 10,
      depth: 2,
    });
    try {
      assert.equal(short.model.loadInfo!.headLoaded, false);
      // the reader renames AST heads to head.*; with another class count they stay unused
      assert.deepEqual(short.unused.sort(), ['head.fc.bias', 'head.fc.weight', 'head.norm.bias', 'head.norm.weight']);
      const want = noGrad(() => scope(() => resizePosEmbed(src.pos_embed, 1, [12, 101], [12, 9]).toFloat32()));
      assert.ok(maxDiff(short.model.pos_embed.toFloat32(), want).diff === 0);
      // columns 50 - 4 .. 50 + 4 of each frequency row
      const D = 192;
      const srcPos = src.pos_embed.toFloat32();
      assert.equal(short.model.pos_embed.toFloat32()[(1 + 5 * 9 + 2) * D + 7], srcPos[(1 + 5 * 101 + 48) * D + 7]);
    } finally {
      short.model.dispose();
    }
    // an audio checkpoint is not an image one
    assert.throws(() => astFromImageStateDict(loadBackboneStateDict(file).tensors, { ...src.cfg }, file), /1-channel patch embedding/);
  } finally {
    src.dispose();
  }
});

test('integer tensors where float weights belong are refused naming source, key and both dtypes; float16 still loads', () => {
  const spec = manifest.backbones.deit_tiny_patch16_224_depth2;
  const cfg = { arch: 'deit_tiny_patch16_224', numClasses: 2, melBins: 128, frames: 100, fstride: 16, tstride: 16, depth: 2 };
  // same bytes, relabelled: the silent cast would turn each float's bit pattern into a large integer-valued weight
  const asInt = (t: RawTensor): RawTensor => ({ ...t, dtype: 'int32' });
  for (const key of ['blocks.1.mlp.fc1.weight', 'pos_embed', 'patch_embed.proj.weight']) {
    const sd = syntheticStateDict(spec);
    sd.set(key, asInt(sd.get(key)!));
    assert.throws(
      () => astFromImageStateDict(sd, cfg, 'synthetic.safetensors'),
      (e: Error) => {
        assert.ok(e.message.startsWith(`synthetic.safetensors: ${key}: the file holds int32 where float32 is expected`), e.message);
        return true;
      },
    );
  }
  const sd = syntheticStateDict(spec);
  const key = 'blocks.1.mlp.fc1.weight';
  const half = noGrad(() => scope(() => toRaw(fromRaw(sd.get(key)!).to('float16'))));
  sd.set(key, half);
  const m = astFromImageStateDict(sd, cfg, 'synthetic');
  try {
    assert.equal(m.blocks.at(1).mlp.fc1.weight.dtype, 'float32');
  } finally {
    m.dispose();
  }
});
