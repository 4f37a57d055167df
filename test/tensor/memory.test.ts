/**
 * Memory discipline: 200 Adam steps of a small transformer, each inside `scope`, keep RSS within
 * 10% of its value after step 20 (native memory that a scope forgot would grow it by megabytes a
 * step).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { Module, Linear, LayerNorm } from '../../src/nn/index.js';
import { BenchBlock } from '../../src/bench/engine.js';
import { AdamW, clipGradNorm } from '../../src/optim/index.js';

class TinyTransformer extends Module {
  readonly embed: Linear;
  readonly blocks: BenchBlock[];
  readonly norm: LayerNorm;
  readonly head: Linear;
  constructor(inDim: number, dim: number, depth: number, heads: number, classes: number) {
    super();
    this.embed = this.child('embed', new Linear(inDim, dim, { seed: 1 }));
    this.blocks = Array.from({ length: depth }, (_, i) => this.child(`blocks.${i}`, new BenchBlock(dim, heads, dim * 4, 10 * i)));
    this.norm = this.child('norm', new LayerNorm(dim, 1e-6));
    this.head = this.child('head', new Linear(dim, classes, { seed: 2 }));
  }
  forward(x: T.Tensor): T.Tensor {
    return T.scope(() => {
      let h = this.embed.forward(x);
      for (const b of this.blocks) h = b.forward(h);
      return this.head.forward(this.norm.forward(h).mean(1));
    });
  }
}

const gc = (globalThis as { gc?: () => void }).gc;

test('200 training steps inside scope keep RSS within 10% of step 20', () => {
  const B = 8,
    N = 32,
    D = 64,
    C = 5;
  const model = new TinyTransformer(16, D, 2, 4, C);
  const opt = new AdamW(model.parameters(), { lr: 1e-3 });
  const x = T.randn([B, N, 16], { seed: 5 }).keep();
  const y = T.randint(0, C, [B], { seed: 6 }).keep();
  let rss20 = 0;
  let first = 0;
  let last = 0;
  const depth = T.scopeDepth();
  for (let step = 1; step <= 200; step++) {
    const loss = T.scope(() => {
      opt.zeroGrad();
      const l = T.crossEntropy(model.forward(x), y);
      l.backward();
      clipGradNorm(model.parameters(), 1);
      opt.step();
      return l.item();
    });
    if (step === 1) first = loss;
    last = loss;
    if (step === 20) {
      gc?.();
      rss20 = process.memoryUsage().rss;
    }
  }
  gc?.();
  const rss200 = process.memoryUsage().rss;
  assert.equal(T.scopeDepth(), depth);
  assert.ok(last < first, `the loss goes down (${first} -> ${last})`);
  const growth = (rss200 - rss20) / rss20;
  if (process.env.LOAA_TEST_VERBOSE)
    console.log(`rss step 20 ${(rss20 / 2 ** 20).toFixed(1)} MiB, step 200 ${(rss200 / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(
    growth < 0.1,
    `RSS grew ${(growth * 100).toFixed(1)}% from step 20 (${(rss20 / 2 ** 20).toFixed(1)} MiB) to step 200 (${(rss200 / 2 ** 20).toFixed(1)} MiB)`,
  );
  // every parameter and every optimizer state tensor is still alive: nothing kept was freed
  assert.ok(model.parameters().every((p) => !p.disposed));
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  assert.ok(model.parameters().every((p) => p.disposed));
});

test('a synchronous loop of allocate + dispose does not grow RSS (freed tensor memory is reused)', () => {
  // 256 KB tensors: with glibc's heap, the freed block was refilled by the handles' small native
  // objects (alive until V8 finalizes them, which a synchronous loop never lets happen) and the
  // heap grew by a tensor per iteration
  for (let i = 0; i < 200; i++) T.zeros([65536]).dispose();
  gc?.();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 4000; i++) {
    T.zeros([65536]).dispose();
    T.scope(() => T.ones([64, 1024]).mul(2).sum().item());
  }
  gc?.();
  const grown = process.memoryUsage().rss - before;
  assert.ok(grown < 64 * 2 ** 20, `RSS grew ${(grown / 2 ** 20).toFixed(1)} MiB over 4000 iterations`);
});

test('handles nobody disposed are still collected: V8 is told the memory their tensors hold', async () => {
  // 1 MiB tensors never disposed: only the external-memory accounting makes V8 collect their small
  // handles (and so free the tensors; finalizers run between event-loop turns) before the process
  // holds all 1.5 GiB of them
  const before = process.memoryUsage().rss;
  let sum = 0;
  for (let i = 0; i < 1536; i++) {
    sum += T.full([262144], 1).shape[0]!;
    if (i % 16 === 15) await new Promise((r) => setImmediate(r));
  }
  const grown = process.memoryUsage().rss - before;
  assert.equal(sum, 1536 * 262144);
  assert.ok(grown < 768 * 2 ** 20, `RSS grew ${(grown / 2 ** 20).toFixed(0)} MiB over 1536 undisposed 1 MiB tensors`);
});
