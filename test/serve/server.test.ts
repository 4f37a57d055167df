import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startServer, type ServeOptions } from '../../src/serve/server.js';
import { decodeAudio } from '../../src/audio/decode.js';
import { toMono } from '../../src/audio/types.js';
import { wavBytes } from '../data/wav_writer.js';
import { FakeBackend, scoresOf, topOf } from './fake_backend.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the reply body's fields it expects; assert checks them
  json: () => any;
}

function call(url: string, method: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function tone(n: number, f = 440, rate = 16000): number[] {
  return Array.from({ length: n }, (_, i) => 0.5 * Math.sin((2 * Math.PI * f * i) / rate));
}

async function withServer(
  backend: FakeBackend,
  opts: ServeOptions,
  fn: (url: string, h: Awaited<ReturnType<typeof startServer>>) => Promise<void>,
): Promise<void> {
  const h = await startServer(backend, { port: 0, ...opts });
  try {
    await fn(h.url, h);
  } finally {
    await h.close(1000);
  }
}

test('binds 127.0.0.1 by default; healthz, adapters, metrics, 404 and 405', async () => {
  await withServer(new FakeBackend(), {}, async (url) => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const hz = await call(`${url}/healthz`, 'GET');
    assert.equal(hz.status, 200);
    assert.deepEqual(hz.json(), { status: 'ok' });
    assert.deepEqual((await call(`${url}/v1/adapters`, 'GET')).json(), { adapters: ['default', 'second'], default: 'default' });
    const nf = await call(`${url}/nope`, 'GET');
    assert.equal(nf.status, 404);
    assert.match(nf.json().error, /^\/nope: no such endpoint/);
    const m = await call(`${url}/v1/classify`, 'GET');
    assert.equal(m.status, 405);
    assert.equal(m.headers.allow, 'POST');
    const metrics = await call(`${url}/metrics`, 'GET');
    assert.equal(metrics.status, 200);
    assert.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(metrics.text, /^loaa_http_requests_total\{route="\/healthz",code="200"\} 1$/m);
    assert.match(metrics.text, /^loaa_http_requests_total\{route="other",code="404"\} 1$/m);
    assert.match(metrics.text, /^# TYPE loaa_classify_duration_seconds histogram$/m);
    assert.match(metrics.text, /^process_resident_memory_bytes \d+$/m);
  });
});

test('classify: raw WAV body and base64 JSON give the same answer; top_k and adapter from query or body', async () => {
  const wav = wavBytes(tone(4000));
  const audio = await decodeAudio(wav, 'x');
  const want = topOf(scoresOf({ kind: 'audio', samples: toMono(audio), sampleRate: 16000 }, 'default'), 2);
  const wantSecond = topOf(scoresOf({ kind: 'audio', samples: toMono(audio), sampleRate: 16000 }, 'second'), 3);
  assert.notDeepEqual(want, wantSecond.slice(0, 2), 'the two adapters must differ for this test to mean anything');
  await withServer(new FakeBackend(), {}, async (url) => {
    const raw = await call(`${url}/v1/classify?top_k=2`, 'POST', wav, { 'content-type': 'audio/wav' });
    assert.equal(raw.status, 200, raw.text);
    assert.deepEqual(raw.json(), { adapter: 'default', top: want });
    const b64 = await call(`${url}/v1/classify`, 'POST', JSON.stringify({ audio: wav.toString('base64'), top_k: 2 }), {
      'content-type': 'application/json',
    });
    assert.deepEqual(b64.json(), { adapter: 'default', top: want });
    const second = await call(`${url}/v1/classify?adapter=second`, 'POST', wav);
    assert.deepEqual(second.json(), { adapter: 'second', top: wantSecond });
    const viaBody = await call(
      `${url}/v1/classify`,
      'POST',
      JSON.stringify({ audio: wav.toString('base64'), adapter: 'second', top_k: 3 }),
      { 'content-type': 'application/json' },
    );
    assert.deepEqual(viaBody.json(), { adapter: 'second', top: wantSecond });
  });
});

test('classify: features as rows or flat with a shape; a shape the model cannot take is 400 with its message', async () => {
  const rows = [
    [0.1, 0.2, 0.3],
    [0.4, 0.5, 0.6],
    [0.7, 0.8, 0.9],
    [1, 1.1, 1.2],
  ];
  const want = topOf(scoresOf({ kind: 'features', data: new Float32Array(rows.flat()), shape: [4, 3] }, 'default'), 5);
  await withServer(new FakeBackend(), {}, async (url) => {
    const j = { 'content-type': 'application/json' };
    const a = await call(`${url}/v1/classify`, 'POST', JSON.stringify({ features: rows }), j);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json().top, want);
    const b = await call(`${url}/v1/classify`, 'POST', JSON.stringify({ features: rows.flat(), shape: [4, 3] }), j);
    assert.deepEqual(b.json().top, want);
    const bad = await call(
      `${url}/v1/classify`,
      'POST',
      JSON.stringify({
        features: [
          [1, 2],
          [3, 4],
        ],
      }),
      j,
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.json().error, 'features: shape [2, 2], the model takes [4, 3]');
    const ragged = await call(`${url}/v1/classify`, 'POST', JSON.stringify({ features: [[1, 2], [3]] }), j);
    assert.equal(ragged.status, 400);
    assert.match(ragged.json().error, /^features\[1\]: expected a row of 2 numbers/);
    const shape = await call(`${url}/v1/classify`, 'POST', JSON.stringify({ features: [1, 2, 3], shape: [2, 2] }), j);
    assert.match(shape.json().error, /^shape: \[2, 2\] holds 4 values, features has 3/);
  });
});

test('malformed requests are 400 with the reason; unknown adapter 404; too large 413', async () => {
  const backend = new FakeBackend();
  await withServer(backend, { maxBodyBytes: 10_000 }, async (url) => {
    const cases: [Buffer | string, Record<string, string>, string, RegExp][] = [
      [Buffer.from('this is not audio at all'), {}, '', /^body: not an audio file/],
      [Buffer.alloc(0), {}, '', /^body: empty/],
      [wavBytes(tone(400)).subarray(0, 30), {}, '', /^body: /],
      ['{"audio": 12', { 'content-type': 'application/json' }, '', /^body: invalid JSON/],
      ['[1,2]', { 'content-type': 'application/json' }, '', /^body: expected a JSON object/],
      ['{"audio": "%%%"}', { 'content-type': 'application/json' }, '', /^audio: not base64/],
      ['{"nothing": 1}', { 'content-type': 'application/json' }, '', /^body: expected "audio"/],
      [wavBytes(tone(400)), {}, '?top_k=0', /^top_k: expected a positive integer/],
      [wavBytes(tone(400)), {}, '?top_k=abc', /^top_k: expected a positive integer/],
      [wavBytes(tone(50)), {}, '', /^audio: 50 samples is shorter/],
    ];
    for (const [body, headers, q, re] of cases) {
      const r = await call(`${url}/v1/classify${q}`, 'POST', body, headers);
      assert.equal(r.status, 400, `${re}: ${r.text}`);
      assert.match(r.json().error, re);
    }
    const na = await call(`${url}/v1/classify?adapter=zzz`, 'POST', wavBytes(tone(400)));
    assert.equal(na.status, 404);
    assert.equal(na.json().error, 'adapter: no adapter "zzz" (loaded: default, second)');
    const big = await call(`${url}/v1/classify`, 'POST', wavBytes(tone(6000)));
    assert.equal(big.status, 413);
    assert.match(big.json().error, /^body: \d+ bytes is over the 10000-byte limit/);
    // the server is still fine afterwards
    assert.equal((await call(`${url}/v1/classify`, 'POST', wavBytes(tone(400)))).status, 200);
  });
  // only the two well-formed-but-short/ok audio requests reached the model
  assert.equal(
    backend.batches.reduce((a, b) => a + b, 0),
    2,
  );
});

test('dynamic batching: concurrent requests share model calls of at most maxBatch', async () => {
  const backend = new FakeBackend(30);
  await withServer(backend, { maxBatch: 4, maxWaitMs: 20 }, async (url) => {
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => call(`${url}/v1/classify`, 'POST', wavBytes(tone(500 + i)))));
    assert.ok(replies.every((r) => r.status === 200));
    const wants = Array.from({ length: 12 }, (_, i) =>
      topOf(
        scoresOf(
          {
            kind: 'audio',
            samples: toMono({ sampleRate: 16000, channels: [new Float32Array(tone(500 + i).map((v) => Math.round(v * 32767) / 32767))] }),
            sampleRate: 16000,
          },
          'default',
        ),
        5,
      ).map((x) => x.label),
    );
    replies.forEach((r, i) => {
      assert.deepEqual(
        r.json().top.map((x: { label: string }) => x.label),
        wants[i],
      );
    });
    assert.ok(
      backend.batches.every((n) => n >= 1 && n <= 4),
      String(backend.batches),
    );
    assert.ok(backend.calls < 12, `12 requests took ${backend.calls} model calls`);
    const m = await call(`${url}/metrics`, 'GET');
    assert.match(m.text, new RegExp(`^loaa_batch_size_count ${backend.calls}$`, 'm'));
  });
});

test('bounded queue: overload is 503 with Retry-After, everything else is answered', async () => {
  const backend = new FakeBackend(40);
  await withServer(backend, { maxBatch: 1, maxQueue: 2, maxWaitMs: 0, retryAfterS: 3 }, async (url) => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => call(`${url}/v1/classify`, 'POST', wavBytes(tone(400)))));
    const codes = replies.map((r) => r.status);
    assert.ok(
      codes.every((c) => c === 200 || c === 503),
      String(codes),
    );
    const busy = replies.filter((r) => r.status === 503);
    assert.ok(busy.length > 0 && busy.length < 10, String(codes));
    for (const r of busy) {
      assert.equal(r.headers['retry-after'], '3');
      assert.match(r.json().error, /^server busy: queue full \(2 requests waiting\)/);
    }
    assert.equal(backend.calls, codes.filter((c) => c === 200).length);
  });
});

test('a request the model does not answer in time is 504', async () => {
  await withServer(new FakeBackend(400), { timeoutMs: 100 }, async (url) => {
    const r = await call(`${url}/v1/classify`, 'POST', wavBytes(tone(400)));
    assert.equal(r.status, 504);
    assert.match(r.json().error, /^request: not answered within 100 ms/);
  });
});

test('close(): requests already received are answered, new connections are refused', async () => {
  const backend = new FakeBackend(50);
  const h = await startServer(backend, { port: 0, maxBatch: 2 });
  const pending = Array.from({ length: 8 }, () => call(`${h.url}/v1/classify`, 'POST', wavBytes(tone(400))));
  // every request received by the server (a connection with no request yet is not accepted work)
  while (h.inFlight() < 8) await new Promise((r) => setTimeout(r, 5));
  const closed = h.close();
  const replies = await Promise.all(pending);
  assert.deepEqual(
    replies.map((r) => r.status),
    new Array(8).fill(200),
  );
  await closed;
  await assert.rejects(call(`${h.url}/healthz`, 'GET'), /ECONNREFUSED/);
});
