import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { Module, Linear, Conv2d, LayerNorm, Dropout, countParameters } from '../../src/nn/index.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { tempDir } from '../helpers.js';

class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(seed: number) {
    super();
    this.fc1 = this.child('fc1', new Linear(4, 8, { seed }));
    this.fc2 = this.child('fc2', new Linear(8, 4, { seed: seed + 2 }));
  }
}
class Block extends Module {
  readonly norm: LayerNorm;
  readonly mlp: Mlp;
  constructor(seed: number) {
    super();
    this.norm = this.child('norm', new LayerNorm(4, 1e-6));
    this.mlp = this.child('mlp', new Mlp(seed));
  }
}
class Net extends Module {
  readonly blocks: Block[];
  readonly head: Linear;
  readonly stats: T.Tensor;
  constructor(seed = 1, classes = 3) {
    super();
    this.blocks = [0, 1].map((i) => this.child(`blocks.${i}`, new Block(seed + 10 * i)));
    this.head = this.child('head', new Linear(4, classes, { seed: seed + 100 }));
    this.stats = this.buffer('stats', T.arange(0, 4, 1, { dtype: 'float32' }));
  }
}

test('named parameters have dotted names, in registration order; buffers are separate', () => {
  const net = new Net();
  assert.deepEqual(
    [...net.namedParameters()].map(([n]) => n),
    [
      'blocks.0.norm.weight',
      'blocks.0.norm.bias',
      'blocks.0.mlp.fc1.weight',
      'blocks.0.mlp.fc1.bias',
      'blocks.0.mlp.fc2.weight',
      'blocks.0.mlp.fc2.bias',
      'blocks.1.norm.weight',
      'blocks.1.norm.bias',
      'blocks.1.mlp.fc1.weight',
      'blocks.1.mlp.fc1.bias',
      'blocks.1.mlp.fc2.weight',
      'blocks.1.mlp.fc2.bias',
      'head.weight',
      'head.bias',
    ],
  );
  assert.deepEqual(
    [...net.namedBuffers()].map(([n]) => n),
    ['stats'],
  );
  assert.deepEqual(
    [...net.namedModules()].map(([n]) => n),
    [
      '',
      'blocks.0',
      'blocks.0.norm',
      'blocks.0.mlp',
      'blocks.0.mlp.fc1',
      'blocks.0.mlp.fc2',
      'blocks.1',
      'blocks.1.norm',
      'blocks.1.mlp',
      'blocks.1.mlp.fc1',
      'blocks.1.mlp.fc2',
      'head',
    ],
  );
  assert.equal(net.getChild('head'), net.head);
  assert.ok(net.parameters().every((p) => p.kept && p.requiresGrad));
  assert.equal(net.stats.requiresGrad, false);
  net.dispose();
});

test('freeze / unfreeze by pattern; countParameters', () => {
  const net = new Net();
  const total = 2 * (4 + 4 + 32 + 8 + 32 + 4) + 12 + 3;
  assert.deepEqual(countParameters(net), { total, trainable: total, frozen: 0 });
  net.freeze().unfreeze([/^head\./, /\.norm\./]);
  assert.deepEqual(
    net.trainableParameters().map(([n]) => n),
    ['blocks.0.norm.weight', 'blocks.0.norm.bias', 'blocks.1.norm.weight', 'blocks.1.norm.bias', 'head.weight', 'head.bias'],
  );
  assert.deepEqual(countParameters(net), { total, trainable: 16 + 15, frozen: total - 31 });
  net.freeze([/bias$/]);
  assert.deepEqual(
    net.trainableParameters().map(([n]) => n),
    ['blocks.0.norm.weight', 'blocks.1.norm.weight', 'head.weight'],
  );
  net.dispose();
});

test('train / eval propagate to every submodule; Dropout(p=0) and eval dropout cost no copy', () => {
  const net = new Net();
  net.eval();
  assert.ok([...net.namedModules()].every(([, m]) => !m.training));
  net.train();
  assert.ok([...net.namedModules()].every(([, m]) => m.training));
  T.scope(() => {
    const x = T.ones([2, 3]);
    assert.ok(T.sameStorage(new Dropout(0).forward(x), x));
    const d = new Dropout(0.5);
    d.eval();
    assert.ok(T.sameStorage(d.forward(x), x));
    d.train();
    assert.equal(T.sameStorage(d.forward(x), x), false);
  });
  net.dispose();
});

test('layers: shapes, torch default initialisation ranges, seeded reproducibility', () => {
  T.scope(() => {
    const l = new Linear(16, 5, { seed: 3 });
    assert.deepEqual(l.weight.shape, [5, 16]);
    assert.ok(l.weight.toArray().every((v) => Math.abs(v) <= 0.25));
    assert.deepEqual(new Linear(16, 5, { seed: 3 }).weight.toArray(), l.weight.toArray());
    assert.notDeepEqual(new Linear(16, 5, { seed: 4 }).weight.toArray(), l.weight.toArray());
    assert.equal(new Linear(2, 2, { bias: false }).bias, null);
    assert.deepEqual(l.forward(T.ones([7, 16])).shape, [7, 5]);
    const c = new Conv2d(2, 4, [3, 3], { stride: 2, padding: 1, seed: 1 });
    assert.deepEqual(c.weight.shape, [4, 2, 3, 3]);
    assert.deepEqual(c.forward(T.ones([1, 2, 8, 8])).shape, [1, 4, 4, 4]);
    const g = new Conv2d(4, 4, [1, 1], { groups: 2 });
    assert.deepEqual(g.weight.shape, [4, 2, 1, 1]);
    const ln = new LayerNorm(4);
    assert.deepEqual(ln.weight.toArray(), [1, 1, 1, 1]);
    assert.deepEqual(ln.bias.toArray(), [0, 0, 0, 0]);
    for (const m of [l, c, g, ln]) m.dispose();
  });
});

test('state dict round trip through safetensors, atomically written', () => {
  const dir = tempDir('nn');
  try {
    const a = new Net(1);
    const b = new Net(2);
    const path = join(dir, 'net.safetensors');
    a.saveSafetensors(path);
    assert.deepEqual(readdirSync(dir), ['net.safetensors'], 'no temp file left behind');
    const f = readSafetensors(path);
    assert.deepEqual([...f.tensors.keys()].sort(), [...a.namedParameters(), ...a.namedBuffers()].map(([n]) => n).sort());
    const r = b.loadSafetensors(path, { strict: true });
    assert.deepEqual(r, { missing: [], unused: [] });
    const pa = new Map([...a.namedParameters(), ...a.namedBuffers()]);
    for (const [n, t] of [...b.namedParameters(), ...b.namedBuffers()]) assert.deepEqual(t.toArray(), pa.get(n)!.toArray(), n);
    // loading copies in place: the parameter tensors are the same objects, still trainable
    assert.ok(b.parameters().every((p) => p.requiresGrad && !p.disposed));
    // a filtered save (e.g. only the trainable part)
    a.saveSafetensors(join(dir, 'head.safetensors'), (n) => n.startsWith('head.'), { note: 'head only' });
    const h = readSafetensors(join(dir, 'head.safetensors'));
    assert.deepEqual([...h.tensors.keys()], ['head.bias', 'head.weight']);
    assert.deepEqual(h.metadata, { note: 'head only' });
    const partial = b.loadSafetensors(join(dir, 'head.safetensors'));
    assert.equal(partial.missing.length, 13);
    assert.throws(
      () => b.loadSafetensors(join(dir, 'head.safetensors'), { strict: true }),
      (e: Error) => e.message.startsWith(`${join(dir, 'head.safetensors')}: missing 13 tensor(s): blocks.0.norm.weight`),
    );
    a.dispose();
    b.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeSafetensors is atomic: a failed write leaves the old file and no temp file', () => {
  const dir = tempDir('nn');
  try {
    const path = join(dir, 'w.safetensors');
    const good: Record<string, RawTensor> = { x: { dtype: 'float32', shape: [1], data: new Uint8Array(4) } };
    writeSafetensors(path, good);
    const before = readFileSync(path);
    // inconsistent tensor: refused before anything is written
    assert.throws(
      () => writeSafetensors(path, { x: { dtype: 'float32', shape: [2], data: new Uint8Array(4) } }),
      /tensor "x" has 4 bytes, float32 \[2\] needs 8/,
    );
    assert.deepEqual(readFileSync(path), before);
    // the target is a directory: the rename fails, the temp file is removed
    const asDir = join(dir, 'adir');
    mkdirSync(asDir);
    assert.throws(() => writeSafetensors(asDir, good));
    assert.deepEqual(readdirSync(dir).sort(), ['adir', 'w.safetensors']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadStateDict: a shape mismatch names the key and both shapes; nothing is loaded', () => {
  const a = new Net(1, 3);
  const b = new Net(2, 5); // head [5, 4] vs [3, 4]
  const before = b.blocks[0].norm.weight.toArray();
  const sd = a.stateDict();
  b.blocks[0].norm.weight.requiresGrad = true;
  T.noGrad(() => b.blocks[0].norm.weight.mul_(2));
  const changed = b.blocks[0].norm.weight.toArray();
  assert.notDeepEqual(changed, before);
  assert.throws(
    () => b.loadStateDict(sd, { source: 'ckpt.pth' }),
    (e: Error) => {
      assert.match(
        e.message,
        /^ckpt\.pth: shape mismatch: head\.weight: expected \[5, 4\], found \[3, 4\]; head\.bias: expected \[5\], found \[3\]/,
      );
      return true;
    },
  );
  assert.deepEqual(b.blocks[0].norm.weight.toArray(), changed, 'a failed load changes nothing');
  for (const t of sd.values()) t.dispose();
  a.dispose();
  b.dispose();
});

test('loadStateDict converts dtypes, reports unused keys, and accepts RawTensors', () => {
  const net = new Net();
  const m = new Map<string, RawTensor | T.Tensor>();
  m.set('head.bias', { dtype: 'float64', shape: [3], data: new Uint8Array(Float64Array.from([1, 2, 3]).buffer) });
  const w = T.tensor(Float64Array.from(Array.from({ length: 12 }, (_, i) => i)), [3, 4]).keep();
  m.set('head.weight', w);
  m.set('extra.thing', { dtype: 'float32', shape: [1], data: new Uint8Array(4) });
  const r = net.loadStateDict(m);
  assert.deepEqual(r.unused, ['extra.thing']);
  assert.equal(r.missing.length, 13);
  assert.equal(net.head.bias!.dtype, 'float32');
  assert.deepEqual(net.head.bias!.toArray(), [1, 2, 3]);
  assert.deepEqual(
    net.head.weight.toArray(),
    Array.from({ length: 12 }, (_, i) => i),
  );
  assert.equal(w.disposed, false, "a Tensor source is not the loader's to dispose");
  w.dispose();
  net.dispose();
});

test('stateDict handles are detached views the caller disposes; module dispose frees everything', () => {
  const net = new Net();
  const sd = net.stateDict();
  const w = sd.get('head.weight')!;
  assert.equal(w.requiresGrad, false);
  assert.ok(T.sameStorage(w, net.head.weight));
  for (const t of sd.values()) t.dispose();
  assert.equal(net.head.weight.disposed, false);
  net.dispose();
  assert.ok(net.parameters().every((p) => p.disposed));
  assert.equal(net.stats.disposed, true);
});
