import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AudioSpectrogramTransformer } from '../../src/models/ast.js';
import { applyPeft, resolvePeft, type PeftConfig } from '../../src/peft/methods.js';
import {
  astParamShapes,
  bottleneckForBudget,
  countAst,
  countModel,
  equalizeAdapters,
  equalizedBottleneck,
  type AstGeometry,
} from '../../src/peft/params.js';
import { adapterParamCount } from '../../src/peft/adapter.js';
import { fixture } from '../helpers.js';

interface Row {
  arch: string;
  classes: number;
  fdim: number;
  tdim: number;
  fstride: number;
  tstride: number;
  method: PeftConfig['method'];
  adapters: NonNullable<PeftConfig['adapters']>;
  lora?: PeftConfig['lora'];
  prompt?: PeftConfig['prompt'];
  total: number;
  trainable: number;
  frozen: number;
  paper_trainable?: number;
  cli?: string;
}

const rows = (JSON.parse(readFileSync(fixture('models', 'param_counts.json'), 'utf8')) as { rows: Row[] }).rows;

const geomOf = (r: Row): AstGeometry => ({
  arch: r.arch,
  numClasses: r.classes,
  melBins: r.fdim,
  frames: r.tdim,
  fstride: r.fstride,
  tstride: r.tstride,
});
const peftOfRow = (r: Row): PeftConfig => ({
  method: r.method,
  adapters: r.adapters,
  ...(r.lora ? { lora: r.lora } : {}),
  ...(r.prompt ? { prompt: r.prompt } : {}),
});

const PAPER = { arch: 'deit_base_distilled_patch16_384', numClasses: 44, melBins: 128, frames: 400, fstride: 16, tstride: 16 };

test("the paper's trainable counts (deit_base_distilled_patch16_384, 44 classes, 128x400, stride 16)", () => {
  const T = (p: PeftConfig) => countAst(PAPER, p).trainable;
  assert.equal(T({ method: 'loaa', adapters: [{ position: 'attn', kernel: [1, 3], bottleneck: 36 }] }), 2_026_028);
  assert.equal(
    T({
      method: 'loaa',
      adapters: [
        { position: 'attn', kernel: [1, 3], bottleneck: 36 },
        { position: 'ffn', kernel: [3, 1], bottleneck: 36 },
      ],
    }),
    4_016_684,
  );
  assert.equal(T({ method: 'loaa', adapters: [{ position: 'attn', kernel: [1, 3], bottleneck: 72 }] }), 4_016_684);
  assert.equal(
    T({
      method: 'adapter',
      adapters: [
        { position: 'attn', kernel: [1, 1], bottleneck: 108 },
        { position: 'ffn', kernel: [1, 1], bottleneck: 108 },
      ],
    }),
    4_016_684,
  );
  assert.equal(T({ method: 'linear' }), 35_372);
  const c = countAst(PAPER, { method: 'loaa', adapters: [{ position: 'attn', kernel: [1, 3], bottleneck: 36 }] });
  assert.deepEqual([c.total, c.frozen], [87_436_076, 85_410_048]);
  assert.equal(c.ratio, 2_026_028 / 87_436_076);
});

test(`every row of param_counts.json (${rows.length} rows from the Python reference) counts exactly`, () => {
  assert.ok(rows.length >= 100);
  for (const r of rows) {
    const c = countAst(geomOf(r), peftOfRow(r));
    const what = `${r.arch} ${r.method} ${JSON.stringify(r.adapters)} ${r.tdim}x${r.fdim}/${r.fstride}`;
    assert.deepEqual(
      { total: c.total, trainable: c.trainable, frozen: c.frozen },
      { total: r.total, trainable: r.trainable, frozen: r.frozen },
      what,
    );
    if (r.paper_trainable !== undefined) assert.equal(c.trainable, r.paper_trainable, what);
  }
});

test("analytic counts and shapes equal a built model's (small archs, every method)", () => {
  const configs: PeftConfig[] = [
    { method: 'linear' },
    { method: 'full' },
    { method: 'bitfit' },
    { method: 'loaa' },
    { method: 'adapter' },
    { method: 'lora', lora: { rank: 3, alpha: 6, targets: ['q', 'k', 'v'] } },
    { method: 'prompt', prompt: { tokens: 3 } },
    {
      method: 'loaa',
      adapters: [
        { position: 'attn', kernel: [3, 3], bottleneck: 5, bias: true },
        { position: 'ffn', kernel: [1, 5], bottleneck: 2, mode: 'sequential' },
      ],
      prompt: { tokens: 2 },
      lora: { rank: 2, alpha: 2 },
    },
  ];
  const geoms: AstGeometry[] = [
    { arch: 'deit_tiny_distilled_patch16_224', numClasses: 7, melBins: 128, frames: 100, fstride: 10, tstride: 10, depth: 2 },
    { arch: 'deit_tiny_patch16_224', numClasses: 3, melBins: 64, frames: 300, fstride: 16, tstride: 12, depth: 1 },
  ];
  for (const g of geoms) {
    const model = new AudioSpectrogramTransformer(g, { seed: 1 });
    try {
      for (const p of configs) {
        applyPeft(model, p, { seed: 2 });
        const built = new Map([...model.namedParameters()].map(([n, t]) => [n, t.shape]));
        const analytic = astParamShapes(g, p);
        assert.deepEqual(new Map([...built].sort()), new Map([...analytic].sort()), `${g.arch} ${JSON.stringify(p)}`);
        assert.deepEqual(countModel(model), countAst(g, p), `${g.arch} ${JSON.stringify(p)}`);
      }
    } finally {
      model.dispose();
    }
  }
});

test('counting a ViT-Base allocates nothing (fast, no tensors)', () => {
  const t0 = performance.now();
  for (let r = 1; r <= 50; r++) countAst(PAPER, { method: 'loaa', adapters: [{ position: 'attn', kernel: [1, 3], bottleneck: r }] });
  assert.ok(performance.now() - t0 < 2000);
});

test('equalised bottlenecks: bigger kernels get smaller r (Table 1)', () => {
  const ref = { kernel: [1, 1] as [number, number], bottleneck: 108 };
  assert.equal(equalizedBottleneck(768, ref, [1, 3]), 36);
  assert.equal(equalizedBottleneck(768, ref, [3, 1]), 36);
  assert.equal(equalizedBottleneck(768, ref, [3, 3]), 12);
  assert.equal(equalizedBottleneck(768, ref, [1, 1]), 108);
  assert.equal(equalizedBottleneck(768, { kernel: [1, 3], bottleneck: 36 }, [1, 5]), 21);
  for (const k of [
    [1, 3],
    [3, 3],
    [5, 5],
    [1, 7],
  ] as [number, number][]) {
    const r = equalizedBottleneck(768, ref, k, true);
    assert.ok(adapterParamCount({ kernel: k, bottleneck: r, bias: true }, 768) <= adapterParamCount(ref, 768));
    assert.ok(adapterParamCount({ kernel: k, bottleneck: r + 1, bias: true }, 768) > adapterParamCount(ref, 768));
  }
  const eq = equalizeAdapters(
    [
      { position: 'attn', kernel: [1, 3], bottleneck: 0 },
      { position: 'ffn', kernel: [3, 1], bottleneck: 0 },
    ],
    768,
    ref,
  );
  assert.equal(countAst(PAPER, { method: 'loaa', adapters: eq }).trainable, 4_016_684);
  assert.throws(() => equalizedBottleneck(768, { kernel: [1, 1], bottleneck: 1 }, [3, 3]), /equalize: a 3x3 adapter cannot be as small/);
});

test('bottleneckForBudget: the largest r within the trainable fraction', () => {
  for (const frac of [0.005, 0.02, 0.05]) {
    const p: PeftConfig = {
      method: 'loaa',
      adapters: [
        { position: 'attn', kernel: [1, 3], bottleneck: 1 },
        { position: 'ffn', kernel: [3, 1], bottleneck: 1 },
      ],
    };
    const { bottleneck, counts } = bottleneckForBudget(p, PAPER, frac);
    assert.ok(counts.ratio <= frac);
    const next = countAst(PAPER, { ...p, adapters: p.adapters!.map((a) => ({ ...a, bottleneck: bottleneck + 1 })) });
    assert.ok(next.ratio > frac, `r ${bottleneck + 1} also fits ${frac}`);
  }
  const eq = bottleneckForBudget({ method: 'loaa', adapters: [{ position: 'attn', kernel: [1, 3], bottleneck: 1 }] }, PAPER, 0.03, {
    equalize: [1, 1],
  });
  assert.equal(eq.adapters[0].bottleneck, Math.floor(eq.bottleneck / 3));
  assert.throws(() => bottleneckForBudget({ method: 'loaa' }, PAPER, 0.0001), /budget: 0\.0100% is below the smallest adapter/);
  assert.throws(() => bottleneckForBudget({ method: 'linear' }, PAPER, 0.02), /no adapters/);
  assert.throws(() => bottleneckForBudget({ method: 'loaa' }, PAPER, 2), /fraction in \(0, 1\]/);
});

test('resolvePeft fills defaults and names bad keys', () => {
  // the paper's defaults: LoAA = attn 1x3 + ffn 3x1 r 36; the parallel adapter = attn + ffn 1x1 r 108
  assert.deepEqual(
    resolvePeft({ method: 'loaa' }).adapters.map((a) => [a.position, a.kernel, a.bottleneck]),
    [
      ['attn', [1, 3], 36],
      ['ffn', [3, 1], 36],
    ],
  );
  assert.deepEqual(
    resolvePeft({ method: 'adapter' }).adapters.map((a) => [a.position, a.kernel, a.bottleneck]),
    [
      ['attn', [1, 1], 108],
      ['ffn', [1, 1], 108],
    ],
  );
  assert.deepEqual(resolvePeft({ method: 'lora' }).lora, { rank: 8, alpha: 16, targets: ['q', 'v'] });
  assert.deepEqual(resolvePeft({ method: 'prompt' }).prompt, { tokens: 10 });
  assert.throws(() => resolvePeft({ method: 'loora' as 'lora' }), /^Error: method: expected one of/);
  assert.throws(() => resolvePeft({ method: 'loaa', adapters: [] }), /adapters: method "loaa" needs at least one adapter/);
  assert.throws(
    () =>
      resolvePeft({
        method: 'loaa',
        adapters: [
          { position: 'attn', kernel: [1, 3], bottleneck: 4 },
          { position: 'attn', kernel: [1, 1], bottleneck: 4 },
        ],
      }),
    /adapters\.1\.position: a second "attn"/,
  );
  assert.throws(() => resolvePeft({ method: 'lora', lora: { rank: 0, alpha: 1 } }), /lora\.rank/);
  assert.throws(() => resolvePeft({ method: 'lora', lora: { rank: 2, alpha: 1, targets: ['o' as 'q'] } }), /lora\.targets/);
  assert.throws(() => resolvePeft({ method: 'prompt', prompt: { tokens: -1 } }), /prompt\.tokens/);
});
