import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { backbonePath, hubUrl, pullBackbone, type PullProgress } from '../../src/models/pull.js';
import { command } from '../../src/cli/commands/pull.js';
import { UsageError } from '../../src/cli/command.js';
import { captureOutput, tempDir } from '../helpers.js';

const ARCH = 'deit_tiny_patch16_224';
const FILE_PATH = '/timm/deit_tiny_patch16_224.fb_in1k/resolve/main/model.safetensors';
const CONTENT = randomBytes(300_000);
const SHA = createHash('sha256').update(CONTENT).digest('hex');

interface Seen {
  url: string;
  range?: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

async function serve(handler: Handler): Promise<{ endpoint: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', range: req.headers.range });
    handler(req, res, seen.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The hub's shape: the resolve URL redirects to a CDN path, announcing sha256 and size on the redirect. */
function hub(cdn: (req: IncomingMessage, res: ServerResponse) => void, sha = SHA): Handler {
  return (req, res) => {
    if (req.url === FILE_PATH) {
      res.writeHead(302, { location: '/cdn/blob', 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(CONTENT.length) });
      res.end();
    } else if (req.url === '/cdn/blob') {
      cdn(req, res);
    } else {
      res.writeHead(404).end('not found');
    }
  };
}

/** Honour Range the way a CDN does. */
function ranged(req: IncomingMessage, res: ServerResponse, body: Buffer = CONTENT): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m) {
    const from = Number(m[1]);
    res.writeHead(206, {
      'content-range': `bytes ${from}-${body.length - 1}/${body.length}`,
      'content-length': String(body.length - from),
    });
    res.end(body.subarray(from));
  } else {
    res.writeHead(200, { 'content-length': String(body.length), etag: '"not-a-sha"' });
    res.end(body);
  }
}

/** Send the headers for the whole file and `upTo` bytes, then drop the connection. */
function dropAfter(res: ServerResponse, upTo: number): void {
  res.writeHead(200, { 'content-length': String(CONTENT.length) });
  res.write(CONTENT.subarray(0, upTo), () => setTimeout(() => res.socket?.destroy(), 50));
}

test('hubUrl and backbonePath', () => {
  assert.equal(hubUrl(ARCH, 'https://mirror.example/'), `https://mirror.example${FILE_PATH}`);
  assert.equal(hubUrl(ARCH, undefined, { HF_ENDPOINT: 'http://h' }), `http://h${FILE_PATH}`);
  assert.equal(hubUrl(ARCH, undefined, {}), `https://huggingface.co${FILE_PATH}`);
  assert.equal(backbonePath(ARCH, '/x'), `/x/${ARCH}/model.safetensors`);
  assert.throws(() => hubUrl('nope'), /nope: unknown architecture/);
});

test('full download through a redirect, verified against X-Linked-Etag; then skipped; --force downloads again', async () => {
  const s = await serve(hub(ranged));
  const home = tempDir('pull');
  try {
    const progress: PullProgress[] = [];
    const r = await pullBackbone(ARCH, { endpoint: s.endpoint, home, onProgress: (p) => progress.push(p) });
    assert.equal(r.path, join(home, ARCH, 'model.safetensors'));
    assert.ok(readFileSync(r.path).equals(CONTENT));
    assert.equal(r.sha256, SHA);
    assert.equal(r.verified, 'sha256');
    assert.equal(r.bytes, CONTENT.length);
    assert.equal(r.skipped, false);
    assert.ok(!existsSync(`${r.path}.part`));
    assert.equal(progress.at(-1)!.received, CONTENT.length);
    assert.equal(progress.at(-1)!.total, CONTENT.length);
    const again = await pullBackbone(ARCH, { endpoint: s.endpoint, home });
    assert.equal(again.skipped, true);
    const n = s.seen.length;
    const forced = await pullBackbone(ARCH, { endpoint: s.endpoint, home, force: true });
    assert.equal(forced.skipped, false);
    assert.ok(s.seen.length > n);
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('a dropped connection is resumed with a Range request in the same run', async () => {
  let cdnCalls = 0;
  const s = await serve(
    hub((req, res) => {
      if (++cdnCalls === 1) dropAfter(res, 100_000);
      else ranged(req, res);
    }),
  );
  const home = tempDir('pull');
  try {
    const r = await pullBackbone(ARCH, { endpoint: s.endpoint, home, retryDelayMs: 10 });
    assert.ok(readFileSync(r.path).equals(CONTENT));
    assert.equal(r.verified, 'sha256');
    const ranges = s.seen.filter((x) => x.url === '/cdn/blob').map((x) => x.range);
    assert.equal(ranges[0], undefined);
    assert.match(ranges[1] ?? '', /^bytes=\d+-$/);
    assert.ok(Number(/\d+/.exec(ranges[1]!)![0]) > 0);
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('an interrupted run keeps the .part file; the next run resumes it', async () => {
  let drop = true;
  const s = await serve(hub((req, res) => (drop ? dropAfter(res, 120_000) : ranged(req, res))));
  const home = tempDir('pull');
  try {
    await assert.rejects(pullBackbone(ARCH, { endpoint: s.endpoint, home, retries: 0 }), (e: Error) => {
      assert.match(e.message, /connection dropped after \d+ bytes.*run the command again to resume/);
      assert.ok(e.message.startsWith(`${s.endpoint}${FILE_PATH}`));
      return true;
    });
    const part = join(home, ARCH, 'model.safetensors.part');
    const partial = statSync(part).size;
    assert.ok(partial > 0 && partial < CONTENT.length);
    drop = false;
    const r = await pullBackbone(ARCH, { endpoint: s.endpoint, home });
    assert.equal(r.resumed, true);
    assert.ok(readFileSync(r.path).equals(CONTENT));
    assert.equal(s.seen.at(-1)!.range, `bytes=${partial}-`);
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('a server that ignores Range (200) restarts the file from zero', async () => {
  const s = await serve(
    hub((_req, res) => {
      res.writeHead(200, { 'content-length': String(CONTENT.length) });
      res.end(CONTENT);
    }),
  );
  const home = tempDir('pull');
  try {
    mkdirSync(join(home, ARCH), { recursive: true });
    writeFileSync(join(home, ARCH, 'model.safetensors.part'), Buffer.alloc(5000, 7)); // stale, wrong bytes
    const r = await pullBackbone(ARCH, { endpoint: s.endpoint, home });
    assert.ok(readFileSync(r.path).equals(CONTENT));
    assert.equal(s.seen.at(-1)!.range, 'bytes=5000-');
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('a mirror answering directly is verified against its sha256 ETag', async () => {
  const s = await serve((req, res) => {
    if (req.url !== FILE_PATH) return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': String(CONTENT.length), etag: `"${SHA}"` });
    res.end(CONTENT);
  });
  const home = tempDir('pull');
  try {
    const r = await pullBackbone(ARCH, { endpoint: `${s.endpoint}/`, home });
    assert.equal(r.verified, 'sha256');
    assert.ok(readFileSync(r.path).equals(CONTENT));
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('a corrupted download (sha256 mismatch) is an error and the file is not kept', async () => {
  const bad = Buffer.from(CONTENT);
  bad[1234] ^= 1;
  const s = await serve(hub((req, res) => ranged(req, res, bad)));
  const home = tempDir('pull');
  try {
    await assert.rejects(
      pullBackbone(ARCH, { endpoint: s.endpoint, home }),
      /sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}; the download was discarded/,
    );
    assert.ok(!existsSync(join(home, ARCH, 'model.safetensors')));
    assert.ok(!existsSync(join(home, ARCH, 'model.safetensors.part')));
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('without a sha256, a size different from the announced one is an error', async () => {
  const s = await serve((req, res) => {
    if (req.url === FILE_PATH) {
      res.writeHead(302, { location: '/cdn/blob', 'x-linked-size': String(CONTENT.length + 10) });
      return res.end();
    }
    res.writeHead(200, { 'content-length': String(CONTENT.length) });
    res.end(CONTENT);
  });
  const home = tempDir('pull');
  try {
    await assert.rejects(pullBackbone(ARCH, { endpoint: s.endpoint, home }), /announced \d+; the download was discarded/);
    assert.ok(!existsSync(join(home, ARCH, 'model.safetensors')));
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('404 and connection refused are clear errors naming the URL', async () => {
  const s = await serve((_req, res) => res.writeHead(404).end());
  const home = tempDir('pull');
  try {
    await assert.rejects(pullBackbone(ARCH, { endpoint: s.endpoint, home }), (e: Error) => {
      assert.equal(
        e.message,
        `${s.endpoint}${FILE_PATH}: not found (HTTP 404): the endpoint does not serve timm/deit_tiny_patch16_224.fb_in1k/model.safetensors`,
      );
      return true;
    });
    const dead = s.endpoint;
    await s.close();
    await assert.rejects(pullBackbone(ARCH, { endpoint: dead, home }), (e: Error) => {
      assert.match(e.message, /cannot download \(ECONNREFUSED\)/);
      assert.ok(e.message.startsWith(`${dead}${FILE_PATH}`));
      assert.ok(e.message.includes(`place it at ${join(home, ARCH, 'model.safetensors')}`));
      return true;
    });
    assert.ok(!existsSync(join(home, ARCH, 'model.safetensors')));
  } finally {
    await s.close().catch(() => {});
    rmSync(home, { recursive: true, force: true });
  }
});

function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return captureOutput(() => command.run(argv));
}

test('loaa pull: arguments, --json output, errors on stderr', async () => {
  assert.equal(command.name, 'pull');
  await assert.rejects(command.run([]), (e: Error) => e instanceof UsageError && /<arch>: missing/.test(e.message));
  await assert.rejects(
    command.run(['resnet50']),
    (e: Error) => e instanceof UsageError && /resnet50: unknown architecture/.test(e.message),
  );
  await assert.rejects(command.run([ARCH, '--endpoint', 'ftp://x']), (e: Error) => e instanceof UsageError && /--endpoint/.test(e.message));
  await assert.rejects(command.run([ARCH, '--bogus']), (e: Error) => e instanceof UsageError && /--bogus: unknown option/.test(e.message));
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /usage: loaa pull <arch>/);

  const s = await serve(hub(ranged));
  const home = tempDir('pull');
  const saved = process.env.LOAA_HOME;
  process.env.LOAA_HOME = home;
  try {
    const r = await runCli([ARCH, `--endpoint=${s.endpoint}`, '--json']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(r.out.trim().split('\n').length, 1);
    assert.equal(j.path, join(home, ARCH, 'model.safetensors'));
    assert.equal(j.sha256, SHA);
    assert.equal(j.verified, 'sha256');
    const again = await runCli([ARCH, '--endpoint', s.endpoint]);
    assert.match(again.out, /already present/);
    const missing = await runCli(['vit_base_patch16_384', '--endpoint', s.endpoint, '--json']);
    assert.equal(missing.code, 1);
    assert.equal(missing.out, '');
    assert.match(missing.err, /^loaa pull: .*not found \(HTTP 404\)/);
  } finally {
    if (saved === undefined) delete process.env.LOAA_HOME;
    else process.env.LOAA_HOME = saved;
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('pull ids: timm name.tag and hf-hub:org/repo resolve to their repos; HF_TOKEN goes to the hub, not the CDN', async () => {
  const { resolvePullId } = await import('../../src/models/hub.js');
  assert.deepEqual(resolvePullId('deit_tiny_patch16_224.fb_in1k'), {
    name: 'deit_tiny_patch16_224.fb_in1k',
    arch: 'deit_tiny_patch16_224',
    repo: 'timm/deit_tiny_patch16_224.fb_in1k',
    revision: 'main',
    file: 'model.safetensors',
  });
  assert.equal(resolvePullId('hf-hub:org/my-vit@v2').repo, 'org/my-vit');
  assert.equal(resolvePullId('hf-hub:org/my-vit@v2').revision, 'v2');
  assert.throws(() => resolvePullId('hf-hub:nope'), /hf-hub:nope: expected hf-hub:<org>\/<repo>/);
  assert.throws(() => resolvePullId('resnet50.a1_in1k'), /unknown architecture/);
  const auth: (string | undefined)[] = [];
  const s = await serve((req, res) => {
    auth.push(req.headers.authorization);
    if (req.url === '/org/my-vit/resolve/main/model.safetensors') {
      res.writeHead(302, { location: `http://localhost:${new URL(s.endpoint).port}/cdn/blob`, 'x-linked-etag': `"${SHA}"` });
      return res.end();
    }
    if (req.url === '/cdn/blob') return ranged(req, res);
    res.writeHead(404).end();
  });
  const home = tempDir('pull');
  try {
    const r = await pullBackbone('hf-hub:org/my-vit', { endpoint: s.endpoint, home, env: { HF_TOKEN: 'secret' } });
    assert.equal(r.path, join(home, 'hf-hub--org--my-vit', 'model.safetensors'));
    assert.equal(r.verified, 'sha256');
    assert.deepEqual(auth, ['Bearer secret', undefined], 'the token reaches the hub only');
  } finally {
    await s.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('pull finds a file already in the Hugging Face cache layout; 401 names HF_TOKEN', async () => {
  const hf = tempDir('pull');
  const snap = join(hf, 'hub', 'models--timm--deit_tiny_patch16_224.fb_in1k', 'snapshots', 'a'.repeat(40));
  mkdirSync(snap, { recursive: true });
  writeFileSync(join(snap, 'model.safetensors'), CONTENT);
  mkdirSync(join(hf, 'hub', 'models--timm--deit_tiny_patch16_224.fb_in1k', 'refs'), { recursive: true });
  writeFileSync(join(hf, 'hub', 'models--timm--deit_tiny_patch16_224.fb_in1k', 'refs', 'main'), 'a'.repeat(40));
  const home = tempDir('pull');
  const s = await serve((_req, res) => res.writeHead(401).end());
  try {
    const r = await pullBackbone(ARCH, { endpoint: 'http://127.0.0.1:9', home, env: { HF_HOME: hf } });
    assert.equal(r.path, join(snap, 'model.safetensors'));
    assert.equal(r.skipped, true);
    await assert.rejects(
      pullBackbone('hf-hub:org/gated', { endpoint: s.endpoint, home, env: {} }),
      /HTTP 401: access denied .*set HF_TOKEN for org\/gated/,
    );
  } finally {
    await s.close();
    rmSync(hf, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
});
