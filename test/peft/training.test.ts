import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossEntropy, tensor } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';
import { Adam } from '../../src/optim/adam.js';
import { loadAst } from '../../src/models/ast.js';
import { loadBackboneStateDict } from '../../src/models/checkpoint_keys.js';
import { applyPeft, isTrainable, trainableNames, type PeftConfig } from '../../src/peft/methods.js';
import { isBitfitParam } from '../../src/peft/bitfit.js';
import { backbonePath, caseInput, caseNamed } from '../models/model_cases.js';

const METHODS: PeftConfig[] = [
  {
    method: 'loaa',
    adapters: [
      { position: 'attn', kernel: [1, 3], bottleneck: 4 },
      { position: 'ffn', kernel: [3, 1], bottleneck: 4, bias: true },
    ],
  },
  { method: 'adapter', adapters: [{ position: 'attn', kernel: [1, 3], bottleneck: 4, mode: 'sequential' }] },
  { method: 'lora', lora: { rank: 2, alpha: 4 } },
  { method: 'prompt', prompt: { tokens: 2 } },
  { method: 'bitfit' },
  { method: 'linear' },
];

function bytes(t: { bytes(): Uint8Array }): Buffer {
  return Buffer.from(t.bytes());
}

for (const peft of METHODS) {
  test(`training ${peft.method}${peft.adapters?.[0]?.mode === 'sequential' ? ' (sequential)' : ''}: frozen tensors stay bit-identical, only trainable ones get gradients`, () => {
    const c = caseNamed('tinycls_s16_t100_f128');
    const path = backbonePath(c.backbone);
    const { model } = loadAst(
      path,
      { arch: c.arch, numClasses: 3, melBins: c.fdim, frames: c.tdim, fstride: c.fstride, tstride: c.tstride, depth: c.depth },
      { seed: 1 },
    );
    const x = caseInput(c);
    const y = tensor([0, 2], [2], 'int64');
    try {
      const resolved = applyPeft(model, peft, { seed: 7 });
      const names = trainableNames(model);
      assert.ok(names.includes('head.fc.weight'));
      for (const [n, p] of model.namedParameters()) assert.equal(p.requiresGrad, isTrainable(n, resolved), n);
      if (peft.method === 'bitfit')
        assert.deepEqual(
          names.filter((n) => !n.startsWith('head.')),
          [...model.namedParameters()].map(([n]) => n).filter(isBitfitParam),
        );
      if (peft.method === 'linear')
        assert.deepEqual(names.sort(), ['head.fc.bias', 'head.fc.weight', 'head.norm.bias', 'head.norm.weight']);
      const before = new Map([...model.namedParameters()].map(([n, p]) => [n, bytes(p)]));
      const opt = new Adam(
        model.trainableParameters().map(([, p]) => p),
        { lr: 1e-2 },
      );
      model.train();
      for (let step = 0; step < 3; step++) {
        opt.zeroGrad();
        scope(() => crossEntropy(model.forward(x), y).backward());
        for (const [n, p] of model.namedParameters()) {
          const g = p.grad;
          if (p.requiresGrad) assert.ok(g !== null, `${n}: trainable but no gradient`);
          else assert.equal(g, null, `${n}: frozen but the engine computed a gradient`);
          g?.dispose();
        }
        opt.step();
      }
      // frozen: bit-identical to what was loaded, and (for tensors the AST copies unchanged) to the checkpoint file
      const file = loadBackboneStateDict(path).tensors;
      let compared = 0;
      for (const [n, p] of model.namedParameters()) {
        const now = bytes(p);
        if (p.requiresGrad) continue;
        assert.ok(now.equals(before.get(n)!), `${n}: frozen tensor changed`);
        const raw = file.get(n);
        if (raw && n !== 'pos_embed' && n !== 'patch_embed.proj.weight') {
          assert.ok(now.equals(Buffer.from(raw.data)), `${n}: differs from the checkpoint`);
          compared++;
        }
      }
      if (peft.method !== 'bitfit') assert.ok(compared > 10);
      // and the trainable ones moved (Up and LoRA B start at zero; the head always moves)
      const moved = names.filter((n) => !bytes(new Map(model.namedParameters()).get(n)!).equals(before.get(n)!));
      assert.ok(moved.includes('head.fc.weight'));
      if (peft.adapters)
        assert.ok(
          moved.some((n) => n.endsWith('adapter.up.weight')),
          'Up did not train',
        );
      if (peft.lora)
        assert.ok(
          moved.some((n) => n.endsWith('.B')),
          'LoRA B did not train',
        );
      if (peft.prompt)
        assert.ok(
          moved.some((n) => n.endsWith('.prompt')),
          'prompts did not train',
        );
      opt.zeroGrad();
    } finally {
      x.dispose();
      y.dispose();
      model.dispose();
    }
  });
}

test('full fine-tuning trains everything', () => {
  const c = caseNamed('tinycls_s16_t100_f128');
  const { model } = loadAst(
    backbonePath(c.backbone),
    { arch: c.arch, numClasses: 3, melBins: c.fdim, frames: c.tdim, fstride: c.fstride, tstride: c.tstride, depth: 1 },
    { seed: 1 },
  );
  try {
    applyPeft(model, { method: 'full' });
    assert.equal(trainableNames(model).length, [...model.namedParameters()].length);
  } finally {
    model.dispose();
  }
});
