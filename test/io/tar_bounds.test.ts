/**
 * The tar reader's bounds (issue #25): every entry type is capped (a symlink or contiguous-file
 * entry declaring gigabytes was buffered whole: 11 MB of .tar.gz -> 2.66 GB), and entries the
 * caller does not want are streamed past, never handed over or held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { readTar, MAX_TAR_META_BYTES } from '../../src/io/tar.js';
import { tarHeader, tarOf } from './tar_builder.js';

for (const flag of ['2', '7', '1', '3', '5', 'x', 'L', 'K', 'S']) {
  test(`a type ${JSON.stringify(flag)} entry declaring 1.5 GB is refused from its header, before any data is read`, async () => {
    let pulled = 0;
    async function* src(): AsyncGenerator<Uint8Array> {
      yield tarHeader('big', 1.5 * 2 ** 30, flag);
      // the data would follow: a reader that buffers it pulls these
      const zeros = new Uint8Array(1 << 20);
      for (let i = 0; i < 2048; i++) {
        pulled++;
        yield zeros;
      }
    }
    await assert.rejects(
      readTar(src(), 'big.tar', () => {}),
      new RegExp(`big\\.tar: tar entry "big" \\(type ${JSON.stringify(flag)}\\) is 1610612736 bytes, over the \\d+-byte limit`),
    );
    assert.ok(pulled < 4, `pulled ${pulled} MB before refusing`);
  });
}

test('pax and long-name headers are capped at 1 MB, far below the file cap', async () => {
  await assert.rejects(
    readTar(Readable.from([tarHeader('././@LongLink', MAX_TAR_META_BYTES + 1, 'L')]), 'long.tar', () => {}),
    /long\.tar: .* over the 1048576-byte limit/,
  );
});

test('entries outside `want` are streamed past: onEntry gets null for them, the wanted ones get their bytes', async () => {
  const big = new Uint8Array(5 << 20).fill(1);
  const raw = tarOf([
    ['top/skip.bin', big],
    ['top/keep.txt', Buffer.from('hello')],
    ['top/link', new Uint8Array(0), '2'],
  ]);
  const seen: [string, number | null][] = [];
  await readTar(
    Readable.from([raw]),
    'a.tar',
    (e, data) => {
      seen.push([e.name, data ? data.length : null]);
    },
    { want: (e) => e.name.endsWith('.txt') },
  );
  assert.deepEqual(seen, [
    ['top/skip.bin', null],
    ['top/keep.txt', 5],
    ['top/link', null],
  ]);
});

test('skipping keeps the stream position exact across odd chunk boundaries', async () => {
  const raw = tarOf([
    ['a/1.bin', new Uint8Array(70_001).fill(3)],
    ['a/2.txt', Buffer.from('two')],
    ['a/3.bin', new Uint8Array(513)],
    ['a/4.txt', Buffer.from('four')],
  ]);
  const chunks: Buffer[] = [];
  for (let at = 0; at < raw.length; at += 777) chunks.push(raw.subarray(at, at + 777));
  const got: string[] = [];
  await readTar(
    Readable.from(chunks),
    'b.tar',
    (e, data) => {
      if (data) got.push(`${e.name}=${data.toString()}`);
    },
    { want: (e) => e.name.endsWith('.txt') },
  );
  assert.deepEqual(got, ['a/2.txt=two', 'a/4.txt=four']);
  // a number as the fourth argument is still the per-entry cap
  await assert.rejects(
    readTar(Readable.from(chunks), 'b.tar', () => {}, 1000),
    /b\.tar: tar entry "a\/1\.bin" \(type "0"\) is 70001 bytes, over the 1000-byte limit/,
  );
});
