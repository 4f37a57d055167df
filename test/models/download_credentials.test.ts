/**
 * The token (HF_TOKEN's Authorization header) never leaves the origin it was given for (issue #25):
 * against loopback TLS servers with a self-signed certificate made here, a redirect from https to
 * plain http on the same host and port (a server that speaks both on one port) is refused before
 * any request; a redirect to another port or host is followed without the token; a same-origin
 * redirect keeps it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { createServer as netServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopbackCert } from '../helpers.js';
import { downloadFile, redirectHeaders } from '../../src/models/download.js';

const made = loopbackCert();
const tls = 'error' in made ? null : made;
const skip = 'error' in made ? made.error : false;

interface Seen {
  scheme: string;
  path: string;
  auth: string | undefined;
}

/** One port speaking TLS and plain HTTP (sniffing the first byte), with `handle` behind both. */
async function dualServer(
  handle: (scheme: string, req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const wrap = (scheme: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push({ scheme, path: req.url ?? '', auth: req.headers.authorization });
    handle(scheme, req, res);
  };
  const plain = http.createServer(wrap('http'));
  const secure = https.createServer({ key: tls!.key, cert: tls!.cert }, wrap('https'));
  const front = netServer((sock) => {
    sock.once('data', (b) => {
      sock.pause();
      sock.unshift(b);
      (b[0] === 0x16 ? secure : plain).emit('connection', sock);
      process.nextTick(() => sock.resume());
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
  after(() => {
    front.close();
    plain.close();
    secure.close();
  });
  return { port: (front.address() as AddressInfo).port, seen };
}

const body = Buffer.from('weights');
const opts = { headers: { authorization: 'Bearer secret-token' }, retries: 0, offlineHint: '' };

test('https -> http on the same host and port with a token: refused before any plain request, the token never sent in clear', {
  skip,
}, async () => {
  https.globalAgent.options.ca = tls!.cert;
  const s = await dualServer((scheme, req, res) => {
    if (scheme === 'https') {
      res.writeHead(302, { location: `http://127.0.0.1:${req.socket.localPort}/file` }).end();
    } else {
      res.end(body);
    }
  });
  const dir = mkdtempSync(join(tmpdir(), 'loaa-dl-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(
    downloadFile(`https://127.0.0.1:${s.port}/resolve`, join(dir, 'w.bin'), opts),
    /refusing the redirect to http:\/\/127\.0\.0\.1:\d+\/file: it leaves https for http while a token \(HF_TOKEN\) is set/,
  );
  assert.deepEqual(
    s.seen.map((x) => x.scheme),
    ['https'],
  );
  assert.ok(s.seen.every((x) => x.scheme === 'https' || x.auth === undefined));
});

test('a redirect to another port of the same host drops the token; a same-origin redirect keeps it', { skip }, async () => {
  https.globalAgent.options.ca = tls!.cert;
  const cdn = await dualServer((_s, _req, res) => res.end(body));
  const hub = await dualServer((_s, req, res) => {
    if (req.url === '/resolve') res.writeHead(302, { location: '/again' }).end();
    else res.writeHead(302, { location: `https://127.0.0.1:${cdn.port}/blob` }).end();
  });
  const dir = mkdtempSync(join(tmpdir(), 'loaa-dl-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await downloadFile(`https://127.0.0.1:${hub.port}/resolve`, join(dir, 'w.bin'), opts);
  assert.equal(readFileSync(r.path, 'utf8'), 'weights');
  assert.deepEqual(
    hub.seen.map((x) => [x.path, x.auth]),
    [
      ['/resolve', 'Bearer secret-token'],
      ['/again', 'Bearer secret-token'],
    ],
  );
  assert.deepEqual(
    cdn.seen.map((x) => [x.path, x.auth]),
    [['/blob', undefined]],
  );
});

test('redirectHeaders: scheme, host and port changes drop Authorization (any case) and cookies; without a token anything goes', () => {
  const h = { Authorization: 'Bearer t', Cookie: 'c', accept: '*/*' };
  const u = (s: string) => new URL(s);
  assert.deepEqual(redirectHeaders(u('https://hub/a'), u('https://hub/b'), h), h);
  assert.deepEqual(redirectHeaders(u('https://hub/a'), u('https://cdn/b'), h), { accept: '*/*' });
  assert.deepEqual(redirectHeaders(u('https://hub/a'), u('https://hub:8443/b'), h), { accept: '*/*' });
  assert.deepEqual(redirectHeaders(u('http://hub/a'), u('https://hub/b'), h), { accept: '*/*' });
  assert.throws(
    () => redirectHeaders(u('https://hub/a'), u('http://hub/b'), h),
    /https:\/\/hub\/a: refusing the redirect to http:\/\/hub\/b/,
  );
  assert.deepEqual(redirectHeaders(u('https://hub/a'), u('http://hub/b'), { accept: '*/*' }), { accept: '*/*' });
});
