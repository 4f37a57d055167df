/**
 * The server under load, in a child process (its memory and signals are its own): concurrency 1, 8
 * and 32 with 10% malformed requests, RSS over many requests, and SIGTERM in the middle of load.
 * LOAA_SERVE_LOAD_REQUESTS sets the RSS run's length (default 10,000, the number).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runLoad, type LoadRequest } from '../../src/bench/loadgen.js';
import { wavBytes } from '../data/wav_writer.js';

const entry = fileURLToPath(new URL('./fake_server.js', import.meta.url));

interface Child {
  proc: ChildProcess;
  url: string;
  lines: AsyncIterator<string>;
}

async function spawnServer(args: string[], nodeFlags: string[] = []): Promise<Child> {
  const proc = spawn(process.execPath, ['--expose-gc', ...nodeFlags, entry, ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('the server child exited before printing its URL');
  return { proc, url: first.value, lines };
}

async function stop(c: Child): Promise<{ answered: number; ok: number }> {
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  const last = await c.lines.next();
  await exited;
  return JSON.parse(last.value as string);
}

const GOOD = Array.from({ length: 8 }, (_, k) =>
  wavBytes(Array.from({ length: 1600 + 97 * k }, (_, i) => 0.3 * Math.sin(i * (0.05 + 0.01 * k)))),
);
const BAD = [Buffer.from('not audio'), GOOD[0].subarray(0, 40), Buffer.from('RIFF\x00\x00\x00\x00WAVEjunk', 'latin1')];

/** Every tenth request is malformed. */
function mixed(i: number): LoadRequest {
  const bad = i % 10 === 9;
  return {
    path: '/v1/classify?top_k=2',
    body: bad ? BAD[i % BAD.length] : GOOD[i % GOOD.length],
    headers: { 'content-type': 'audio/wav' },
  };
}

/** The server's memory after a full garbage collection (see fake_server.ts). */
function memory(c: Child): Promise<NodeJS.MemoryUsage> {
  return new Promise((resolve) => {
    c.proc.once('message', (m) => resolve(m as NodeJS.MemoryUsage));
    c.proc.send('memory');
  });
}

test('load at concurrency 1, 8 and 32 with 10% malformed: no crash, every malformed one is 400', async () => {
  const c = await spawnServer(['0', '8', '256']);
  try {
    for (const concurrency of [1, 8, 32]) {
      const total = 400;
      const r = await runLoad({ url: c.url, concurrency, total, make: mixed });
      r.outcomes.forEach((code, i) => {
        assert.equal(code, i % 10 === 9 ? 400 : 200, `request ${i} at concurrency ${concurrency}`);
      });
      console.log(
        `concurrency ${concurrency}: ${total} requests, ${r.throughput.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`,
      );
    }
    assert.equal(c.proc.exitCode, null, 'the server is still running');
  } finally {
    const done = await stop(c);
    assert.equal(done.answered, 1200);
  }
});

// V8 grows its young generation in steps when the survival rate is high (measured here: heapTotal
// 10 -> 14 MiB somewhere between request 2,500 and 7,500, heapUsed flat at 5 MiB), and where that
// step lands depends on the machine's load: it moved RSS by 12% with nothing leaking. The young
// generation is pinned to its full size for this test, so RSS measures what the server holds.
const PINNED_YOUNG_GENERATION = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

test('RSS stays flat (within 10%) over 10,000 requests; what the heap retains too', async () => {
  const n = Number(process.env.LOAA_SERVE_LOAD_REQUESTS ?? 10000);
  const c = await spawnServer(['0', '8', '256'], PINNED_YOUNG_GENERATION);
  try {
    await runLoad({ url: c.url, concurrency: 8, total: 2000, make: mixed }); // warm up: JIT, pools, buffers
    const before = await memory(c);
    const r = await runLoad({ url: c.url, concurrency: 8, total: n, make: mixed });
    const after = await memory(c);
    assert.equal(r.codes['200'] + r.codes['400'], n);
    const mib = (x: number) => (x / 2 ** 20).toFixed(1);
    const retained = (m: NodeJS.MemoryUsage) => m.heapUsed + m.external;
    console.log(
      `RSS over ${n} requests: ${mib(before.rss)} MiB -> ${mib(after.rss)} MiB (${(((after.rss - before.rss) / before.rss) * 100).toFixed(1)}%); heap used + external ${mib(retained(before))} -> ${mib(retained(after))} MiB`,
    );
    assert.ok(after.rss <= before.rss * 1.1, `RSS grew from ${before.rss} to ${after.rss}`);
    // heap used + external is ~10 MiB and moves by a few MiB with the requests in flight when the
    // sample is taken (seen: 7.6 -> 9.9 MiB on a loaded machine); a leak of even 1 KiB a request
    // is 10 MiB here, so its growth is bounded by the same 10% of RSS.
    assert.ok(
      retained(after) - retained(before) <= 0.1 * before.rss,
      `retained memory grew from ${retained(before)} to ${retained(after)}`,
    );
  } finally {
    await stop(c);
  }
});

test('SIGTERM under load: every request the server received is answered 200; the rest are refused, not half-served', async () => {
  const c = await spawnServer(['20', '4', '1000']);
  const load = runLoad({ url: c.url, concurrency: 16, total: 400, make: (i) => ({ ...mixed(i * 10), body: GOOD[i % GOOD.length] }) });
  await new Promise((r) => setTimeout(r, 300));
  const done = await stop(c);
  const r = await load;
  const ok = r.codes['200'] ?? 0;
  assert.ok(ok > 0 && ok < 400, `the signal should land mid-load (${ok} answered)`);
  assert.equal(done.ok, ok, 'every request the server counted as answered reached the client');
  assert.equal(done.answered, ok, 'nothing but 200s');
  for (const [code, n] of Object.entries(r.codes)) {
    if (code !== '200') assert.match(code, /^error:(ECONNREFUSED|ECONNRESET|socket hang up|EPIPE)$/, `${n} x ${code}`);
  }
});
