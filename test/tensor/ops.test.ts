/**
 * Every op of src/tensor against torch 1.13's outputs for the same inputs
 * (fixtures/tensor/ops.safetensors + ops.json, made by tools/fixtures/tensor_fixtures.py).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readSafetensors } from '../../src/io/safetensors.js';
import * as T from '../../src/tensor/index.js';
import { nativeOps } from '../../src/tensor/tensor.js';
import type { Tensor } from '../../src/tensor/index.js';
import { fixture } from '../helpers.js';

interface Case {
  name: string;
  op: string;
  inputs: string[];
  args: Record<string, unknown>;
  outputs: string[];
  dtype: string | null;
}
const spec = JSON.parse(readFileSync(fixture('tensor', 'ops.json'), 'utf8')) as { cases: Case[] };
const file = readSafetensors(fixture('tensor', 'ops.safetensors')).tensors;

type Out = Tensor | Tensor[] | { values: Tensor; indices: Tensor };
// biome-ignore lint/suspicious/noExplicitAny: an op's arguments come from the fixture's JSON, shaped as that op's signature wants
type Args = Record<string, any>;
type In = Record<string, Tensor>;
const other = (i: In, a: Args): Tensor | number => (a.scalar !== undefined ? (a.scalar as number) : i.y);
const num = (v: unknown): number => (v === 'inf' ? Infinity : (v as number));

/** op name (the TypeScript API's) -> the call. */
const OPS: Record<string, (i: In, a: Args) => Out> = {
  randn: (_, a) => T.randn(a.shape, { seed: a.seed, dtype: a.dtype }),
  rand: (_, a) => T.rand(a.shape, { seed: a.seed, dtype: a.dtype }),
  randint: (_, a) => T.randint(a.low, a.high, a.shape, { seed: a.seed }),
  randperm: (_, a) => T.randperm(a.n, a.seed),
  matmul: (i) => i.x.matmul(i.y),
  linear: (i) => T.linear(i.x, i.w, i.b),
  conv1d: (i, a) => T.conv1d(i.x, i.w, i.b, a),
  conv2d: (i, a) => T.conv2d(i.x, i.w, i.b, a),
  layerNorm: (i, a) => T.layerNorm(i.x, a.normalizedShape, i.w ?? null, i.b ?? null, a.eps),
  gelu: (i, a) => i.x.gelu(a.approximate),
  softmax: (i, a) => i.x.softmax(a.dim),
  logSoftmax: (i, a) => i.x.logSoftmax(a.dim),
  attention: (i, a) => T.attention(i.q, i.k, i.v, a.scale),
  interpolateBilinear: (i, a) => T.interpolateBilinear(i.x, a.size, a.alignCorners),
  pad: (i, a) => T.pad(i.x, a.pads, a.value),
  crossEntropy: (i, a) => T.crossEntropy(i.logits, i.target, a.reduction, a.labelSmoothing),
  bceWithLogits: (i, a) => T.bceWithLogits(i.logits, i.target, a.reduction, i.posWeight),
  mseLoss: (i, a) => T.mseLoss(i.x, i.y, a.reduction),
  sum: (i, a) => i.x.sum(a.dims, a.keepdim),
  mean: (i, a) => i.x.mean(a.dims, a.keepdim),
  var: (i, a) => i.x.var(a.dims, a.correction, a.keepdim),
  std: (i, a) => i.x.std(a.dims, a.correction, a.keepdim),
  norm: (i, a) => i.x.norm(a.p === undefined ? undefined : num(a.p), a.dims, a.keepdim),
  amax: (i, a) => i.x.amax(a.dims, a.keepdim),
  amin: (i, a) => i.x.amin(a.dims, a.keepdim),
  logsumexp: (i, a) => i.x.logsumexp(a.dims, a.keepdim),
  max: (i, a) => i.x.max(a.dim, a.keepdim),
  argmax: (i, a) => i.x.argmax(a.dim, a.keepdim),
  topk: (i, a) => i.x.topk(a.k, a.dim, a.largest, a.sorted),
  sort: (i, a) => i.x.sort(a.dim, a.descending),
  cumsum: (i, a) => i.x.cumsum(a.dim),
  all: (i) => T.tensor([i.x.all() ? 1 : 0], [], 'bool'),
  reshape: (i, a) => i.x.reshape(...a.shape),
  view: (i, a) => i.x.view(...a.shape),
  permute: (i, a) => i.x.permute(...a.dims),
  transpose: (i, a) => i.x.transpose(a.a, a.b),
  T: (i) => i.x.T,
  narrow: (i, a) => i.x.narrow(a.dim, a.start, a.length),
  slice: (i, a) => i.x.slice(a.dim, a.start, a.end, a.step),
  select: (i, a) => i.x.select(a.dim, a.index),
  indexSelect: (i, a) => i.x.indexSelect(a.dim, i.index),
  gather: (i, a) => i.x.gather(a.dim, i.index),
  unsqueeze: (i, a) => i.x.unsqueeze(a.dim),
  squeeze: (i, a) => i.x.squeeze(a.dim),
  expand: (i, a) => i.x.expand(...a.shape),
  repeat: (i, a) => i.x.repeat(...a.times),
  flatten: (i, a) => i.x.flatten(a.start, a.end),
  split: (i, a) => i.x.split(a.sizes, a.dim),
  chunk: (i, a) => i.x.chunk(a.n, a.dim),
  roll: (i, a) => i.x.roll(a.shifts, a.dims),
  flip: (i, a) => i.x.flip(a.dims),
  contiguous: (i) => i.x.contiguous(),
  cat: (i, a) => T.cat([i.x, i.y], a.dim),
  stack: (i, a) => T.stack([i.x, i.y], a.dim),
  tril: (i) => new T.Tensor(nativeOps.tril(i.x.native, 0)),
  where: (i) => T.where(i.cond, i.x, i.y),
  maskedFill: (i, a) => i.x.maskedFill(i.mask, a.value),
  clamp: (i, a) => i.x.clamp(a.min ?? null, a.max ?? null),
  add: (i, a) => i.x.add(other(i, a), a.alpha),
  sub: (i, a) => i.x.sub(other(i, a), a.alpha),
  mul: (i, a) => i.x.mul(other(i, a)),
  div: (i, a) => i.x.div(other(i, a)),
  pow: (i, a) => i.x.pow(other(i, a)),
  maximum: (i) => i.x.maximum(i.y),
  minimum: (i) => i.x.minimum(i.y),
  eq: (i, a) => i.x.eq(other(i, a)),
  ne: (i, a) => i.x.ne(other(i, a)),
  lt: (i, a) => i.x.lt(other(i, a)),
  le: (i, a) => i.x.le(other(i, a)),
  gt: (i, a) => i.x.gt(other(i, a)),
  ge: (i, a) => i.x.ge(other(i, a)),
  to: (i, a) => i.x.to(a.dtype),
};
for (const u of [
  'neg',
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'abs',
  'sign',
  'tanh',
  'sigmoid',
  'relu',
  'erf',
  'sin',
  'cos',
  'floor',
  'reciprocal',
  'isfinite',
  'logicalNot',
] as const) {
  OPS[u] = (i) => i.x[u]();
}

function outputs(out: Out, names: string[]): Map<string, Tensor> {
  if (out instanceof T.Tensor) return new Map([['out', out]]);
  if (Array.isArray(out)) return new Map(out.map((t, k) => [`out${k}`, t]));
  assert.deepEqual(names, ['values', 'indices']);
  return new Map([
    ['values', out.values],
    ['indices', out.indices],
  ]);
}

/** Relative+absolute tolerance by dtype; NaN must match NaN, infinities exactly. */
export function assertAllClose(got: Tensor, want: Tensor, what: string, tol?: number): void {
  assert.equal(got.dtype, want.dtype, `${what}: dtype`);
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const g = got.toArray();
  const w = want.toArray();
  const t = tol ?? (want.dtype === 'float64' ? 1e-10 : want.dtype === 'float32' ? 2e-6 : 0);
  for (let k = 0; k < w.length; k++) {
    if (Number.isNaN(w[k])) assert.ok(Number.isNaN(g[k]), `${what}[${k}]: ${g[k]}, expected NaN`);
    else if (!Number.isFinite(w[k])) assert.equal(g[k], w[k], `${what}[${k}]`);
    else assert.ok(Math.abs(g[k] - w[k]) <= t * (1 + Math.abs(w[k])), `${what}[${k}]: ${g[k]} vs ${w[k]} (tol ${t})`);
  }
}

test('the fixture covers every op the runner knows, and the runner knows every op of the fixture', () => {
  const inFixture = new Set(spec.cases.map((c) => c.op));
  assert.deepEqual(
    [...inFixture].filter((o) => !(o in OPS)),
    [],
  );
  assert.deepEqual(
    Object.keys(OPS).filter((o) => !inFixture.has(o)),
    [],
  );
  assert.ok(spec.cases.length > 140);
});

for (const c of spec.cases) {
  test(`${c.name}: ${c.op} matches torch`, () => {
    T.scope(() => {
      const inputs: In = {};
      for (const k of c.inputs) inputs[k] = T.fromRaw(file.get(`${c.name}/${k}`)!);
      const got = outputs(OPS[c.op](inputs, c.args), c.outputs);
      assert.deepEqual([...got.keys()], c.outputs, 'output names');
      for (const k of c.outputs) {
        const want = T.fromRaw(file.get(`${c.name}/${k}`)!);
        assertAllClose(got.get(k)!, want, `${c.name}/${k}`);
      }
    });
  });
}
