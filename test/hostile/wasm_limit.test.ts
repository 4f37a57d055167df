/**
 * #10: under an address-space limit (ulimit -v, prlimit --as) V8 cannot reserve WebAssembly memory
 * unless node runs with --disable-wasm-trap-handler; bin/loaa.js restarts itself with it, so the
 * wasm decoders work. The restart must keep what a caller sees: output, exit status, SIGTERM.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, fixture } from '../helpers.js';
import { adapterDir, backbonePath, caseNamed } from '../models/model_cases.js';

const AS = `--as=${4 * 1024 ** 3}`;
const loaa = join(repoRoot, 'bin', 'loaa.js');
const ready = spawnSync('sh', ['-c', 'command -v prlimit']).status === 0;
const skip = ready ? false : 'needs prlimit (util-linux)';

test('loaa under a 4 GB address-space limit: the wasm decoders give the same features; errors keep their exit status', {
  skip,
  timeout: 120_000,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-wasm-limit-'));
  try {
    for (const f of ['tone.flac', 'tone.ogg', 'tone.mp3']) {
      const src = fixture('audio', 'formats', f);
      const free = spawnSync(process.execPath, [loaa, 'features', src, '--out', join(dir, `free-${f}.safetensors`)], { encoding: 'utf8' });
      assert.equal(free.status, 0, free.stderr);
      const limited = spawnSync(
        'prlimit',
        [AS, '--', process.execPath, loaa, 'features', src, '--out', join(dir, `limited-${f}.safetensors`)],
        { encoding: 'utf8' },
      );
      assert.equal(limited.status, 0, `${f} under the limit: ${limited.stderr}`);
      assert.deepEqual(readFileSync(join(dir, `limited-${f}.safetensors`)), readFileSync(join(dir, `free-${f}.safetensors`)), f);
    }
    const missing = join(dir, 'missing.flac');
    const free = spawnSync(process.execPath, [loaa, 'features', missing, '--out', join(dir, 'x.safetensors')], { encoding: 'utf8' });
    const limited = spawnSync('prlimit', [AS, '--', process.execPath, loaa, 'features', missing, '--out', join(dir, 'x.safetensors')], {
      encoding: 'utf8',
    });
    assert.notEqual(free.status, 0);
    assert.equal(limited.status, free.status, 'the same exit status through the restart');
    assert.ok(limited.stderr.includes(missing), limited.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loaa serve under the limit: SIGTERM to the loaa process drains the server and exits 0', { skip, timeout: 120_000 }, async () => {
  const C = caseNamed('loaa_attn_1x3_s10');
  // its own process group: when SIGTERM is not passed on, the restarted server outlives the first
  // process, and the group kill at the end still stops it (and the test then fails instead of hanging)
  const proc = spawn(
    'prlimit',
    [
      AS,
      '--',
      process.execPath,
      loaa,
      'serve',
      '--adapter',
      adapterDir(C)!,
      '--backbone',
      backbonePath(C.backbone),
      '--port',
      '0',
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  try {
    let stderr = '';
    proc.stderr!.on('data', (c) => (stderr += c));
    const first = await createInterface({ input: proc.stdout! })[Symbol.asyncIterator]().next();
    assert.ok(!first.done, `no startup line; stderr: ${stderr}`);
    const info = JSON.parse(first.value) as { url: string };
    assert.equal((await fetch(`${info.url}/healthz`)).status, 200);
    const exited = new Promise<[number | null, string | null]>((res) => proc.once('exit', (code, signal) => res([code, signal])));
    proc.kill('SIGTERM'); // prlimit execs node: this is the loaa process itself
    assert.deepEqual(await exited, [0, null], stderr);
    await assert.rejects(fetch(`${info.url}/healthz`), 'the server (the restarted child) is gone too');
  } finally {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* the group is gone: the passing case */
    }
    proc.stdout!.destroy();
    proc.stderr!.destroy();
  }
});
