import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, randn } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { loadAst, type AudioSpectrogramTransformer } from '../../src/models/ast.js';
import { applyPeft, peftOf, type PeftConfig } from '../../src/peft/methods.js';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  adapterConfigJson,
  loadAdapter,
  readAdapterConfig,
  removeAdapter,
  saveAdapter,
} from '../../src/peft/checkpoint.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { adapterDir, astConfigOf, backbonePath, caseInput, caseNamed, freshDir, maxDiff } from '../models/model_cases.js';

const C = caseNamed('loaa_attn_1x3_s10'); // tiny distilled, 12x9 grid
const CFG = { ...astConfigOf(C), numClasses: 4, depth: 2 };

function load(cfg = CFG): AudioSpectrogramTransformer {
  return loadAst(backbonePath(C.backbone), cfg, { seed: 3 }).model;
}

/** Gives every trainable tensor random values (a "trained" adapter). */
function perturb(model: AudioSpectrogramTransformer, seed: number): void {
  noGrad(() => {
    let i = 0;
    for (const [, p] of model.trainableParameters()) p.copy_(p.add(randn(p.shape, { seed: seed + i++ }).mul(0.05)));
  });
}

function logits(model: AudioSpectrogramTransformer, x: Tensor): Float32Array {
  return noGrad(() => scope(() => model.eval().forward(x).toFloat32()));
}

const CONFIGS: PeftConfig[] = [
  {
    method: 'loaa',
    adapters: [
      { position: 'attn', kernel: [1, 3], bottleneck: 6 },
      { position: 'ffn', kernel: [3, 1], bottleneck: 6, bias: true, scale: 0.5 },
    ],
  },
  { method: 'adapter', adapters: [{ position: 'attn', kernel: [1, 1], bottleneck: 5, mode: 'sequential' }] },
  { method: 'lora', lora: { rank: 2, alpha: 4, targets: ['q', 'v'] } },
  { method: 'prompt', prompt: { tokens: 3 } },
  { method: 'loaa', adapters: [{ position: 'ffn', kernel: [3, 3], bottleneck: 4 }], prompt: { tokens: 2 } },
  { method: 'bitfit' },
  { method: 'linear' },
  { method: 'full' },
];

test('save -> load into a fresh backbone gives identical logits, for every method', () => {
  const x = caseInput(C);
  try {
    for (const [i, p] of CONFIGS.entries()) {
      const a = load();
      const b = load();
      try {
        applyPeft(a, p, { seed: 5 });
        perturb(a, 100 * i);
        const dir = freshDir(`save-${p.method}`);
        const frontend = { sample_rate: 16000, num_mel_bins: CFG.melBins, target_length: CFG.frames, mean: -4.5, std: 4.2 };
        const cfg = saveAdapter(dir, a, undefined, { labels: ['a', 'b', 'c', 'd'], frontend });
        assert.deepEqual(readdirSync(dir).sort(), [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE], 'no temp files left');
        assert.equal(cfg.format, 'loaa-adapter/1');
        assert.equal(cfg.depth, 2);
        const onDisk = JSON.parse(readFileSync(join(dir, ADAPTER_CONFIG_FILE), 'utf8'));
        assert.deepEqual(onDisk, adapterConfigJson(cfg), 'the file form: input as {fdim, tdim, fstride, tstride}');
        assert.deepEqual(readAdapterConfig(dir), cfg);
        // the file holds exactly the trainable tensors, float32
        const t = readSafetensors(join(dir, ADAPTER_WEIGHTS_FILE)).tensors;
        assert.deepEqual(
          [...t.keys()].sort(),
          a
            .trainableParameters()
            .map(([n]) => n)
            .sort(),
          p.method,
        );
        assert.ok([...t.values()].every((v) => v.dtype === 'float32'));
        const r = loadAdapter(dir, b);
        assert.deepEqual(peftOf(b), peftOf(a));
        assert.equal(r.loaded.length, t.size);
        assert.deepEqual(logits(b, x), logits(a, x), `${p.method}: logits differ after reload`);
      } finally {
        a.dispose();
        b.dispose();
      }
    }
  } finally {
    x.dispose();
  }
});

test('adapter checkpoint names follow the interface (blocks.{i}.attn_adapter.down.weight [r, D, kF, kT], head.*)', () => {
  const m = load();
  try {
    applyPeft(m, {
      method: 'loaa',
      adapters: [
        { position: 'attn', kernel: [1, 3], bottleneck: 6 },
        { position: 'ffn', kernel: [3, 1], bottleneck: 6 },
      ],
    });
    const dir = freshDir('names');
    saveAdapter(dir, m);
    const t = readSafetensors(join(dir, ADAPTER_WEIGHTS_FILE)).tensors;
    assert.deepEqual(t.get('blocks.1.attn_adapter.down.weight')!.shape, [6, 192, 1, 3]);
    assert.deepEqual(t.get('blocks.1.attn_adapter.up.weight')!.shape, [192, 6, 1, 3]);
    assert.deepEqual(t.get('blocks.0.ffn_adapter.down.weight')!.shape, [6, 192, 3, 1]);
    assert.deepEqual(t.get('head.fc.weight')!.shape, [4, 192]);
    assert.deepEqual(t.get('head.norm.bias')!.shape, [192]);
    assert.equal(t.size, 2 * 4 + 4);
  } finally {
    m.dispose();
  }
});

test('the fixture adapter checkpoints (written by the Python reference) load and round-trip', () => {
  const c = caseNamed('loaa_prompt_n3');
  const dir = adapterDir(c)!;
  const m = loadAst(backbonePath(c.backbone), astConfigOf(c)).model;
  try {
    const r = loadAdapter(dir, m);
    assert.equal(r.config.prompt?.tokens, 3);
    const out = freshDir('roundtrip');
    const saved = saveAdapter(out, m, undefined, { labels: r.config.labels, frontend: r.config.frontend });
    const { format, arch, method, adapters, prompt, input, num_classes, labels, frontend } = r.config;
    assert.deepEqual(saved, { format, arch, method, adapters, prompt, input, num_classes, labels, frontend });
    const a = readSafetensors(join(dir, ADAPTER_WEIGHTS_FILE)).tensors;
    const b = readSafetensors(join(out, ADAPTER_WEIGHTS_FILE)).tensors;
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [k, v] of a) assert.ok(Buffer.from(v.data).equals(Buffer.from(b.get(k)!.data)), k);
  } finally {
    m.dispose();
  }
});

test('loading an adapter into the wrong backbone says what does not fit', () => {
  const src = load();
  const dir = freshDir('wrong');
  try {
    applyPeft(src, { method: 'loaa' });
    saveAdapter(dir, src);
  } finally {
    src.dispose();
  }
  const cfgFile = join(dir, ADAPTER_CONFIG_FILE);
  // another architecture
  const other = loadAst(backbonePath('deit_tiny_patch16_224_depth2'), { ...CFG, arch: 'deit_tiny_patch16_224' }).model;
  try {
    assert.throws(
      () => loadAdapter(dir, other),
      (e: Error) =>
        e.message === `${cfgFile}: arch: the adapter is for deit_tiny_distilled_patch16_224, the backbone is deit_tiny_patch16_224`,
    );
    assert.equal(peftOf(other), undefined, 'a failed load leaves the model alone');
  } finally {
    other.dispose();
  }
  // another input geometry
  const wide = load({ ...CFG, frames: 300 });
  try {
    assert.throws(
      () => loadAdapter(dir, wide),
      /adapter_config\.json: input: the adapter was trained on 100 frames x 128 mel bins at stride 10x10 \(grid 12x9\), the model is built for 300 frames .*grid 12x29/,
    );
  } finally {
    wide.dispose();
  }
  // another depth
  const deep = load({ ...CFG, depth: 3 });
  try {
    assert.throws(() => loadAdapter(dir, deep), /depth: the adapter has 2 blocks, the backbone 3/);
  } finally {
    deep.dispose();
  }
  // tensors that do not match the config
  const bad = freshDir('bad');
  copyFileSync(join(dir, ADAPTER_WEIGHTS_FILE), join(bad, ADAPTER_WEIGHTS_FILE));
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
  cfg.adapters[0].bottleneck = 8;
  writeFileSync(join(bad, ADAPTER_CONFIG_FILE), JSON.stringify(cfg));
  const m = load();
  try {
    assert.throws(
      () => loadAdapter(bad, m),
      /adapter_model\.safetensors: shape mismatch with the backbone: blocks\.0\.attn_adapter\.down\.weight: expected \[8, 192, 1, 3\], found \[36, 192, 1, 3\]/,
    );
    cfg.adapters = [{ ...cfg.adapters[0], bottleneck: 36, position: 'ffn' }];
    writeFileSync(join(bad, ADAPTER_CONFIG_FILE), JSON.stringify(cfg));
    assert.throws(() => loadAdapter(bad, m), /tensors a loaa, ffn 1x3 r 36 adapter does not have: blocks\.0\.attn_adapter/);
  } finally {
    m.dispose();
  }
});

test('readAdapterConfig: errors name the file and the key', () => {
  const dir = freshDir('cfg');
  const file = join(dir, ADAPTER_CONFIG_FILE);
  const good = JSON.parse(readFileSync(join(adapterDir(caseNamed('loaa_attn_1x3_s10'))!, ADAPTER_CONFIG_FILE), 'utf8'));
  // biome-ignore lint/suspicious/noExplicitAny: the mutations reach into the config's JSON at any depth, as a hostile file would
  const check = (mutate: (c: Record<string, any>) => void, re: RegExp) => {
    const c = structuredClone(good);
    mutate(c);
    writeFileSync(file, JSON.stringify(c));
    assert.throws(
      () => readAdapterConfig(dir),
      (e: Error) => e.message.startsWith(`${file}: `) && re.test(e.message),
      `${re}`,
    );
  };
  check((c) => delete c.format, /format: missing/);
  check((c) => (c.format = 'loaa-adapter/9'), /format: unsupported "loaa-adapter\/9"/);
  check((c) => (c.arch = 'resnet50'), /arch: resnet50: unknown architecture/);
  check((c) => (c.method = 'magic'), /method: expected one of/);
  check((c) => (c.adapters[0].kernel = [2, 2]), /adapters\.0\.kernel/);
  check((c) => (c.adapters[0].bottleneck = 0), /adapters\.0\.bottleneck/);
  check((c) => delete c.input.tstride, /input\.tstride: expected a positive integer/);
  check((c) => (c.num_classes = 2.5), /num_classes/);
  check((c) => (c.labels = ['x']), /labels: 1 labels for num_classes 5/);
  check((c) => (c.frontend.num_mel_bins = 64), /frontend\.num_mel_bins: 64 does not match input\.fdim 128/);
  check((c) => delete c.frontend.std, /frontend\.std: mean and std go together/);
  check((c) => (c.lora = { rank: 'x', alpha: 1 }), /lora\.rank/);
  writeFileSync(file, '{ not json');
  assert.throws(() => readAdapterConfig(dir), /adapter_config\.json: not valid JSON/);
  assert.throws(() => readAdapterConfig(join(dir, 'nope')), /nope: not an adapter directory \(does not exist\)/);
  const empty = freshDir('empty');
  assert.throws(() => readAdapterConfig(empty), /adapter_config\.json: cannot read: no adapter_config\.json in/);
});

test('one frozen backbone serves several adapters: swapping never reloads or changes it', () => {
  const x = caseInput(C);
  const dirs: string[] = [];
  const want: Float32Array[] = [];
  const specs: PeftConfig[] = [CONFIGS[0], CONFIGS[2], CONFIGS[5], CONFIGS[3]]; // loaa, lora, bitfit, prompt
  for (const [i, p] of specs.entries()) {
    const m = load({ ...CFG, numClasses: 3 + i }); // different class counts: the head is replaced on swap
    try {
      applyPeft(m, p, { seed: i });
      perturb(m, 1000 * i);
      const d = freshDir(`swap-${i}`);
      saveAdapter(d, m);
      dirs.push(d);
      want.push(logits(m, x));
    } finally {
      m.dispose();
    }
  }
  const served = load();
  try {
    const backbone = new Map([...served.namedParameters()].filter(([n]) => !n.startsWith('head.')));
    const snapshot = new Map([...backbone].map(([n, t]) => [n, Buffer.from(t.bytes())]));
    for (const round of [0, 1]) {
      for (const [i, d] of dirs.entries()) {
        loadAdapter(d, served);
        assert.equal(served.numClasses, 3 + i);
        assert.ok(maxDiff(logits(served, x), want[i]).diff < 1e-6, `round ${round}, adapter ${i}`);
        // the same backbone tensors, not reloaded copies
        for (const [n, t] of backbone) assert.equal(new Map(served.namedParameters()).get(n), t, n);
      }
    }
    removeAdapter(served);
    for (const [n, t] of backbone) assert.ok(Buffer.from(t.bytes()).equals(snapshot.get(n)!), `${n}: backbone changed`);
    assert.ok(![...served.namedParameters()].some(([n]) => /adapter|lora|prompt/.test(n)));
  } finally {
    x.dispose();
    served.dispose();
  }
});

test("a BitFit model trained in place restores the shared backbone's biases when its PEFT is removed", () => {
  const m = load();
  try {
    const before = Buffer.from(m.blocks.at(1).mlp.fc1.bias!.bytes());
    applyPeft(m, { method: 'bitfit' });
    perturb(m, 5);
    assert.ok(!Buffer.from(m.blocks.at(1).mlp.fc1.bias!.bytes()).equals(before));
    removeAdapter(m);
    assert.ok(Buffer.from(m.blocks.at(1).mlp.fc1.bias!.bytes()).equals(before));
  } finally {
    m.dispose();
  }
});

test('saveAdapter refuses a file path and bad labels', () => {
  const m = load();
  const dir = freshDir('refuse');
  try {
    writeFileSync(join(dir, 'f'), 'x');
    assert.throws(() => saveAdapter(join(dir, 'f'), m), /exists and is not a directory/);
    assert.throws(() => saveAdapter(join(dir, 'd'), m, undefined, { labels: ['only one'] }), /labels: 1 labels for a 4-class head/);
    mkdirSync(join(dir, 'ok'));
    saveAdapter(join(dir, 'ok'), m);
    assert.equal(readAdapterConfig(join(dir, 'ok')).method, 'linear');
  } finally {
    m.dispose();
  }
});
