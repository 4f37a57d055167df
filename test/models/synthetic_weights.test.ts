import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, rawToFloat32 } from '../../src/io/safetensors.js';
import { fixture } from '../helpers.js';
import {
  BACKBONE_INIT,
  GENERATOR,
  fnv1a32,
  stateDictDigest,
  syntheticBits,
  syntheticFloat32,
  syntheticStateDict,
  syntheticTensors,
  writeSyntheticBackbone,
  writeSyntheticTensors,
  type BackboneSpec,
  type TensorListSpec,
} from './synthetic_weights.js';

interface Manifest {
  synthetic: {
    generator: string;
    test_vector: { name: string; seed: number; std: number; mean: number; fnv1a32: number; u: number[]; values: number[] };
  };
  backbones: Record<string, BackboneSpec & { name: string; tensors: number; numel: number; sha256: string }>;
  cases: {
    name: string;
    backbone: string;
    input: { tensor: string; shape: number[]; synthetic: TensorListSpec & { sha256: string } };
    adapter_weights: (TensorListSpec & { sha256: string }) | null;
  }[];
}

const manifest = JSON.parse(readFileSync(fixture('models', 'cases.json'), 'utf8')) as Manifest;

test('synthetic weights: the core formula matches the Python test vector', () => {
  const v = manifest.synthetic.test_vector;
  assert.equal(manifest.synthetic.generator, GENERATOR);
  assert.equal(fnv1a32(v.name), v.fnv1a32);
  assert.deepEqual([...syntheticBits(v.name, v.u.length, v.seed)], v.u);
  const got = syntheticFloat32(v.name, [v.values.length], v.seed, v.std, v.mean);
  assert.deepEqual(
    [...got],
    v.values.map((x) => Math.fround(x)),
  );
});

test('synthetic weights: FNV-1a matches the published test vectors', () => {
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
});

test('synthetic weights: the statistics follow the rule (uniform, requested mean and std)', () => {
  const x = syntheticFloat32('blocks.0.attn.qkv.weight', [200_000], 1, 0.12, 0);
  let s = 0,
    s2 = 0,
    lo = Infinity,
    hi = -Infinity;
  for (const v of x) {
    s += v;
    s2 += v * v;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const mean = s / x.length;
  const std = Math.sqrt(s2 / x.length - mean * mean);
  assert.ok(Math.abs(mean) < 2e-3, `mean ${mean}`);
  assert.ok(Math.abs(std - 0.12) < 2e-3, `std ${std}`);
  assert.ok(lo >= -0.12 * Math.sqrt(3) - 1e-6 && hi <= 0.12 * Math.sqrt(3) + 1e-6, `range [${lo}, ${hi}]`);
});

test('synthetic weights: every backbone in cases.json regenerates bit-exactly', () => {
  const names = Object.keys(manifest.backbones);
  assert.ok(names.length >= 3);
  for (const [name, spec] of Object.entries(manifest.backbones)) {
    assert.deepEqual(spec.init, BACKBONE_INIT, `${name}: init rules differ from BACKBONE_INIT`);
    const sd = syntheticStateDict(spec);
    assert.equal(sd.size, spec.tensors, `${name}: tensor count`);
    let n = 0;
    for (const t of sd.values()) n += t.data.byteLength / 4;
    assert.equal(n, spec.numel, `${name}: numel`);
    assert.equal(stateDictDigest(sd), spec.sha256, `${name}: sha256`);
  }
});

test('synthetic weights: adapter checkpoints and inputs of every case regenerate bit-exactly', () => {
  let adapters = 0;
  const seen = new Set<string>();
  for (const c of manifest.cases) {
    assert.ok(c.backbone in manifest.backbones, `${c.name}: unknown backbone ${c.backbone}`);
    const input = syntheticTensors(c.input.synthetic);
    assert.deepEqual(input.get(c.input.tensor)?.shape, c.input.shape, `${c.name}: input shape`);
    const key = c.input.synthetic.sha256;
    if (!seen.has(key)) {
      seen.add(key);
      assert.equal(stateDictDigest(input), key, `${c.name}: input sha256`);
    }
    if (c.adapter_weights) {
      adapters++;
      assert.equal(stateDictDigest(syntheticTensors(c.adapter_weights)), c.adapter_weights.sha256, `${c.name}: adapter sha256`);
    }
  }
  assert.ok(adapters >= 10, `only ${adapters} cases carry adapter weights`);
});

test('synthetic weights: written checkpoints read back as the same tensors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-synth-'));
  try {
    const spec = manifest.backbones.deit_tiny_patch16_224_depth2 ?? Object.values(manifest.backbones)[0];
    const path = writeSyntheticBackbone(spec, dir, 'timm-safetensors');
    assert.equal(path, join(dir, `${spec.name}.safetensors`));
    const back = readSafetensors(path);
    assert.deepEqual(back.metadata, { format: 'pt' });
    assert.equal(stateDictDigest(back.tensors), spec.sha256);
    assert.equal(rawToFloat32(back.tensors.get('cls_token')!).length, spec.embed_dim);

    const c = manifest.cases.find((x) => x.adapter_weights !== null)!;
    const apath = writeSyntheticTensors(c.adapter_weights!, join(dir, 'adapter_model.safetensors'));
    assert.equal(stateDictDigest(readSafetensors(apath).tensors), c.adapter_weights!.sha256);

    assert.throws(() => writeSyntheticBackbone({ ...spec, seed: spec.seed + 1 }, dir), /sha256/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
