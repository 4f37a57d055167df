/**
 * The downloader through a proxy (issue 24): HTTPS_PROXY tunnels https with CONNECT (TLS end to end,
 * checked against the test's own CA through NODE_EXTRA_CA_CERTS in a child process), HTTP_PROXY
 * forwards http in absolute form, NO_PROXY bypasses both. The proxy is a loopback server written here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loopbackCert, repoRoot } from '../helpers.js';
import { downloadFile } from '../../src/models/download.js';
import { noProxy, proxyFor } from '../../src/models/proxy.js';

const BODY = Buffer.from('weights '.repeat(4096));

interface Proxy {
  url: string;
  seen: string[];
  close: () => Promise<void>;
}

/** A minimal forward proxy: CONNECT tunnels and absolute-form GETs, each logged as "METHOD target". */
async function startProxy(): Promise<Proxy> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const up = http.request(req.url!, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.on('connect', (req: http.IncomingMessage, client, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(':');
    const up = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
    client.on('close', () => up.destroy());
  });
  // tunnels leave the HTTP server's bookkeeping: every socket is tracked so close() ends them all
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const keys = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  for (const k of keys) delete process.env[k];
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

test('NO_PROXY and the proxy variables: which URL goes where', () => {
  const env = {
    HTTPS_PROXY: 'proxy.corp:3128',
    http_proxy: 'http://u:p@proxy.corp:8080',
    NO_PROXY: 'localhost, .internal.org,mirror.example:8443,10.0.0.7',
  };
  assert.equal(proxyFor(new URL('https://huggingface.co/x'), env)?.href, 'http://proxy.corp:3128/');
  assert.equal(proxyFor(new URL('http://example.com/x'), env)?.host, 'proxy.corp:8080');
  for (const u of [
    'https://localhost/x',
    'https://a.internal.org/x',
    'https://internal.org/x',
    'https://mirror.example:8443/x',
    'http://10.0.0.7/x',
  ]) {
    assert.equal(noProxy(new URL(u), env), true, u);
    assert.equal(proxyFor(new URL(u), env), null, u);
  }
  for (const u of ['https://mirror.example/x', 'https://notinternal.org/x', 'https://10.0.0.70/x'])
    assert.equal(noProxy(new URL(u), env), false, u);
  assert.equal(noProxy(new URL('https://anything/x'), { NO_PROXY: '*' }), true);
  assert.equal(proxyFor(new URL('https://hub/x'), {}), null);
  assert.throws(
    () => proxyFor(new URL('https://hub/x'), { HTTPS_PROXY: 'socks5://p:1080' }),
    /^Error: HTTPS_PROXY: socks5:\/\/ proxies are not supported/,
  );
});

test('HTTP_PROXY: an http download goes through the proxy in absolute form; NO_PROXY bypasses it', { timeout: 60_000 }, async () => {
  const target = http.createServer((_, res) => res.writeHead(200, { 'content-length': BODY.length }).end(BODY));
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/model.bin`;
  const proxy = await startProxy();
  const dir = mkdtempSync(join(tmpdir(), 'loaa-proxy-'));
  try {
    await withEnv({ HTTP_PROXY: proxy.url }, () => downloadFile(url, join(dir, 'a.bin'), { offlineHint: 'x' }));
    assert.deepEqual(readFileSync(join(dir, 'a.bin')), BODY);
    assert.deepEqual(proxy.seen, [`GET ${url}`]);
    await withEnv({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }, () => downloadFile(url, join(dir, 'b.bin'), { offlineHint: 'x' }));
    assert.deepEqual(readFileSync(join(dir, 'b.bin')), BODY);
    assert.equal(proxy.seen.length, 1, 'NO_PROXY: the second download went direct');
  } finally {
    await proxy.close();
    target.closeAllConnections();
    target.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HTTPS_PROXY: an https download is a CONNECT tunnel with TLS verified end to end', { timeout: 120_000 }, async (t) => {
  const tls = loopbackCert();
  if ('error' in tls) {
    t.skip(`SKIPPED: ${tls.error}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'loaa-proxy-tls-'));
  const cert = tls.certPath;
  const target = https.createServer({ key: tls.key, cert: tls.cert }, (_, res) =>
    res.writeHead(200, { 'content-length': BODY.length }).end(BODY),
  );
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(target.address() as AddressInfo).port}/model.bin`;
  const proxy = await startProxy();
  // a child: NODE_EXTRA_CA_CERTS is read once at start-up, and this process must not trust the test CA
  const script = join(dir, 'pull.mjs');
  writeFileSync(
    script,
    `const { downloadFile } = await import(${JSON.stringify(join(repoRoot, 'dist', 'src', 'models', 'download.js'))});
const r = await downloadFile(process.argv[2], process.argv[3], { offlineHint: 'x', retries: 0 });
console.log(JSON.stringify({ bytes: r.bytes }));`,
  );
  const run = (out: string, env: Record<string, string>) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      // async spawn: the proxy and the target run in this process's event loop
      import('node:child_process').then(({ execFile }) => {
        const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/_proxy$/i.test(k)));
        execFile(process.execPath, [script, url, join(dir, out)], { env: { ...base, ...env } }, (err, stdout, stderr) =>
          resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        );
      });
    });
  try {
    const ok = await run('a.bin', { HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: cert });
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(readFileSync(join(dir, 'a.bin')), BODY);
    assert.deepEqual(proxy.seen, [`CONNECT 127.0.0.1:${new URL(url).port}`], 'the proxy saw only the tunnel');
    // without the CA the tunnel still carries TLS, which refuses the unknown certificate
    const untrusted = await run('b.bin', { HTTPS_PROXY: proxy.url });
    assert.notEqual(untrusted.status, 0);
    assert.match(untrusted.stderr, /self[- ]signed|certificate/i);
    const direct = await run('c.bin', { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1', NODE_EXTRA_CA_CERTS: cert });
    assert.equal(direct.status, 0, direct.stderr);
    assert.equal(proxy.seen.length, 2, 'NO_PROXY: the last download went direct');
  } finally {
    await proxy.close();
    target.closeAllConnections();
    target.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
