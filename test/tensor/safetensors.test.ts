/**
 * safetensors parsing of truncated or lying files: every defect is an Error naming the file, found
 * before any tensor data is touched; random and mutated files never crash or hang the parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseSafetensors, readSafetensors, serializeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import * as T from '../../src/tensor/index.js';

const SRC = 'model.safetensors';
const PREFIX = /^model\.safetensors: not a valid safetensors file: /;

function file(header: unknown, dataBytes = 0, rawHeader?: Uint8Array): Uint8Array {
  const json = rawHeader ?? Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.byteLength));
  return new Uint8Array(Buffer.concat([len, json, Buffer.alloc(dataBytes, 7)]));
}

function rejects(buf: Uint8Array, re: RegExp): void {
  assert.throws(
    () => parseSafetensors(buf, SRC),
    (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, PREFIX);
      assert.match(e.message, re);
      return true;
    },
  );
}

const f32 = (shape: number[], b: number, e: number) => ({ dtype: 'F32', shape, data_offsets: [b, e] });

function valid(): Uint8Array {
  const raw: Record<string, RawTensor> = {
    'blocks.0.w': { dtype: 'float32', shape: [2, 3], data: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer) },
    'blocks.0.b': { dtype: 'int64', shape: [2], data: new Uint8Array(new BigInt64Array([7n, -8n]).buffer) },
    empty: { dtype: 'float16', shape: [0, 4], data: new Uint8Array(0) },
  };
  return new Uint8Array(Buffer.concat(serializeSafetensors(raw, { format: 'pt' })));
}

test('a valid file round-trips through serialize and parse (and into tensors)', () => {
  const f = parseSafetensors(valid(), SRC);
  assert.deepEqual([...f.tensors.keys()].sort(), ['blocks.0.b', 'blocks.0.w', 'empty']);
  assert.deepEqual(f.metadata, { format: 'pt' });
  T.scope(() => {
    assert.deepEqual(T.fromRaw(f.tensors.get('blocks.0.w')!).toArray(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(T.fromRaw(f.tensors.get('blocks.0.b')!).toArray(), [7, -8]);
    assert.deepEqual(T.fromRaw(f.tensors.get('empty')!).shape, [0, 4]);
  });
});

test('truncated files', () => {
  rejects(new Uint8Array(5), /file is 5 bytes, shorter than the 8-byte header length/);
  const v = valid();
  rejects(v.subarray(0, 20), /header length \d+ runs past the end of the file \(20 bytes\)/);
  rejects(v.subarray(0, v.byteLength - 1), /lie outside the \d+ data bytes/);
});

test('header length past the end, or absurdly large', () => {
  const b = file({}, 0);
  new DataView(b.buffer).setBigUint64(0, 1000n, true);
  rejects(b, /header length 1000 runs past the end/);
  new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true);
  rejects(b, /header length 9223372036854775808 is larger than 100000000/);
});

test('bad JSON, non-UTF-8, not an object', () => {
  rejects(file(null, 0, Buffer.from('{"a": ')), /header is not UTF-8 JSON/);
  rejects(file(null, 0, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), /header is not UTF-8 JSON/);
  rejects(file([1, 2]), /header is not a JSON object/);
  rejects(file('x'), /header is not a JSON object/);
  rejects(file({ a: 5 }), /entry "a" is not an object/);
  rejects(file({ a: null }), /entry "a" is not an object/);
  rejects(file({ __metadata__: { k: 1 } }), /__metadata__\.k is not a string/);
  rejects(file({ __metadata__: [] }), /__metadata__ is not an object/);
});

test('unknown dtype, invalid shape', () => {
  rejects(file({ a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1), /tensor "a" has unsupported dtype "F8"/);
  rejects(file({ a: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor "a" has unsupported dtype/);
  rejects(file({ a: f32([-1], 0, 4) }, 4), /tensor "a" has an invalid shape \[-1\]/);
  rejects(file({ a: f32([1.5], 0, 4) }, 4), /invalid shape/);
  rejects(file({ a: { dtype: 'F32', shape: 'x', data_offsets: [0, 4] } }, 4), /invalid shape "x"/);
  // prototype names are not dtypes either
  for (const dt of ['toString', 'constructor', '__proto__'])
    rejects(file({ a: { dtype: dt, shape: [1], data_offsets: [0, 4] } }, 4), /tensor "a"/);
});

test('offsets out of range, inconsistent with the shape, or overlapping', () => {
  rejects(file({ a: f32([2], 0, 8) }, 4), /tensor "a" data_offsets \[0, 8\] lie outside the 4 data bytes/);
  rejects(file({ a: f32([1], 4, 0) }, 4), /data_offsets \[4, 0\] lie outside/);
  rejects(file({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), /tensor "a" has invalid data_offsets \[0\]/);
  rejects(file({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, 4), /invalid data_offsets/);
  rejects(file({ a: f32([2], 0, 4) }, 8), /tensor "a" holds 4 bytes but float32 \[2\] needs 8/);
  rejects(file({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12), /tensors "a" and "b" overlap/);
  rejects(file({ a: f32([2 ** 40, 2 ** 40], 0, 4) }, 4), /tensor "a" holds 4 bytes/);
});

test('a missing file is an Error naming the path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-st-'));
  try {
    const p = join(dir, 'nope.safetensors');
    assert.throws(
      () => readSafetensors(p),
      (e: Error) => e.message.startsWith(`${p}: cannot read safetensors file`),
    );
    writeFileSync(p, new Uint8Array(3));
    assert.throws(
      () => readSafetensors(p),
      (e: Error) => e.message.startsWith(`${p}: not a valid safetensors file`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Parses or throws an Error naming the file; anything else (a crash, a TypeError from inside) fails. */
function parsesOrNamesFile(buf: Uint8Array): void {
  const t0 = performance.now();
  try {
    const f = parseSafetensors(buf, SRC);
    for (const t of f.tensors.values()) assert.ok(t.data.byteOffset + t.data.byteLength <= buf.byteOffset + buf.byteLength);
  } catch (e) {
    assert.ok(e instanceof Error, `threw a non-Error ${String(e)}`);
    assert.match(e.message, PREFIX);
  }
  assert.ok(performance.now() - t0 < 2000, 'took over 2 s: a hang, not a slow machine');
}

test('fuzz: random bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), parsesOrNamesFile), { numRuns: 2000, seed: 1 });
  // a plausible length prefix followed by junk
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 80 }), fc.uint8Array({ maxLength: 80 }), (n, rest) => {
      const b = new Uint8Array(8 + rest.byteLength);
      new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
      b.set(rest, 8);
      parsesOrNamesFile(b);
    }),
    { numRuns: 2000, seed: 2 },
  );
});

test('fuzz: byte flips and truncations of a valid file', () => {
  const v = valid();
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(v.byteLength - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(v.byteLength),
      (flips, cut) => {
        const b = v.slice(0, Math.max(cut, 1) === v.byteLength ? v.byteLength : cut);
        for (const [i, x] of flips) if (i < b.byteLength) b[i] = x;
        parsesOrNamesFile(b);
      },
    ),
    { numRuns: 3000, seed: 3 },
  );
});

test('fuzz: lying headers (random JSON values in every field)', () => {
  const anyJson = fc.jsonValue({ maxDepth: 2 });
  const entry = fc.record(
    {
      dtype: fc.oneof(
        fc.constantFrom('F32', 'F64', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'F8', 'toString', 'valueOf'),
        anyJson,
      ),
      shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 2 ** 31 }), { maxLength: 3 }), fc.array(fc.nat(4), { maxLength: 3 }), anyJson),
      data_offsets: fc.oneof(fc.tuple(fc.nat(40), fc.nat(40)), fc.array(fc.integer({ min: -5, max: 2 ** 53 }), { maxLength: 3 }), anyJson),
    },
    { requiredKeys: [] },
  );
  const header = fc.dictionary(
    fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__metadata__', '__proto__', 'constructor')),
    fc.oneof(entry, anyJson),
    { maxKeys: 4 },
  );
  fc.assert(
    fc.property(header, fc.nat(48), (h, data) => parsesOrNamesFile(file(h, data))),
    { numRuns: 3000, seed: 4 },
  );
});
