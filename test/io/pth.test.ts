import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parsePth, readPth, readPthFile } from '../../src/io/pth.js';
import { readSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { fixture } from '../helpers.js';
import { buildZip } from './zip_builder.js';
import { ZipReader } from '../../src/io/zip.js';

const ck = (name: string) => fixture('checkpoints', name);

function throwsMsg(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.match(e.message, re);
    return true;
  });
}

/** Same names, dtypes, shapes and bytes as the expected safetensors the fixture script wrote. */
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

test('torch.save zip: every dtype, offsets, strides, shared and expanded storages', () => {
  const f = readPthFile(ck('dtypes.pth'));
  assert.equal(f.format, 'zip');
  assert.equal(f.root, '');
  assertTensorsEqual(f.tensors, 'dtypes_expected.safetensors');
  const t = f.tensors;
  assert.deepEqual(t.get('scalar')!.shape, []);
  assert.deepEqual(t.get('empty')!.shape, [0, 3]);
  assert.equal(t.get('bool')!.dtype, 'bool');
  assert.deepEqual([...t.get('u8')!.data], [0, 127, 255]);
  const i64 = t.get('i64')!;
  const dv = new DataView(i64.data.buffer, i64.data.byteOffset, i64.data.byteLength);
  assert.equal(dv.getBigInt64(32, true), 2n ** 40n);
  assert.equal(dv.getBigInt64(0, true), -3n);
});

test('pickle protocols 4 and 5, deflated entries, and the legacy format read the same', () => {
  for (const name of ['dtypes_protocol4.pth', 'dtypes_protocol5.pth', 'dtypes_deflate.pth']) {
    assertTensorsEqual(readPth(ck(name)), 'dtypes_expected.safetensors');
  }
  const legacy = readPthFile(ck('dtypes_legacy.pth'));
  assert.equal(legacy.format, 'legacy');
  assertTensorsEqual(legacy.tensors, 'dtypes_expected.safetensors');
});

test('state dicts under "model" and "state_dict"; nested dicts and lists flatten with dots', () => {
  const m = readPthFile(ck('under_model.pth'));
  assert.equal(m.root, 'model');
  assertTensorsEqual(m.tensors, 'small_expected.safetensors');
  const s = readPthFile(ck('under_state_dict.pth'));
  assert.equal(s.root, 'state_dict');
  assertTensorsEqual(s.tensors, 'small_expected.safetensors');
  assertTensorsEqual(readPth(ck('nested.pth')), 'nested_expected.safetensors');
});

test('big-endian archives are byte-swapped', () => {
  assertTensorsEqual(readPth(ck('bigendian.pth')), 'bigendian_expected.safetensors');
});

test('the archive folder name does not matter (pytorch_model.bin)', () => {
  const t = readPth(ck('hf_vit_pytorch_model.bin'));
  assert.ok(t.has('vit.embeddings.cls_token'));
});

test('parsePth reads the same from memory', () => {
  assertTensorsEqual(parsePth(readFileSync(ck('dtypes.pth')), 'mem').tensors, 'dtypes_expected.safetensors');
  assertTensorsEqual(parsePth(readFileSync(ck('dtypes_legacy.pth')), 'mem').tensors, 'dtypes_expected.safetensors');
});

test('a malicious pickle inside a .pth is refused, naming the global; nothing runs', () => {
  throwsMsg(() => readPth(ck('malicious.pth')), /malicious\.pth \(archive\/data\.pkl\): pickle global posix\.system is not allowed/);
  throwsMsg(() => readPth(ck('malicious.pkl')), /malicious\.pkl: pickle global posix\.system is not allowed/);
});

test('wrong, truncated and random files: one-line errors naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-pth-'));
  try {
    const full = readFileSync(ck('dtypes.pth'));
    const cases: [string, Uint8Array, RegExp][] = [
      ['empty.pth', new Uint8Array(0), /empty\.pth: the file is empty/],
      ['random.pth', new Uint8Array(Array.from({ length: 300 }, (_, i) => (i * 97 + 13) & 255)), /random\.pth: not a PyTorch checkpoint/],
      ['cut.pth', full.subarray(0, full.length - 100), /cut\.pth: not a valid zip file/],
      ['cut_legacy.pth', readFileSync(ck('dtypes_legacy.pth')).subarray(0, 2000), /cut_legacy\.pth \(legacy torch\.save data\): truncated/],
      [
        'other.zip',
        buildZip([{ name: 'readme.txt', data: new Uint8Array(Buffer.from('hi')) }]),
        /other\.zip: a zip file, but not one written by torch\.save/,
      ],
      [
        'script.pt',
        buildZip([
          { name: 'a/data.pkl', data: new Uint8Array([0x80, 2, 0x4e, 0x2e]) },
          { name: 'a/constants.pkl', data: new Uint8Array([0x80, 2, 0x4e, 0x2e]) },
        ]),
        /script\.pt: a TorchScript archive/,
      ],
      [
        'list.pth',
        buildZip([{ name: 'a/data.pkl', data: new Uint8Array([0x80, 2, 0x5d, 0x2e]) }]),
        /list\.pth: holds a list, not a state dict/,
      ],
      ['nodata.pth', buildZip([{ name: 'a/data.pkl', data: new Uint8Array([0x80, 2, 0x7d, 0x2e]) }]), /nodata\.pth: no tensors found/],
      ['plain.pkl', new Uint8Array([0x80, 2, 0x4b, 1, 0x2e]), /plain\.pkl: a pickle, but not a torch\.save file/],
    ];
    // a storage record missing from the archive
    const z = ZipReader.open(ck('nested.pth'));
    const entries = z.entries.filter((e) => !e.name.endsWith('/data/0')).map((e) => ({ name: e.name, data: z.readEntry(e) }));
    z.close();
    cases.push(['missing.pth', buildZip(entries), /missing\.pth \(nested\/data\.pkl\): storage "0" has no record nested\/data\/0/]);
    for (const [name, data, re] of cases) {
      const p = join(dir, name);
      writeFileSync(p, data);
      assert.throws(
        () => readPth(p),
        (e: Error) => {
          assert.match(e.message, re);
          assert.ok(e.message.startsWith(p), e.message);
          assert.ok(!e.message.includes('\n'), 'one line');
          return true;
        },
      );
    }
    throwsMsg(() => readPth(join(dir, 'absent.pth')), /absent\.pth: cannot read checkpoint: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fuzz: mutated and truncated checkpoints end in a clean Error or a full read', () => {
  const srcs = ['dtypes.pth', 'dtypes_legacy.pth', 'nested.pth', 'dtypes_protocol4.pth'].map((n) => readFileSync(ck(n)));
  fc.assert(
    fc.property(
      fc.constantFrom(...srcs),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.option(fc.nat()),
      (src, muts, cut) => {
        const b = Buffer.from(src);
        for (const [i, v] of muts) b[i % b.length] = v;
        const buf = cut === null ? b : b.subarray(0, cut % (b.length + 1));
        try {
          for (const t of parsePth(buf, 'fuzz').tensors.values()) {
            assert.equal(
              t.data.byteLength,
              t.shape.reduce((a, x) => a * x, 1) *
                ({ float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1 } as const)[
                  t.dtype
                ],
            );
          }
        } catch (e) {
          assert.ok(e instanceof Error, String(e));
          assert.ok(e.message.startsWith('fuzz'), e.stack);
        }
      },
    ),
    { numRuns: 1500 },
  );
});
