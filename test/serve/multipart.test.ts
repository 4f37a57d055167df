/** POST /v1/classify with multipart/form-data (curl -F, HTML forms) and the 415 for forms it cannot take. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/serve/server.js';
import { decodeAudio } from '../../src/audio/decode.js';
import { toMono } from '../../src/audio/types.js';
import { parseMultipart } from '../../src/serve/multipart.js';
import { wavBytes } from '../data/wav_writer.js';
import { FakeBackend, scoresOf, topOf } from './fake_backend.js';

interface Reply {
  status: number;
  json: { error?: string } & Record<string, unknown>;
}

/** POST without keep-alive (agent: false), so the server closes at once and the test process can exit. */
function post(url: string, body: Buffer | string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A FormData as the bytes and content type a browser or curl sends for it. */
async function postForm(url: string, form: FormData): Promise<Reply> {
  const r = new Response(form);
  return post(url, Buffer.from(await r.arrayBuffer()), { 'content-type': r.headers.get('content-type')! });
}

const tone = (n: number) => Array.from({ length: n }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 16000));

async function withServer(fn: (url: string) => Promise<void>): Promise<void> {
  const h = await startServer(new FakeBackend(), { port: 0 });
  try {
    await fn(h.url);
  } finally {
    await h.close(1000);
  }
}

test('multipart/form-data: a file part (FormData, curl -F) classifies like the raw body; top_k and adapter as fields', {
  timeout: 120_000,
}, async () => {
  const wav = wavBytes(tone(4000));
  const samples = toMono(await decodeAudio(wav, 'x'));
  const want = topOf(scoresOf({ kind: 'audio', samples, sampleRate: 16000 }, 'default'), 2);
  const second = topOf(scoresOf({ kind: 'audio', samples, sampleRate: 16000 }, 'second'), 3);
  await withServer(async (url) => {
    const form = new FormData();
    form.append('file', new Blob([wav], { type: 'audio/wav' }), 'clip.wav');
    const r = await postForm(`${url}/v1/classify?top_k=2`, form);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json, { adapter: 'default', top: want });

    const withFields = new FormData();
    withFields.append('top_k', '3');
    withFields.append('adapter', 'second');
    withFields.append('upload', new Blob([wav]), 'any-name.wav'); // the only file part, whatever its name
    const f = await postForm(`${url}/v1/classify`, withFields);
    assert.deepEqual(f.json, { adapter: 'second', top: second });

    const dir = mkdtempSync(join(tmpdir(), 'loaa-curl-'));
    try {
      writeFileSync(join(dir, 'x.wav'), wav);
      // async: the server answers from this process's event loop
      const c = await new Promise<{ error?: Error; stdout: string; stderr: string }>((resolve) => {
        execFile(
          'curl',
          ['-sS', '--no-keepalive', '-F', `file=@${join(dir, 'x.wav')}`, `${url}/v1/classify?top_k=2`],
          { encoding: 'utf8', timeout: 30_000 },
          (error, stdout, stderr) => resolve({ error: error ?? undefined, stdout, stderr }),
        );
      });
      if ((c.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return; // no curl: FormData above sent the same bytes
      assert.equal(c.error, undefined, c.stderr);
      assert.deepEqual(JSON.parse(c.stdout), { adapter: 'default', top: want });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const noFile = new FormData();
    noFile.append('top_k', '2');
    const nf = await postForm(`${url}/v1/classify`, noFile);
    assert.equal(nf.status, 400);
    assert.match(nf.json.error!, /^body: multipart\/form-data needs one file part \(named "file"\), got "top_k"/);

    const notAudio = new FormData();
    notAudio.append('file', new Blob(['hello']), 'notes.txt');
    const na = await postForm(`${url}/v1/classify`, notAudio);
    assert.equal(na.status, 400);
    assert.match(na.json.error!, /^notes\.txt: /, 'the error names the uploaded file');
  });
});

test('a url-encoded form (curl -d @clip.wav) is 415 naming the accepted forms', async () => {
  await withServer(async (url) => {
    const r = await post(`${url}/v1/classify`, 'file=clip.wav', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 415);
    const e = r.json.error!;
    assert.match(e, /^content-type: application\/x-www-form-urlencoded is not accepted \(curl -d mangles binary files\)/);
    assert.match(e, /multipart\/form-data/);
    assert.match(e, /application\/json/);
    const text = await post(`${url}/v1/classify`, 'nope', { 'content-type': 'text/plain' });
    assert.equal(text.status, 400, "any other type is tried as audio: 400 with the decoder's reason");
  });
});

test('parseMultipart: quoted boundary, CRLF bodies kept byte for byte, broken bodies are 400', () => {
  const b = 'XyZ';
  const payload = Buffer.from([0, 13, 10, 45, 45, 255]); // a CR LF "--" inside the data must survive
  const body = Buffer.concat([
    Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
    payload,
    Buffer.from(`\r\n--${b}--\r\n`),
  ]);
  const parts = parseMultipart(body, b);
  assert.equal(parts.length, 1);
  assert.equal(parts[0]!.filename, 'a.wav');
  assert.equal(parts[0]!.contentType, 'audio/wav');
  assert.deepEqual([...parts[0]!.data], [...payload]);
  assert.throws(() => parseMultipart(body.subarray(0, body.length - 12), b), /is not closed by the boundary/);
  assert.throws(() => parseMultipart(Buffer.from('no boundary here'), b), /without its boundary line/);
});
