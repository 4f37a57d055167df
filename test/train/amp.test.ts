import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { Linear } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { GradScaler } from '../../src/train/amp.js';

test('fp16 loss scaler: an injected overflow skips the step and halves the scale; training then continues', {
  skip: T.cpuAutocastLimitation() ?? false,
}, () => {
  const lin = new Linear(4, 3, { seed: 1 });
  const params = lin.parameters();
  const opt = new SGD(params, { lr: 0.1 });
  const skips: number[] = [];
  const scaler = new GradScaler({ initScale: 1024, growthInterval: 2, onSkip: (s) => skips.push(s.step) });
  const x = T.randn([8, 4], { seed: 2 }).keep();
  const target = T.tensor([0, 1, 2, 0, 1, 2, 0, 1], [8], 'int64').keep();
  const losses: number[] = [];
  const step = (inject: boolean): boolean => {
    opt.zeroGrad();
    T.scope(() => {
      const loss = T.autocast('cpu', 'float16', () => T.crossEntropy(lin.forward(x), target));
      losses.push(loss.item());
      scaler.scaleLoss(loss).backward();
    });
    if (inject) T.noGrad(() => T.scope(() => lin.weight.grad!.fill_(Infinity)));
    return scaler.step(params, () => opt.step());
  };
  try {
    assert.equal(step(false), true);
    assert.equal(scaler.scale, 1024);
    const before = lin.weight.toFloat32();
    assert.equal(step(true), false, 'the overflowing step is skipped');
    assert.deepEqual(lin.weight.toFloat32(), before, 'a skipped step leaves the weights alone');
    assert.equal(scaler.scale, 512);
    assert.deepEqual(skips, [2]);
    assert.equal(scaler.skipped, 1);
    for (let i = 0; i < 6; i++) assert.equal(step(false), true);
    assert.ok(scaler.scale > 512, `the scale grows again after good steps (now ${scaler.scale})`);
    assert.ok(losses.at(-1)! < losses[0], `training continues: loss ${losses[0]} -> ${losses.at(-1)}`);
    // unscaled gradients: what the optimizer saw is the true gradient
    opt.zeroGrad();
    T.scope(() => scaler.scaleLoss(T.crossEntropy(lin.forward(x), target)).backward());
    const scaled = lin.weight.grad!.toFloat32();
    scaler.step(params, () => {
      const g = lin.weight.grad!.toFloat32();
      for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] * scaler.scale - scaled[i]) <= 1e-4 * Math.abs(scaled[i]) + 1e-6);
    });
  } finally {
    lin.dispose();
    x.dispose();
    target.dispose();
  }
});

test('the scaler passes through when disabled (bf16, fp32) and rejects bad settings', () => {
  const s = new GradScaler({ enabled: false });
  let ran = 0;
  assert.equal(
    s.step([], () => ran++),
    true,
  );
  assert.equal(ran, 1);
  assert.throws(() => new GradScaler({ backoffFactor: 1 }), /^RangeError: GradScaler: backoffFactor/);
  assert.throws(() => new GradScaler({ initScale: 0 }), /^RangeError: GradScaler: initScale/);
});
