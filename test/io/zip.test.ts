import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { crc32, isZip, ZipReader } from '../../src/io/zip.js';
import { fixture } from '../helpers.js';
import { buildZip } from './zip_builder.js';

const enc = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
/** Buffer and Uint8Array differ in prototype; compare bytes. */
const same = (a: Uint8Array, b: Uint8Array) => assert.deepEqual(Buffer.from(a), Buffer.from(b));

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(enc('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test('reads stored, deflated, padded and data-descriptor entries', () => {
  const a = bytes(1000, 3);
  const b = enc('hello '.repeat(200));
  const zip = buildZip(
    [
      { name: 'archive/data.pkl', data: a, pad: 37 },
      { name: 'archive/data/0', data: b, deflate: true },
      { name: 'archive/data/1', data: a, descriptor: true },
      { name: 'archive/empty', data: new Uint8Array(0) },
    ],
    { comment: 'a comment with PK\x05\x06 inside' },
  );
  assert.ok(isZip(zip));
  const z = ZipReader.fromBuffer(zip, 'mem.zip');
  assert.deepEqual(
    z.entries.map((e) => e.name),
    ['archive/data.pkl', 'archive/data/0', 'archive/data/1', 'archive/empty'],
  );
  same(z.read('archive/data.pkl'), a);
  assert.deepEqual(Buffer.from(z.read('archive/data/0')).toString(), 'hello '.repeat(200));
  same(z.read('archive/data/1'), a);
  assert.equal(z.read('archive/empty').byteLength, 0);
  assert.equal(z.entry('archive/data/0')!.method, 8);
  assert.throws(() => z.read('nope'), /mem\.zip: .*no entry "nope"/);
});

test('reads ZIP64 records', () => {
  const a = bytes(300, 5);
  const zip = buildZip(
    [
      { name: 'x/a', data: a },
      { name: 'x/b', data: a, deflate: true },
    ],
    { zip64: true },
  );
  const z = ZipReader.fromBuffer(zip, 'z64.zip');
  assert.equal(z.entries.length, 2);
  same(z.read('x/a'), a);
  same(z.read('x/b'), a);
});

test('reads a file through its descriptor, and a real torch.save archive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-zip-'));
  try {
    const p = join(dir, 'f.zip');
    const a = bytes(5000, 9);
    writeFileSync(p, buildZip([{ name: 'd/x', data: a, pad: 10 }]));
    const z = ZipReader.open(p);
    same(z.read('d/x'), a);
    z.close();
    const t = ZipReader.open(fixture('checkpoints', 'dtypes.pth'));
    try {
      assert.ok(t.has('dtypes/data.pkl'));
      assert.equal(t.read('dtypes/version').length > 0, true);
    } finally {
      t.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rejects broken archives with an error naming the file and the problem', () => {
  const a = bytes(200, 11);
  const good = buildZip([{ name: 'a/b', data: a }]);
  assert.throws(() => ZipReader.fromBuffer(new Uint8Array(10), 'tiny.zip'), /tiny\.zip: not a valid zip file: file is 10 bytes/);
  assert.throws(() => ZipReader.fromBuffer(bytes(400), 'rand.zip'), /rand\.zip: .*no end-of-central-directory/);
  // truncated: the tail (with the directory) is gone
  assert.throws(() => ZipReader.fromBuffer(good.subarray(0, good.length - 30), 'cut.zip'), /cut\.zip: not a valid zip file/);
  // a flipped data byte: CRC
  const bad = Buffer.from(good);
  bad[40] ^= 0xff;
  assert.throws(() => ZipReader.fromBuffer(bad, 'crc.zip').read('a/b'), /crc\.zip: .*entry "a\/b" is corrupt: CRC-32/);
  // central directory offset pointing past the end
  const off = Buffer.from(good);
  off.writeUInt32LE(0x7fffffff, off.length - 6);
  assert.throws(() => ZipReader.fromBuffer(off, 'off.zip'), /off\.zip: .*central directory/);
  // unsupported method
  const m = Buffer.from(good);
  const cd = m.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  m.writeUInt16LE(12, cd + 10);
  m.writeUInt16LE(12, 8);
  assert.throws(() => ZipReader.fromBuffer(m, 'bz.zip').read('a/b'), /bz\.zip: .*compression method 12/);
  // duplicate names
  assert.throws(
    () =>
      ZipReader.fromBuffer(
        buildZip([
          { name: 'x', data: a },
          { name: 'x', data: a },
        ]),
        'dup.zip',
      ),
    /dup\.zip: .*appears twice/,
  );
});

test('a deflate entry that inflates past its declared size is refused', () => {
  const big = new Uint8Array(100_000);
  const zip = Buffer.from(buildZip([{ name: 'bomb', data: big, deflate: true }]));
  const cd = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  zip.writeUInt32LE(1000, cd + 24); // claim 1000 bytes uncompressed
  assert.throws(() => ZipReader.fromBuffer(zip, 'bomb.zip').read('bomb'), /bomb\.zip: .*(larger than|inflates to)/);
});

test('a missing file is an error naming it', () => {
  assert.throws(() => ZipReader.open('/nonexistent/x.zip'), /\/nonexistent\/x\.zip: cannot read zip archive: no such file/);
});

test('fuzz: random bytes and mutated archives end in a clean Error or a correct read', () => {
  const base = buildZip(
    [
      { name: 'archive/data.pkl', data: bytes(64, 2), pad: 5 },
      { name: 'archive/data/0', data: bytes(128, 4), deflate: true },
    ],
    { zip64: false },
  );
  const base64 = buildZip([{ name: 'a', data: bytes(50, 6) }], { zip64: true });
  const torch = readFileSync(fixture('checkpoints', 'bigendian.pth'));
  const tryRead = (buf: Uint8Array) => {
    try {
      const z = ZipReader.fromBuffer(buf, 'fuzz.zip');
      for (const e of z.entries) {
        try {
          z.readEntry(e);
        } catch (err) {
          assert.ok(err instanceof Error && err.message.startsWith('fuzz.zip'), String(err));
        }
      }
    } catch (err) {
      assert.ok(err instanceof Error && err.message.startsWith('fuzz.zip'), String(err));
    }
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => tryRead(b)),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.constantFrom(base, base64, torch),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat()),
      (src, muts, cut) => {
        const b = Buffer.from(src);
        for (const [i, v] of muts) b[i % b.length] = v;
        tryRead(cut === null ? b : b.subarray(0, cut % (b.length + 1)));
      },
    ),
    { numRuns: 1500 },
  );
});
