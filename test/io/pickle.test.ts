import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseStoragePid, type PyTuple, TorchStorage, TorchTensor, unpickle } from '../../src/io/pickle.js';
import { ZipReader } from '../../src/io/zip.js';
import { fixture } from '../helpers.js';

/** Hand-assembled pickles: a list of opcode bytes and arguments. */
function P(...parts: (number | string | number[] | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') out.push(...Buffer.from(p, 'utf8'));
    else out.push(...p);
  }
  return new Uint8Array(out);
}
const u32 = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
const binunicode = (s: string) => [0x58, ...u32(Buffer.byteLength(s)), ...Buffer.from(s)];
const global = (m: string, n: string) => [0x63, ...Buffer.from(`${m}\n${n}\n`)];
const PROTO2 = [0x80, 2];

/** assert.throws matches a RegExp against "Error: ..."; these check the message itself. */
function throwsMsg(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.match(e.message, re);
    return true;
  });
}
const STOP = 0x2e;

function dataPkl(name: string): Uint8Array {
  const z = ZipReader.open(fixture('checkpoints', name));
  try {
    const e = z.entries.find((x) => x.name.endsWith('/data.pkl'))!;
    return z.readEntry(e);
  } finally {
    z.close();
  }
}

test('basic values: ints, floats, strings, bytes, containers, memo', () => {
  // {'a': [1, -2, 300, 70000, 2**70], 'b': (1.5, None, True, False), 'c': b'xy', 'd': (1, 2, 3), 'e': ((1, 2),), 'f': <memo 1>}
  const pk = P(
    PROTO2,
    0x7d,
    0x71,
    0,
    0x28,
    binunicode('a'),
    0x5d,
    0x28,
    0x4b,
    1,
    0x4a,
    ...u32(-2 >>> 0),
    0x4d,
    44,
    1,
    0x4a,
    ...u32(70000),
    0x8a,
    9,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x40,
    0x65,
    binunicode('b'),
    0x28,
    0x47,
    0x3f,
    0xf8,
    0,
    0,
    0,
    0,
    0,
    0,
    0x4e,
    0x88,
    0x89,
    0x74,
    0x71,
    1,
    binunicode('c'),
    0x43,
    2,
    0x78,
    0x79,
    binunicode('d'),
    0x4b,
    1,
    0x4b,
    2,
    0x4b,
    3,
    0x87,
    binunicode('e'),
    0x4b,
    1,
    0x4b,
    2,
    0x86,
    0x85,
    binunicode('f'),
    0x68,
    1,
    0x75,
    STOP,
  );
  const { value, end } = unpickle(pk);
  assert.equal(end, pk.length);
  const m = value as Map<string, unknown>;
  assert.deepEqual(m.get('a'), [1, -2, 300, 70000, 2n ** 70n]);
  assert.deepEqual((m.get('b') as PyTuple).items, [1.5, null, true, false]);
  assert.deepEqual(m.get('c'), new Uint8Array([0x78, 0x79]));
  assert.deepEqual((m.get('d') as PyTuple).items, [1, 2, 3]);
  assert.deepEqual(((m.get('e') as PyTuple).items[0] as PyTuple).items, [1, 2]);
  assert.equal(m.get('f'), m.get('b'));
  // several pickles back to back: offset and end
  const two = P(PROTO2, 0x4b, 7, STOP, PROTO2, 0x4b, 8, STOP);
  const first = unpickle(two);
  assert.deepEqual([first.value, unpickle(two, { offset: first.end }).value], [7, 8]);
});

test('protocol 4 opcodes: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, EMPTY_SET/ADDITEMS', () => {
  const pk = P(
    0x80,
    4,
    0x95,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x8c,
    11,
    'collections',
    0x94,
    0x8c,
    11,
    'OrderedDict',
    0x94,
    0x93,
    0x94,
    0x29,
    0x52,
    0x94,
    0x8c,
    1,
    'k',
    0x94,
    0x8f,
    0x28,
    0x4b,
    5,
    0x4b,
    6,
    0x90,
    0x73,
    0x8c,
    1,
    'j',
    0x68,
    4,
    0x73, // memo 4 holds the 'k' string
    STOP,
  );
  const m = unpickle(pk).value as Map<string, unknown>;
  assert.ok(m instanceof Map);
  assert.deepEqual(m.get('k'), new Set([5, 6]));
  assert.equal(m.get('j'), 'k');
});

test('forbidden globals are refused, naming the global, before anything happens', () => {
  const cases: [Uint8Array, RegExp][] = [
    [P(PROTO2, ...global('posix', 'system'), ...binunicode('echo hi'), 0x85, 0x52, STOP), /pickle global posix\.system is not allowed/],
    [P(PROTO2, ...global('os', 'system'), STOP), /pickle global os\.system is not allowed/],
    [P(PROTO2, ...global('__builtin__', 'eval'), STOP), /pickle global builtins\.eval is not allowed/],
    [P(PROTO2, ...global('builtins', 'getattr'), STOP), /builtins\.getattr is not allowed/],
    [P(PROTO2, ...global('subprocess', 'Popen'), STOP), /subprocess\.Popen is not allowed/],
    [P(PROTO2, ...global('torch', 'load'), STOP), /torch\.load is not allowed/],
    [P(0x80, 4, 0x8c, 2, 'nt', 0x8c, 6, 'system', 0x93, STOP), /nt\.system is not allowed/],
    [P(PROTO2, ...global('torch._utils', '_rebuild_qtensor'), STOP), /_rebuild_qtensor \(quantized tensors\) is not supported/],
    [P(PROTO2, 0x28, 0x69, 'os\nsystem\n', STOP), /INST builds arbitrary objects/],
    [P(PROTO2, 0x28, 0x4e, 0x6f, STOP), /OBJ builds arbitrary objects/],
    [P(PROTO2, 0x82, 1, STOP), /extension registry/],
    [P(PROTO2, ...binunicode('x'), 0x85, 0x51, STOP), /only persistent ids of storages/],
    [P(PROTO2, ...binunicode('x'), 0x51, STOP), /only storage tuples/],
    // REDUCE on something that is not an allowed callable
    [P(PROTO2, ...binunicode('f'), 0x29, 0x52, STOP), /REDUCE on str, which is not an allowed callable/],
    // BUILD on a list
    [P(PROTO2, 0x5d, 0x7d, 0x62, STOP), /BUILD on list is not allowed/],
    // NEWOBJ of an allowed function that is not a class
    [
      P(PROTO2, ...global('torch._utils', '_rebuild_tensor_v2'), 0x29, 0x81, STOP),
      /NEWOBJ of torch\._utils\._rebuild_tensor_v2 is not allowed/,
    ],
  ];
  for (const [pk, re] of cases) {
    assert.throws(
      () => unpickle(pk, { source: 'evil.pkl' }),
      (e: Error) => {
        assert.match(e.message, /^evil\.pkl: /);
        assert.match(e.message, re);
        return true;
      },
    );
  }
});

test('the malicious fixtures (os.system via __reduce__) are refused, naming posix.system', () => {
  for (const f of ['malicious.pkl', 'malicious_protocol4.pkl']) {
    const b = readFileSync(fixture('checkpoints', f));
    throwsMsg(() => unpickle(b, { source: f }), new RegExp(`^${f.replace('.', '\\.')}: pickle global (posix|os)\\.system is not allowed`));
  }
});

test('structural garbage: underflow, bad memo, truncation, unknown opcodes', () => {
  const cases: [Uint8Array, RegExp][] = [
    [P(PROTO2, STOP), /stack underflow/],
    [P(PROTO2, 0x68, 7, STOP), /memo entry 7 was never stored/],
    [P(PROTO2, 0x58, 0xff, 0xff, 0, 0), /truncated/],
    [P(PROTO2, 0x4b), /truncated/],
    [P(PROTO2, 0xff), /unknown pickle opcode 0xff/],
    [P(PROTO2, 0x65), /no MARK/],
    [P(PROTO2, 0x4b, 1), /ends before the STOP/],
    [P(0x80, 9, STOP), /unsupported pickle protocol 9/],
    [P(PROTO2, 0x4b, 1, 0x4b, 2, 0x61, STOP), /only lists can be appended/],
    [P(PROTO2, 0x5d, 0x5d, 0x4b, 1, 0x73, STOP), /only dicts take items/],
    [P(PROTO2, 0x7d, 0x5d, 0x4b, 1, 0x73, STOP), /unhashable list/],
    [P(PROTO2, 0x58, 2, 0, 0, 0, 0xc3, 0x28, STOP), /not valid UTF-8/],
    [P(0x80, 4, 0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, STOP), /larger than the whole input/],
  ];
  for (const [pk, re] of cases) assert.throws(() => unpickle(pk, { source: 's' }), re);
});

test('torch tensors: rebuild functions against storages from persistentLoad', () => {
  const pk = dataPkl('dtypes.pth');
  const seen: string[] = [];
  const { value } = unpickle(pk, {
    source: 'dtypes.pth',
    persistentLoad(pid, fail) {
      const p = parseStoragePid(pid, fail);
      seen.push(`${p.key}:${p.dtype}:${p.numel}`);
      return new TorchStorage(p.key, p.dtype, p.numel * 8);
    },
  });
  const m = value as Map<string, TorchTensor>;
  const t = m.get('transposed')!;
  assert.ok(t instanceof TorchTensor);
  assert.deepEqual(t.shape, [5, 3]);
  assert.deepEqual(t.stride, [1, 5]);
  assert.equal(m.get('shared_offset')!.offset, 4);
  assert.equal(m.get('f16')!.dtype, 'float16');
  assert.equal(m.get('bf16')!.dtype, 'bfloat16');
  assert.equal(m.get('bool')!.dtype, 'bool');
  assert.deepEqual(m.get('expanded')!.stride, [1, 0]);
  assert.equal(m.get('param')!.requiresGrad, true);
  assert.ok(seen.some((s) => s.endsWith(':float32:10')));
});

test('a tensor that reaches past its storage is refused', () => {
  const pk = dataPkl('dtypes.pth');
  throwsMsg(
    () =>
      unpickle(pk, {
        source: 'short.pth',
        persistentLoad(pid, fail) {
          const p = parseStoragePid(pid, fail);
          return new TorchStorage(p.key, p.dtype, 1);
        },
      }),
    /^short\.pth: _rebuild_tensor_v2: a \w+ tensor of size .* reaches byte \d+ of storage "\d+", which holds 1 bytes/,
  );
});

test('without persistentLoad, storages are an error, not a crash', () => {
  assert.throws(() => unpickle(dataPkl('nested.pth'), { source: 'n' }), /refers to tensor storages outside it/);
});

const validPickles = (() => {
  const list = [
    dataPkl('dtypes.pth'),
    dataPkl('dtypes_protocol4.pth'),
    dataPkl('dtypes_protocol5.pth'),
    dataPkl('nested.pth'),
    dataPkl('under_model.pth'),
  ];
  list.push(readFileSync(fixture('checkpoints', 'malicious.pkl')));
  return list;
})();

function fuzzOnce(b: Uint8Array): void {
  try {
    unpickle(b, {
      source: 'fuzz',
      persistentLoad(pid, fail) {
        const p = parseStoragePid(pid, fail);
        return new TorchStorage(p.key, p.dtype, Math.min(p.numel, 1 << 20) * 8);
      },
    });
  } catch (e) {
    assert.ok(e instanceof Error, `threw a non-Error: ${String(e)}`);
    assert.ok(e.message.startsWith('fuzz: '), `unexpected error: ${e.stack}`);
  }
}

test('fuzz: random bytes never hang or crash, only clean Errors', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => fuzzOnce(b)),
    { numRuns: 2000 },
  );
  // biased toward the opcode alphabet so that deep paths are reached
  const ops = [
    0x28, 0x29, 0x2e, 0x30, 0x31, 0x32, 0x4a, 0x4b, 0x4d, 0x4e, 0x51, 0x52, 0x58, 0x5d, 0x61, 0x62, 0x63, 0x65, 0x68, 0x71, 0x73, 0x74,
    0x75, 0x7d, 0x80, 0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x8f, 0x90, 0x91, 0x93, 0x94, 0x95, 0x0a, 0, 1, 2,
  ];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...ops), { maxLength: 200 }), (a) => fuzzOnce(new Uint8Array(a))),
    { numRuns: 3000 },
  );
});

test('fuzz: mutated torch pickles never hang or crash, only clean Errors', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...validPickles),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.option(fc.nat()),
      (src, muts, cut) => {
        const b = Buffer.from(src);
        for (const [i, v] of muts) b[i % b.length] = v;
        fuzzOnce(cut === null ? b : b.subarray(0, cut % (b.length + 1)));
      },
    ),
    { numRuns: 3000 },
  );
});
