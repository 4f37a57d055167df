import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackboneStateDict, toTimmKeys } from '../../src/models/checkpoint_keys.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { fixture } from '../helpers.js';

const ck = (name: string) => fixture('checkpoints', name);

function assertTensorsEqual(got: Map<string, RawTensor>, expectedFile: string): void {
  const exp = readSafetensors(ck(expectedFile)).tensors;
  assert.deepEqual([...got.keys()].sort(), [...exp.keys()].sort());
  for (const [k, e] of exp) {
    const g = got.get(k)!;
    assert.equal(g.dtype, e.dtype, `${k} dtype`);
    assert.deepEqual(g.shape, e.shape, `${k} shape`);
    assert.ok(
      Buffer.from(g.data.buffer, g.data.byteOffset, g.data.byteLength).equals(
        Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength),
      ),
      `${k} data`,
    );
  }
}

const CASES: { file: string; expected: string; format: string; container: string; unused: string[] }[] = [
  {
    file: 'timm_vit.safetensors',
    expected: 'timm_vit_expected.safetensors',
    format: 'timm',
    container: 'safetensors',
    unused: ['head.bias', 'head.weight'],
  },
  {
    file: 'timm_deit.pth',
    expected: 'timm_deit_expected.safetensors',
    format: 'timm',
    container: 'pth',
    unused: ['head.bias', 'head.weight', 'head_dist.bias', 'head_dist.weight'],
  },
  {
    file: 'timm_deit_legacy.pth',
    expected: 'timm_deit_expected.safetensors',
    format: 'timm',
    container: 'pth-legacy',
    unused: ['head.bias', 'head.weight', 'head_dist.bias', 'head_dist.weight'],
  },
  {
    file: 'hf_vit.safetensors',
    expected: 'hf_vit_expected.safetensors',
    format: 'hf-vit',
    container: 'safetensors',
    unused: ['classifier.bias', 'classifier.weight', 'vit.pooler.dense.bias', 'vit.pooler.dense.weight'],
  },
  {
    file: 'hf_vit_pytorch_model.bin',
    expected: 'hf_vit_expected.safetensors',
    format: 'hf-vit',
    container: 'pth',
    unused: ['classifier.bias', 'classifier.weight', 'vit.pooler.dense.bias', 'vit.pooler.dense.weight'],
  },
  {
    file: 'hf_deit.safetensors',
    expected: 'hf_deit_expected.safetensors',
    format: 'hf-deit',
    container: 'safetensors',
    unused: ['cls_classifier.bias', 'cls_classifier.weight', 'distillation_classifier.bias', 'distillation_classifier.weight'],
  },
  {
    file: 'hf_deit_pytorch_model.bin',
    expected: 'hf_deit_expected.safetensors',
    format: 'hf-deit',
    container: 'pth',
    unused: ['cls_classifier.bias', 'cls_classifier.weight', 'distillation_classifier.bias', 'distillation_classifier.weight'],
  },
  { file: 'hf_ast.safetensors', expected: 'hf_ast_expected.safetensors', format: 'hf-ast', container: 'safetensors', unused: [] },
  { file: 'hf_ast_pytorch_model.bin', expected: 'hf_ast_expected.safetensors', format: 'hf-ast', container: 'pth', unused: [] },
  {
    file: 'ast_original.pth',
    expected: 'hf_ast_expected.safetensors',
    format: 'ast',
    container: 'pth',
    unused: ['module.v.head.bias', 'module.v.head.weight', 'module.v.head_dist.bias', 'module.v.head_dist.weight'],
  },
];

test('every supported layout maps to timm names with the values the fixture script wrote', () => {
  for (const c of CASES) {
    const r = loadBackboneStateDict(ck(c.file));
    assert.equal(r.format, c.format, c.file);
    assert.equal(r.container, c.container, c.file);
    assert.deepEqual([...r.unused].sort(), c.unused, c.file);
    assertTensorsEqual(r.tensors, c.expected);
  }
});

test('q, k, v are fused in that order into attn.qkv', () => {
  const hf = readSafetensors(ck('hf_vit.safetensors')).tensors;
  const r = loadBackboneStateDict(ck('hf_vit.safetensors'));
  const qkv = r.tensors.get('blocks.1.attn.qkv.weight')!;
  assert.deepEqual(qkv.shape, [24, 8]);
  const parts = ['query', 'key', 'value'].map((p) => hf.get(`vit.encoder.layer.1.attention.attention.${p}.weight`)!.data);
  assert.ok(Buffer.from(qkv.data).equals(Buffer.concat(parts.map((p) => Buffer.from(p)))));
  const bias = r.tensors.get('blocks.0.attn.qkv.bias')!;
  assert.deepEqual(bias.shape, [24]);
});

test('the reader is chosen by content, not by extension; a model directory works too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-ck-'));
  try {
    copyFileSync(ck('hf_vit.safetensors'), join(dir, 'weights.pth'));
    copyFileSync(ck('hf_deit_pytorch_model.bin'), join(dir, 'model.safetensors'));
    copyFileSync(ck('dtypes_legacy.pth'), join(dir, 'legacy.safetensors'));
    assert.equal(loadBackboneStateDict(join(dir, 'weights.pth')).container, 'safetensors');
    assert.equal(loadBackboneStateDict(join(dir, 'model.safetensors')).container, 'pth');
    // the legacy file holds no ViT: the container is read, the key layout is what fails
    assert.throws(() => loadBackboneStateDict(join(dir, 'legacy.safetensors')), /legacy\.safetensors: not a ViT\/DeiT\/AST checkpoint/);
    mkdirSync(join(dir, 'hf_model'));
    copyFileSync(ck('hf_ast.safetensors'), join(dir, 'hf_model', 'model.safetensors'));
    assert.equal(loadBackboneStateDict(join(dir, 'hf_model')).format, 'hf-ast');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wrong, truncated and random files: one-line errors naming the file and the problem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-ck-'));
  try {
    const st = readFileSync(ck('hf_vit.safetensors'));
    const bin = readFileSync(ck('hf_vit_pytorch_model.bin'));
    const w = (name: string, data: Uint8Array | string) => {
      writeFileSync(join(dir, name), data);
      return join(dir, name);
    };
    const adapter = join(dir, 'adapter_model.safetensors');
    writeSafetensors(adapter, { 'blocks.0.attn_adapter.down.weight': { dtype: 'float32', shape: [1], data: new Uint8Array(4) } });
    const other = join(dir, 'resnet.safetensors');
    writeSafetensors(other, { 'conv1.weight': { dtype: 'float32', shape: [1], data: new Uint8Array(4) } });
    const ls = join(dir, 'deit3.safetensors');
    writeSafetensors(ls, {
      cls_token: { dtype: 'float32', shape: [1], data: new Uint8Array(4) },
      'blocks.0.ls1.gamma': { dtype: 'float32', shape: [1], data: new Uint8Array(4) },
    });
    const cases: [string, RegExp][] = [
      [w('empty.bin', ''), /the checkpoint file is empty/],
      [
        w('random.bin', Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 31 + 7) & 255))),
        /not a checkpoint: neither safetensors nor a torch\.save file/,
      ],
      [w('page.safetensors', '<!DOCTYPE html><html>Not found</html>'), /looks like text\/HTML/],
      [w('model.gz', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0])), /gzip-compressed/],
      [w('half.safetensors', st.subarray(0, st.length >> 1)), /not a valid safetensors file/],
      [w('half.bin', bin.subarray(0, bin.length >> 1)), /not a valid zip file/],
      [
        w(
          'bad_crc.bin',
          (() => {
            const b = Buffer.from(bin);
            b[b.length >> 1] ^= 0x55;
            return b;
          })(),
        ),
        /(CRC-32|not a valid zip|pickle)/,
      ],
      [adapter, /a loaa adapter checkpoint/],
      [other, /not a ViT\/DeiT\/AST checkpoint: none of its 1 keys/],
      [ls, /blocks hold tensors a plain ViT block does not \(blocks\.0\.ls1\.gamma\)/],
      [ck('malicious.pth'), /pickle global posix\.system is not allowed/],
      [join(dir, 'absent.safetensors'), /checkpoint file does not exist/],
    ];
    for (const [p, re] of cases) {
      assert.throws(
        () => loadBackboneStateDict(p),
        (e: Error) => {
          assert.match(e.message, re);
          assert.ok(e.message.startsWith(p), `${e.message} should start with ${p}`);
          assert.ok(!e.message.includes('\n'), 'one line');
          return true;
        },
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('toTimmKeys: DataParallel prefix, missing q/k/v parts, HF names without a prefix', () => {
  const t = (shape: number[]): RawTensor => ({ dtype: 'float32', shape, data: new Uint8Array(4 * shape.reduce((a, b) => a * b, 1)) });
  const ddp = toTimmKeys(
    new Map([
      ['module.cls_token', t([1, 1, 2])],
      ['module.head.weight', t([3, 2])],
    ]),
    'ddp.pth',
  );
  assert.equal(ddp.format, 'timm');
  assert.deepEqual([...ddp.tensors.keys()], ['cls_token']);
  assert.deepEqual(ddp.unused, ['module.head.weight']);

  assert.throws(
    () =>
      toTimmKeys(
        new Map([
          ['embeddings.cls_token', t([1, 1, 2])],
          ['encoder.layer.0.attention.attention.query.weight', t([2, 2])],
          ['encoder.layer.0.attention.attention.value.weight', t([2, 2])],
        ]),
        'qk.bin',
      ),
    /qk\.bin: layer 0 has attention query\/value\.weight but no key\.weight/,
  );
  const bare = toTimmKeys(
    new Map([
      ['embeddings.cls_token', t([1, 1, 2])],
      ['embeddings.distillation_token', t([1, 1, 2])],
      ['layernorm.weight', t([2])],
    ]),
    'bare.bin',
  );
  assert.equal(bare.format, 'hf-deit');
  assert.deepEqual([...bare.tensors.keys()].sort(), ['cls_token', 'dist_token', 'norm.weight']);
  const mixed = (): RawTensor => ({ dtype: 'float16', shape: [2, 2], data: new Uint8Array(8) });
  assert.throws(
    () =>
      toTimmKeys(
        new Map([
          ['vit.encoder.layer.0.attention.attention.query.weight', t([2, 2])],
          ['vit.encoder.layer.0.attention.attention.key.weight', mixed()],
          ['vit.encoder.layer.0.attention.attention.value.weight', t([2, 2])],
        ]),
        'mixed.bin',
      ),
    /mixed\.bin: .*key\.weight is float16 but .*query\.weight is float32/,
  );
});
