/**
 * The server under load, in a child process (its memory and signals are its own): concurrency 1, 8
 * and 32 with 10% malformed requests, RSS over many requests, and SIGTERM in the middle of load.
 * LOAA_SERVE_LOAD_REQUESTS sets the RSS run's length (default 2000; the 10,000 is run by hand).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { runLoad, type LoadRequest } from '../../src/serve/loadgen.js';
import { wavBytes } from '../data/wav_writer.js';

const entry = fileURLToPath(new URL('./fake_server.js', import.meta.url));

interface Child {
  proc: ChildProcess;
  url: string;
  lines: AsyncIterator<string>;
}

async function spawnServer(args: string[]): Promise<Child> {
  const proc = spawn(process.execPath, [entry, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
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

const GOOD = Array.from({ length: 8 }, (_, k) => wavBytes(Array.from({ length: 1600 + 97 * k }, (_, i) => 0.3 * Math.sin(i * (0.05 + 0.01 * k)))));
const BAD = [Buffer.from('not audio'), GOOD[0].subarray(0, 40), Buffer.from('RIFF\x00\x00\x00\x00WAVEjunk', 'latin1')];

/** Every tenth request is malformed. */
function mixed(i: number): LoadRequest {
  const bad = i % 10 === 9;
  return { path: '/v1/classify?top_k=2', body: bad ? BAD[i % BAD.length] : GOOD[i % GOOD.length], headers: { 'content-type': 'audio/wav' } };
}

function rss(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(`${url}/metrics`, { agent: false }, (res) => {
      let t = '';
      res.on('data', (c) => (t += c));
      res.on('end', () => resolve(Number(/^process_resident_memory_bytes (\d+)$/m.exec(t)![1])));
    }).on('error', reject).end();
  });
}

test('load at concurrency 1, 8 and 32 with 10% malformed: no crash, every malformed one is 400', async () => {
  const c = await spawnServer(['0', '8', '256']);
  try {
    for (const concurrency of [1, 8, 32]) {
      const total = 400;
      const r = await runLoad({ url: c.url, concurrency, total, make: mixed });
      r.outcomes.forEach((code, i) => assert.equal(code, i % 10 === 9 ? 400 : 200, `request ${i} at concurrency ${concurrency}`));
      console.log(`concurrency ${concurrency}: ${total} requests, ${r.throughput.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`);
    }
    assert.equal(c.proc.exitCode, null, 'the server is still running');
  } finally {
    const done = await stop(c);
    assert.equal(done.answered, 1200);
  }
});

test('RSS stays flat (within 10%) over many requests', async () => {
  const n = Number(process.env.LOAA_SERVE_LOAD_REQUESTS ?? 2000);
  const c = await spawnServer(['0', '8', '256']);
  try {
    await runLoad({ url: c.url, concurrency: 8, total: 1000, make: mixed }); // warm up: JIT, pools, buffers
    const before = await rss(c.url);
    const r = await runLoad({ url: c.url, concurrency: 8, total: n, make: mixed });
    const after = await rss(c.url);
    assert.equal(r.codes['200'] + r.codes['400'], n);
    console.log(`RSS over ${n} requests: ${(before / 2 ** 20).toFixed(1)} MiB -> ${(after / 2 ** 20).toFixed(1)} MiB (${(((after - before) / before) * 100).toFixed(1)}%)`);
    assert.ok(after <= before * 1.1, `RSS grew from ${before} to ${after}`);
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
