/**
 * The guarded file layer (src/util/guarded_fs.ts): inputs are regular files or an Error naming them
 * (a FIFO never hangs, a device is never read forever), outputs never go through a symlink or onto
 * a device, FIFO or socket, at the target or at the temp names beside it (issue #25).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  appendGuarded,
  copyFileGuarded,
  forEachChunk,
  openPartWriter,
  readInput,
  readInputJson,
  renameGuarded,
  writeFileNew,
} from '../../src/util/guarded_fs.js';
import { tempDir } from '../helpers.js';
import { haveMkfifo, mkfifo, unixSocket } from './special_files.js';

const noFifo = haveMkfifo ? false : 'mkfifo is not available';

test('readInput: a FIFO is refused at once by name, a device is refused, a file over maxBytes names the cap', {
  skip: noFifo,
  timeout: 10_000,
}, () => {
  const d = tempDir('guarded-in');
  const fifo = join(d, 'recipe.yaml');
  mkfifo(fifo);
  assert.throws(
    () => readInput(fifo, { what: 'recipe' }),
    /recipe\.yaml: cannot read recipe: it is a FIFO \(named pipe\), not a regular file/,
  );
  assert.throws(
    () => readInput('/dev/zero', { what: 'backbone checkpoint' }),
    /\/dev\/zero: cannot read backbone checkpoint: it is a character device/,
  );
  writeFileSync(join(d, 'big.json'), '{"a": 1}          ');
  assert.throws(
    () => readInput(join(d, 'big.json'), { what: 'results', maxBytes: 8, override: 'LOAA_X' }),
    /big\.json: results is 18 bytes, more than the 8-byte limit \(raise it with LOAA_X\)/,
  );
  assert.throws(() => readInputJson(fifo, { what: 'grid file' }), /recipe\.yaml: cannot read grid file: it is a FIFO/);
  writeFileSync(join(d, 'bad.json'), '{');
  assert.throws(() => readInputJson(join(d, 'bad.json'), { what: 'run results' }), /^Error: .*bad\.json: run results is not valid JSON/);
  // noFollow: files the program wrote itself are never read through a planted link
  symlinkSync(join(d, 'big.json'), join(d, 'metrics.jsonl'));
  assert.throws(
    () => readInput(join(d, 'metrics.jsonl'), { what: 'metrics log', noFollow: true }),
    /metrics\.jsonl: cannot read metrics log: it is a symbolic link/,
  );
});

test('forEachChunk hashes up to the size fstat gave and refuses a character device instead of spinning', () => {
  let n = 0;
  assert.throws(
    () => forEachChunk('/dev/zero', { what: 'the backbone checkpoint' }, (b) => (n += b.length)),
    /\/dev\/zero: .*character device/,
  );
  assert.equal(n, 0);
});

test('appendGuarded refuses a planted symlink (the target is untouched), a FIFO and a socket, and appends to a file', {
  skip: noFifo,
  timeout: 10_000,
}, async () => {
  const d = tempDir('guarded-append');
  writeFileSync(join(d, 'victim.txt'), 'keep');
  symlinkSync(join(d, 'victim.txt'), join(d, 'metrics.jsonl'));
  assert.throws(
    () => appendGuarded(join(d, 'metrics.jsonl'), 'metrics line', 'x\n'),
    /metrics\.jsonl: refusing to append metrics line: it is a symbolic link/,
  );
  assert.equal(readFileSync(join(d, 'victim.txt'), 'utf8'), 'keep');
  mkfifo(join(d, 'log.fifo'));
  assert.throws(() => appendGuarded(join(d, 'log.fifo'), 'the run log', 'x'), /log\.fifo: refusing to append the run log: it is a FIFO/);
  await unixSocket(join(d, 'sock'));
  assert.throws(() => appendGuarded(join(d, 'sock'), 'the run log', 'x'), /sock: refusing to append the run log/);
  appendGuarded(join(d, 'ok.log'), 'the run log', 'a');
  appendGuarded(join(d, 'ok.log'), 'the run log', 'b');
  assert.equal(readFileSync(join(d, 'ok.log'), 'utf8'), 'ab');
});

test('openPartWriter: a planted <out>.part symlink, a socket or a FIFO as the target are refused; a stale .part is replaced', {
  skip: noFifo,
  timeout: 10_000,
}, async () => {
  const d = tempDir('guarded-part');
  writeFileSync(join(d, 'victim'), 'keep');
  symlinkSync(join(d, 'victim'), join(d, 'out.jsonl.part'));
  assert.throws(
    () => openPartWriter(join(d, 'out.jsonl'), 'the results'),
    /out\.jsonl\.part: refusing to write the results: it is a symbolic link/,
  );
  assert.equal(readFileSync(join(d, 'victim'), 'utf8'), 'keep');
  await unixSocket(join(d, 'out.sock'));
  assert.throws(() => openPartWriter(join(d, 'out.sock'), 'the results'), /out\.sock: refusing to write: it is a socket/);
  assert.ok(lstatSync(join(d, 'out.sock')).isSocket());
  mkfifo(join(d, 'out.fifo'));
  assert.throws(() => openPartWriter(join(d, 'out.fifo'), 'the results'), /out\.fifo: refusing to write: it is a FIFO/);
  writeFileSync(join(d, 'good.csv.part'), 'stale from a killed run');
  const w = openPartWriter(join(d, 'good.csv'), 'the results');
  w.stream.write('a,b\n');
  await w.commit();
  assert.equal(readFileSync(join(d, 'good.csv'), 'utf8'), 'a,b\n');
  assert.throws(() => lstatSync(join(d, 'good.csv.part')), /ENOENT/);
});

test('copyFileGuarded never writes through a symlinked target (export --web model.onnx) and copies a file whole', () => {
  const d = tempDir('guarded-copy');
  writeFileSync(join(d, 'model-src.onnx'), Buffer.alloc(3 << 20, 7));
  writeFileSync(join(d, 'victim'), 'keep');
  symlinkSync(join(d, 'victim'), join(d, 'model.onnx'));
  assert.throws(
    () => copyFileGuarded(join(d, 'model-src.onnx'), join(d, 'model.onnx'), 'the model'),
    /model\.onnx: refusing to write: it is a symbolic link/,
  );
  assert.equal(readFileSync(join(d, 'victim'), 'utf8'), 'keep');
  copyFileGuarded(join(d, 'model-src.onnx'), join(d, 'copy.onnx'), 'the model');
  assert.deepEqual(readFileSync(join(d, 'copy.onnx')), readFileSync(join(d, 'model-src.onnx')));
  assert.throws(() => copyFileGuarded('/dev/zero', join(d, 'z.onnx'), 'the model'), /\/dev\/zero: .*character device/);
});

test('renameGuarded refuses a symlink or a node where the result goes; writeFileNew refuses a planted link', () => {
  const d = tempDir('guarded-rename');
  writeFileSync(join(d, 'tmp'), 'new');
  writeFileSync(join(d, 'victim'), 'keep');
  symlinkSync(join(d, 'victim'), join(d, 'dest'));
  assert.throws(
    () => renameGuarded(join(d, 'tmp'), join(d, 'dest'), 'the download'),
    /dest: refusing to replace the download: it is a symbolic link/,
  );
  renameGuarded(join(d, 'tmp'), join(d, 'fresh'), 'the download');
  assert.equal(readFileSync(join(d, 'fresh'), 'utf8'), 'new');
  symlinkSync(join(d, 'victim'), join(d, '001.wav'));
  assert.throws(
    () => writeFileNew(join(d, '001.wav'), 'synthetic clip', 'x'),
    /001\.wav: refusing to write synthetic clip: it is a symbolic link/,
  );
  assert.equal(readFileSync(join(d, 'victim'), 'utf8'), 'keep');
});
