import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/tensor/index.js';
import { Linear, Module } from '../../src/nn/index.js';
import { AdamW } from '../../src/optim/index.js';

class Net extends Module {
  readonly a: Linear;
  readonly b: Linear;
  constructor(seed: number) {
    super();
    this.a = this.child('a', new Linear(6, 5, { seed }));
    this.b = this.child('b', new Linear(5, 2, { seed: seed + 3 }));
  }
  forward(x: T.Tensor): T.Tensor {
    return this.b.forward(this.a.forward(x).tanh());
  }
}

test('--device: cpu and auto resolve here; a missing GPU is a one-line error', () => {
  assert.equal(T.resolveDevice('cpu'), 'cpu');
  assert.equal(T.resolveDevice('auto'), T.cudaAvailable() ? 'cuda:0' : 'cpu');
  assert.throws(() => T.resolveDevice('gpu'), /^Error: --device: expected cpu, cuda, cuda:N or auto, not "gpu"$/);
  if (!T.cudaAvailable()) {
    for (const d of ['cuda', 'cuda:1']) {
      assert.throws(
        () => T.resolveDevice(d, 'train.device'),
        (e: Error) => e.message.startsWith(`train.device: ${d} requested but `) && !e.message.includes('\n'),
      );
    }
  }
});

test('Module.to keeps the handles layers and optimizers hold; parameters stay trainable', () => {
  const net = new Net(1);
  try {
    const handle = net.a.weight;
    const opt = new AdamW(net.parameters(), { lr: 1e-2 });
    net.to('cpu');
    assert.equal(net.a.weight, handle);
    assert.equal(net.device, 'cpu');
    assert.ok(handle.requiresGrad && handle.isLeaf);
    T.scope(() =>
      net
        .forward(T.randn([3, 6], { seed: 2 }))
        .sum()
        .backward(),
    );
    opt.step();
    assert.ok(net.a.weight.grad !== null);
    // casting in place through the same mechanism: every holder sees the new dtype
    T.moveTo_(handle, null, 'float64');
    assert.equal(net.a.weight.dtype, 'float64');
    assert.ok(net.a.weight.requiresGrad);
  } finally {
    net.dispose();
  }
});

test("checkpoints are device-independent: saved via the CPU, loaded onto the module's device", () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-device-'));
  const src = new Net(4);
  const dst = new Net(9);
  try {
    src.to(T.resolveDevice('auto'));
    const file = join(dir, 'w.safetensors');
    src.saveSafetensors(file);
    dst.to('cpu');
    dst.loadSafetensors(file, { strict: true });
    for (const [[n, a], [, b]] of [...src.namedParameters()].map((p, i) => [p, [...dst.namedParameters()][i]] as const)) {
      assert.equal(b.device, 'cpu', n);
      assert.deepEqual(b.toFloat32(), a.toFloat32(), n);
    }
    T.scope(() => {
      const x = T.randn([2, 6], { seed: 5 });
      assert.deepEqual(dst.forward(x).toFloat32(), src.forward(x.to(null, src.device)).toFloat32());
    });
  } finally {
    src.dispose();
    dst.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('toDevice gives a batch on the device as a new handle (the caller may dispose either)', () => {
  T.scope(() => {
    const x = T.randn([2, 3], { seed: 6 });
    const y = T.toDevice(x, 'cpu');
    assert.notEqual(y, x);
    y.dispose();
    assert.equal(x.disposed, false);
    assert.equal(x.device, 'cpu');
  });
});
