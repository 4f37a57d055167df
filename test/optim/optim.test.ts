import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor, type Tensor } from '../../src/tensor/index.js';
import { Adam, AdamW, SGD, clipGradNorm, type Optimizer, type GroupOptions } from '../../src/optim/index.js';
import { fixture } from '../helpers.js';

type Nested = number[] | number[][];
interface Group {
  params: string[];
  lr: number;
  momentum?: number;
  dampening?: number;
  weight_decay?: number;
  nesterov?: boolean;
  betas?: [number, number];
  eps?: number;
  amsgrad?: boolean;
}
interface Case {
  name: string;
  optimizer: 'sgd' | 'adam' | 'adamw';
  groups: Group[];
  clip: { max_norm: number; norm_type: number } | null;
  steps: { params: Record<string, Nested>; grad_norm?: number; clipped_grads?: Record<string, Nested> }[];
}
interface Fixture {
  initial: Record<string, Nested>;
  shapes: Record<string, number[]>;
  grads: Record<string, Nested>[];
  cases: Case[];
}

const fx = JSON.parse(readFileSync(fixture('optim', 'optim_cases.json'), 'utf8')) as Fixture;
const NAMES = ['W', 'b'];
const TOL = 1e-9;

const flat = (v: Nested): number[] => (v as unknown[]).flat() as number[];
const f64 = (v: Nested, shape: number[]): Tensor => tensor(Float64Array.from(flat(v)), shape);

function assertClose(got: Tensor, want: Nested, what: string, tol = TOL): void {
  const g = got.toArray();
  const w = flat(want);
  assert.equal(g.length, w.length, what);
  for (let i = 0; i < w.length; i++) {
    assert.ok(Math.abs(g[i] - w[i]) <= tol * Math.max(1, Math.abs(w[i])), `${what}[${i}]: ${g[i]} vs ${w[i]}`);
  }
}

function makeParams(): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const n of NAMES) {
    out[n] = f64(fx.initial[n], fx.shapes[n]).keep();
    out[n].requiresGrad = true;
  }
  return out;
}

function makeOptimizer(c: Case, params: Record<string, Tensor>): Optimizer<GroupOptions> {
  const groups = c.groups.map((g) => ({
    params: g.params.map((n) => params[n]),
    lr: g.lr,
    momentum: g.momentum,
    dampening: g.dampening,
    weightDecay: g.weight_decay,
    nesterov: g.nesterov,
    betas: g.betas,
    eps: g.eps,
    amsgrad: g.amsgrad,
  }));
  const lr = c.groups[0].lr;
  if (c.optimizer === 'sgd') return new SGD(groups, { lr });
  if (c.optimizer === 'adam') return new Adam(groups, { lr });
  return new AdamW(groups, { lr });
}

function setGrads(params: Record<string, Tensor>, k: number): void {
  for (const n of NAMES) params[n].grad = f64(fx.grads[k][n], fx.shapes[n]);
}

function runSteps(c: Case, params: Record<string, Tensor>, opt: Optimizer<GroupOptions>, from: number, to: number): void {
  for (let k = from; k < to; k++) {
    opt.zeroGrad();
    setGrads(params, k);
    const rec = c.steps[k];
    if (c.clip) {
      const total = clipGradNorm(
        NAMES.map((n) => params[n]),
        c.clip.max_norm,
        c.clip.norm_type,
      );
      assert.ok(
        Math.abs(total - rec.grad_norm!) <= 1e-12 * Math.max(1, rec.grad_norm!),
        `${c.name} step ${k} grad norm ${total} vs ${rec.grad_norm}`,
      );
      for (const n of NAMES) assertClose(params[n].grad!, rec.clipped_grads![n], `${c.name} step ${k} clipped ${n}`);
    }
    opt.step();
    for (const n of NAMES) assertClose(params[n], rec.params[n], `${c.name} step ${k} ${n}`);
  }
}

test('the fixture has the 8 cases the README lists', () => {
  assert.deepEqual(
    fx.cases.map((c) => c.name),
    ['sgd_plain', 'sgd_momentum_wd', 'adam_wd', 'adamw', 'adamw_two_groups', 'sgd_momentum_two_groups', 'sgd_momentum_clip', 'adamw_clip'],
  );
});

for (const c of fx.cases) {
  test(`${c.name}: 5 steps match torch.optim (float64, 1e-9)`, () => {
    const params = makeParams();
    const opt = makeOptimizer(c, params);
    runSteps(c, params, opt, 0, c.steps.length);
    opt.dispose();
    for (const n of NAMES) params[n].dispose();
  });

  test(`${c.name}: checkpoint after 2 steps, resume in a fresh optimizer, same trajectory`, () => {
    const params = makeParams();
    const opt = makeOptimizer(c, params);
    runSteps(c, params, opt, 0, 2);
    const dir = mkdtempSync(join(tmpdir(), 'loaa-optim-'));
    try {
      const file = join(dir, 'opt.safetensors');
      opt.saveSafetensors(file);
      opt.dispose();
      const opt2 = makeOptimizer(c, params);
      // lr changed after construction must come back from the file too
      for (const g of opt2.groups) g.lr = 123;
      opt2.loadSafetensors(file);
      assert.deepEqual(
        opt2.groups.map((g) => g.lr),
        c.groups.map((g) => g.lr),
      );
      runSteps(c, params, opt2, 2, c.steps.length);
      opt2.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      for (const n of NAMES) params[n].dispose();
    }
  });
}

test('stateDict is plain bytes + JSON, keyed by global parameter index', () => {
  const params = makeParams();
  const opt = new AdamW([{ params: [params.W] }, { params: [params.b], lr: 1e-4 }], { lr: 1e-2, amsgrad: true });
  setGrads(params, 0);
  opt.step();
  const sd = opt.stateDict();
  assert.deepEqual(Object.keys(sd.tensors).sort(), [
    '0.exp_avg',
    '0.exp_avg_sq',
    '0.max_exp_avg_sq',
    '1.exp_avg',
    '1.exp_avg_sq',
    '1.max_exp_avg_sq',
  ]);
  assert.equal(sd.tensors['0.exp_avg'].dtype, 'float64');
  assert.deepEqual(sd.tensors['0.exp_avg'].shape, [3, 4]);
  const meta = JSON.parse(JSON.stringify(sd.meta));
  assert.deepEqual(meta.state, { 0: { step: 1 }, 1: { step: 1 } });
  assert.equal(meta.kind, 'adamw');
  assert.deepEqual(
    meta.groups.map((g: { lr: number; params: number[] }) => [g.lr, g.params]),
    [
      [1e-2, [0]],
      [1e-4, [1]],
    ],
  );
  opt.dispose();
  for (const n of NAMES) params[n].dispose();
});

test('loadStateDict rejects a state of another shape, kind or group layout, naming what is wrong', () => {
  const params = makeParams();
  const opt = new Adam([params.W, params.b], { lr: 1e-2 });
  setGrads(params, 0);
  opt.step();
  const sd = opt.stateDict();
  const other = tensor(new Float64Array(5), [5]).keep();
  other.requiresGrad = true;
  const wrongShape = new Adam([params.W, other], { lr: 1e-2 });
  assert.throws(
    () => wrongShape.loadStateDict(sd, 'ckpt.safetensors'),
    /ckpt\.safetensors: group 0 parameter 1: saved shape \[4\], parameter is \[5\]/,
  );
  assert.throws(() => new SGD([params.W, params.b], { lr: 1 }).loadStateDict(sd), /state of a adam optimizer, this is sgd/);
  assert.throws(
    () => new Adam([{ params: [params.W] }, { params: [params.b] }]).loadStateDict(sd),
    /1 parameter group\(s\), this optimizer has 2/,
  );
  const lying = { ...sd, tensors: { ...sd.tensors, '7.exp_avg': sd.tensors['0.exp_avg'] } };
  assert.throws(() => new Adam([params.W, params.b]).loadStateDict(lying), /"7\.exp_avg" is for parameter 7, which no group has/);
  opt.dispose();
  other.dispose();
  for (const n of NAMES) params[n].dispose();
});

test('amsgrad keeps the running max of the second moment (torch order, hand-computed)', () => {
  // one scalar parameter, gradients 1 then 0.1: the max stays at step 1's v
  const p = tensor(Float64Array.from([1]), [1]).keep();
  p.requiresGrad = true;
  const opt = new Adam([p], { lr: 0.1, amsgrad: true });
  const b1 = 0.9,
    b2 = 0.999,
    eps = 1e-8;
  let x = 1,
    m = 0,
    v = 0,
    vmax = 0;
  for (const [k, g] of [
    [1, 1],
    [2, 0.1],
    [3, 0.5],
  ]) {
    p.grad = tensor(Float64Array.from([g]), [1]);
    opt.step();
    m = m * b1 + (1 - b1) * g;
    v = v * b2 + (1 - b2) * g * g;
    vmax = Math.max(vmax, v);
    const denom = Math.sqrt(vmax) / Math.sqrt(1 - b2 ** k) + eps;
    x -= (0.1 / (1 - b1 ** k)) * (m / denom);
    assert.ok(Math.abs(p.item() - x) < 1e-12, `step ${k}: ${p.item()} vs ${x}`);
  }
  opt.dispose();
  p.dispose();
});

test('nesterov and dampening follow torch.optim.SGD', () => {
  const p = tensor(Float64Array.from([2]), [1]).keep();
  p.requiresGrad = true;
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
  let x = 2;
  let buf: number | null = null;
  for (const g of [1, -0.5, 0.25]) {
    p.grad = tensor(Float64Array.from([g]), [1]);
    opt.step();
    const d = g + 0.01 * x;
    buf = buf === null ? d : buf * 0.9 + d;
    x -= 0.1 * (d + 0.9 * buf);
    assert.ok(Math.abs(p.item() - x) < 1e-12);
  }
  opt.dispose();
  const q = tensor(Float64Array.from([2]), [1]).keep();
  q.requiresGrad = true;
  const damp = new SGD([q], { lr: 0.1, momentum: 0.5, dampening: 0.5 });
  let y = 2;
  let b: number | null = null;
  for (const g of [1, 3]) {
    q.grad = tensor(Float64Array.from([g]), [1]);
    damp.step();
    b = b === null ? g : b * 0.5 + 0.5 * g; // the first buffer is the gradient itself, undamped
    y -= 0.1 * b;
    assert.ok(Math.abs(q.item() - y) < 1e-12);
  }
  damp.dispose();
  p.dispose();
  q.dispose();
});

test('zeroGrad sets gradients to null; parameters without a gradient are not updated', () => {
  const params = makeParams();
  const before = params.b.toArray();
  const opt = new Adam([params.W, params.b], { lr: 0.1 });
  params.W.grad = f64(fx.grads[0].W, [3, 4]);
  opt.step();
  assert.deepEqual(params.b.toArray(), before);
  assert.deepEqual(Object.keys(opt.stateDict().tensors).sort(), ['0.exp_avg', '0.exp_avg_sq']);
  opt.zeroGrad();
  assert.equal(params.W.grad, null);
  assert.equal(params.b.grad, null);
  opt.dispose();
  for (const n of NAMES) params[n].dispose();
});

test('clipGradNorm: returns 0 without gradients, handles the inf norm, leaves small gradients alone', () => {
  const p = tensor(Float64Array.from([3, -4]), [2]).keep();
  p.requiresGrad = true;
  assert.equal(clipGradNorm([p], 1), 0);
  p.grad = tensor(Float64Array.from([3, -4]), [2]);
  assert.equal(clipGradNorm([p], 10), 5);
  assert.deepEqual(p.grad!.toArray(), [3, -4]);
  assert.equal(clipGradNorm([p], 2, Infinity), 4);
  const c = 2 / (4 + 1e-6);
  assert.deepEqual(p.grad!.toArray(), [3 * c, -4 * c]);
  assert.throws(() => clipGradNorm([p], -1), /maxNorm/);
  p.dispose();
});

test('hyper-parameters out of range are RangeErrors naming the group and the option', () => {
  const p = tensor([1, 2]).keep();
  assert.throws(() => new SGD([p], { lr: -1 }), /sgd: group 0: lr must be/);
  assert.throws(() => new Adam([{ params: [p], betas: [0.9, 1] }]), /adam: group 0: betas\[1\]/);
  assert.throws(() => new SGD([p], { lr: 0.1, nesterov: true }), /nesterov needs momentum/);
  assert.throws(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 }), /more than one place/);
  p.dispose();
});

test('float32 parameters keep float32 state; lr scaling keeps group ratios', () => {
  const p = tensor([1, 2, 3]).keep();
  const q = tensor([1]).keep();
  p.requiresGrad = true;
  q.requiresGrad = true;
  const opt = new AdamW([
    { params: [p], lr: 1e-3 },
    { params: [q], lr: 1e-2 },
  ]);
  p.grad = tensor([0.1, 0.2, 0.3]);
  opt.step();
  assert.equal(opt.stateDict().tensors['0.exp_avg'].dtype, 'float32');
  opt.scaleLr(0.5);
  assert.deepEqual(
    opt.groups.map((g) => g.lr),
    [5e-4, 5e-3],
  );
  opt.setLr(1);
  assert.deepEqual(
    opt.groups.map((g) => g.lr),
    [1, 1],
  );
  opt.dispose();
  p.dispose();
  q.dispose();
});
