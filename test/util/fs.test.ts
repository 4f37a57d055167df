import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRegularFile, removeStaleTemps, writeFileAtomic } from '../../src/util/fs.js';
import { tempDir } from '../helpers.js';

/** A pid that is certainly not running: a child that already exited. */
function deadPid(): number {
  const out = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(out.toString());
}

test('readRegularFile refuses FIFOs, devices and directories by name, without blocking', () => {
  const dir = tempDir('fs');
  try {
    const fifo = join(dir, 'pipe.wav');
    execFileSync('mkfifo', [fifo]);
    // a blocking open of a FIFO without a writer never returns: this test would hang, not fail
    assert.throws(
      () => readRegularFile(fifo, 'audio file'),
      (e: Error) => e.message === `${fifo}: cannot read audio file: it is a FIFO (named pipe), not a regular file`,
    );
    assert.throws(
      () => readRegularFile('/dev/zero', 'checkpoint'),
      /^Error: \/dev\/zero: cannot read checkpoint: it is a character device/,
    );
    assert.throws(() => readRegularFile(dir, 'recipe'), new RegExp(`^Error: ${dir}: cannot read recipe: it is a directory`));
    assert.throws(() => readRegularFile(join(dir, 'nope'), 'x'), /nope: cannot read x: no such file/);
    const f = join(dir, 'a.bin');
    writeFileSync(f, Buffer.alloc(1000, 7));
    assert.equal(readRegularFile(f, 'x').length, 1000);
    assert.throws(
      () => readRegularFile(f, 'audio file', { maxBytes: 999, override: 'LOAA_MAX_AUDIO_BYTES' }),
      /a\.bin: audio file is 1000 bytes, more than the 999-byte limit \(raise it with LOAA_MAX_AUDIO_BYTES\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic never replaces a FIFO, a device or a symlink', () => {
  const dir = tempDir('fs');
  try {
    const fifo = join(dir, 'out.safetensors');
    execFileSync('mkfifo', [fifo]);
    assert.throws(() => writeFileAtomic(fifo, 'x'), /out\.safetensors: refusing to write: it is a FIFO/);
    assert.ok(lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
    const target = join(dir, 'real.json');
    writeFileSync(target, 'old');
    const link = join(dir, 'link.json');
    symlinkSync(target, link);
    assert.throws(() => writeFileAtomic(link, 'new'), /link\.json: refusing to write: it is a symbolic link/);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(target, 'utf8'), 'old');
    // a character device: /dev/null is one everywhere; refused before any temp file is made in /dev
    assert.throws(() => writeFileAtomic('/dev/null', 'x'), /^Error: \/dev\/null: refusing to write: it is a character device/);
    assert.ok(lstatSync('/dev/null').isCharacterDevice());
    // a regular file is replaced, and no temp file stays behind
    writeFileAtomic(target, 'new');
    assert.equal(readFileSync(target, 'utf8'), 'new');
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('.tmp-')),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stale temp files and checkpoint directories of dead writers are removed; live ones stay', () => {
  const dir = tempDir('fs');
  try {
    const dead = deadPid();
    const staleFile = `.model.safetensors.tmp-${dead}-0a1b2c3d`;
    const liveFile = `.model.safetensors.tmp-${process.pid}-0a1b2c3d`;
    const staleDir = `.checkpoint-tmp-${dead}`;
    writeFileSync(join(dir, staleFile), Buffer.alloc(100));
    writeFileSync(join(dir, liveFile), Buffer.alloc(100));
    execFileSync('mkdir', [join(dir, staleDir)]);
    writeFileSync(join(dir, staleDir, 'state.json'), '{}');
    writeFileSync(join(dir, '.other.tmp-notapid'), '');
    // writing the target cleans its own stale siblings
    writeFileAtomic(join(dir, 'model.safetensors'), 'x');
    assert.ok(!existsSync(join(dir, staleFile)));
    assert.ok(existsSync(join(dir, liveFile)), 'a temp file of a live process is left alone');
    assert.ok(existsSync(join(dir, staleDir)), 'a write of one file does not touch checkpoint dirs');
    assert.deepEqual(removeStaleTemps(dir), [staleDir]);
    assert.ok(existsSync(join(dir, '.other.tmp-notapid')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('write errors name the target and keep the errno code (as ENOSPC does)', () => {
  const dir = tempDir('fs');
  try {
    // a file where the folder should be: the write fails in the folder step, before any rename
    const blocker = join(dir, 'run');
    writeFileSync(blocker, 'not a folder');
    const target = join(blocker, 'results.json');
    assert.throws(
      () => writeFileAtomic(target, 'x'),
      (e: NodeJS.ErrnoException) => e.message.startsWith(`${target}: `) && typeof e.code === 'string',
    );
    assert.equal(readFileSync(blocker, 'utf8'), 'not a folder');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
