/**
 * `loaa pull <arch>`: fetch timm's weights for an architecture from the Hugging Face hub (or a
 * mirror) into `$LOAA_HOME/<arch>/model.safetensors`.
 *
 * The download goes to `model.safetensors.part` and is renamed into place only once complete and
 * verified, so a crash never leaves a half file under the real name. A dropped connection is resumed
 * with a Range request (in the same run, a few times, and by the next run from the `.part` file);
 * a server that ignores Range and answers 200 restarts the file from zero. The hub's redirect
 * carries `X-Linked-Etag` (the LFS sha256) and `X-Linked-Size`; when a sha256 is announced the file
 * must match it, and the size must match whenever one is known. A mismatch deletes the download.
 */
import { createReadStream, createWriteStream, existsSync, fsyncSync, mkdirSync, openSync, closeSync, renameSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import * as http from 'node:http';
import * as https from 'node:https';
import { getArch } from './archs.js';
import { findInHfCache, resolvePullId } from './hub.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface PullProgress {
  /** bytes in the file so far, resumed bytes included */
  received: number;
  /** full size when known */
  total: number | null;
  /** bytes already on disk when this request started */
  resumedFrom: number;
}

export interface PullOptions {
  /** hub base URL; default `$HF_ENDPOINT`, then https://huggingface.co */
  endpoint?: string;
  /** download again even when the file is present */
  force?: boolean;
  /** default `$LOAA_HOME`, then ~/.cache/loaa */
  home?: string;
  /** Range-resumes after a dropped connection within this call (default 3) */
  retries?: number;
  retryDelayMs?: number;
  /** a connection silent for this long counts as dropped (default 60 s) */
  idleTimeoutMs?: number;
  onProgress?: (p: PullProgress) => void;
  env?: NodeJS.ProcessEnv;
}

export interface PullResult {
  arch: string;
  path: string;
  url: string;
  bytes: number;
  /** sha256 of the file (null when it was already present and not re-read) */
  sha256: string | null;
  /** what the download was checked against */
  verified: 'sha256' | 'size' | 'none';
  /** the file was already there (nothing downloaded) */
  skipped: boolean;
  /** part of the file came from an earlier, interrupted download */
  resumed: boolean;
}

export function loaaHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOAA_HOME && env.LOAA_HOME.length ? env.LOAA_HOME : join(homedir(), '.cache', 'loaa');
}

/** Where `loaa pull <arch>` puts (and the model loaders find) an architecture's weights. */
export function backbonePath(arch: string, home: string = loaaHome()): string {
  return join(home, getArch(arch).name, 'model.safetensors');
}

export function hubUrl(id: string, endpoint?: string, env: NodeJS.ProcessEnv = process.env): string {
  const t = resolvePullId(id);
  const base = (endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  return `${base}/${t.repo}/resolve/${t.revision}/${t.file}`;
}

const SHA256_RE = /^[0-9a-f]{64}$/;

/** ETag values are quoted and may be weak (W/"..."); only a bare 64-hex value is a sha256. */
function etagSha(v: string | string[] | undefined): string | null {
  if (typeof v !== 'string') return null;
  const s = v.trim().replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
  return SHA256_RE.test(s) ? s : null;
}

function intHeader(v: string | string[] | undefined): number | null {
  if (typeof v !== 'string' || !/^\d+$/.test(v.trim())) return null;
  return Number(v.trim());
}

interface Announced {
  sha256: string | null;
  size: number | null;
}

/** An error that another attempt (a Range resume) may cure. */
class Retryable extends Error {}

const OFFLINE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED', 'CERT_HAS_EXPIRED']);

function get(url: URL, headers: Record<string, string>, idleTimeoutMs: number): Promise<http.IncomingMessage> {
  const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
  if (!mod) return Promise.reject(new Error(`${url.href}: only http and https URLs can be downloaded`));
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { headers }, resolve);
    req.on('error', reject);
    req.setTimeout(idleTimeoutMs, () => req.destroy(Object.assign(new Error(`no data for ${idleTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
  });
}

/** GET with redirects followed by hand, so the hub's headers on the redirect itself are seen. */
async function open(
  url: string, headers: Record<string, string>, idleTimeoutMs: number, announced: Announced,
): Promise<{ res: http.IncomingMessage; finalUrl: string }> {
  let current = new URL(url);
  for (let hops = 0; hops <= 10; hops++) {
    const res = await get(current, headers, idleTimeoutMs);
    announced.sha256 ??= etagSha(res.headers['x-linked-etag']);
    announced.size ??= intHeader(res.headers['x-linked-size']);
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && status !== 304) {
      const loc = res.headers.location;
      res.resume();
      if (!loc) throw new Error(`${current.href}: HTTP ${status} redirect without a Location`);
      const next = new URL(loc, current);
      // the token is for the hub: a CDN on another host must not see it
      if (next.host !== current.host && headers.authorization) {
        headers = { ...headers };
        delete headers.authorization;
      }
      current = next;
      continue;
    }
    // a server answering directly (a mirror, a non-LFS file) puts the LFS sha256 in its own ETag
    if (status >= 200 && status < 300) announced.sha256 ??= etagSha(res.headers.etag);
    return { res, finalUrl: current.href };
  }
  throw new Error(`${url}: more than 10 redirects`);
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), async function* (src: AsyncIterable<Buffer>) {
    for await (const chunk of src) h.update(chunk);
  });
  return h.digest('hex');
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Download (or find) the weights for `arch`; see the file comment for the guarantees. */
export async function pullBackbone(arch: string, opts: PullOptions = {}): Promise<PullResult> {
  const env = opts.env ?? process.env;
  const t = resolvePullId(arch);
  const a = { name: t.name, hub: { repo: t.repo, file: t.file } };
  const home = opts.home ?? loaaHome(env);
  const dest = join(home, t.name, 'model.safetensors');
  const part = `${dest}.part`;
  const url = hubUrl(arch, opts.endpoint, env);
  const retries = opts.retries ?? 3;
  const idle = opts.idleTimeoutMs ?? 60_000;

  if (existsSync(dest) && !opts.force) {
    return { arch: a.name, path: dest, url, bytes: sizeOf(dest), sha256: null, verified: 'none', skipped: true, resumed: false };
  }
  // already downloaded by the Hugging Face tools: use their copy
  const cached = opts.force ? null : findInHfCache(t, env);
  if (cached) return { arch: a.name, path: cached, url, bytes: sizeOf(cached), sha256: null, verified: 'none', skipped: true, resumed: false };
  mkdirSync(dirname(dest), { recursive: true });
  if (opts.force) rmSync(part, { force: true });

  const announced: Announced = { sha256: null, size: null };
  const resumed = sizeOf(part) > 0;
  const offline = (e: NodeJS.ErrnoException): Error =>
    new Error(
      `${url}: cannot download (${e.code ?? e.message}): no network or the server is unreachable. ` +
        `Fetch the file elsewhere and place it at ${dest}, or point --endpoint / HF_ENDPOINT at a reachable mirror`,
    );

  for (let attempt = 0; ; attempt++) {
    try {
      await downloadOnce();
      break;
    } catch (e) {
      if (!(e instanceof Retryable) || attempt >= retries) {
        if (e instanceof Retryable) {
          throw new Error(`${url}: ${e.message}; ${sizeOf(part)} bytes are kept in ${part}: run the command again to resume`);
        }
        throw e;
      }
      await sleep(opts.retryDelayMs ?? 1000);
    }
  }

  const bytes = sizeOf(part);
  if (announced.size !== null && bytes !== announced.size) {
    rmSync(part, { force: true });
    throw new Error(`${url}: downloaded ${bytes} bytes but the server announced ${announced.size}; the download was discarded`);
  }
  const sha = await sha256File(part);
  if (announced.sha256 && sha !== announced.sha256) {
    rmSync(part, { force: true });
    throw new Error(`${url}: sha256 mismatch: expected ${announced.sha256}, got ${sha}; the download was discarded`);
  }
  fsyncPath(part);
  renameSync(part, dest);
  return {
    arch: a.name, path: dest, url, bytes, sha256: sha,
    verified: announced.sha256 ? 'sha256' : announced.size !== null ? 'size' : 'none',
    skipped: false, resumed,
  };

  async function downloadOnce(): Promise<void> {
    let start = sizeOf(part);
    if (announced.size !== null && start > announced.size) {
      rmSync(part, { force: true });
      start = 0;
    }
    const headers: Record<string, string> = { 'user-agent': 'loaa', accept: '*/*' };
    const token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
    if (token) headers.authorization = `Bearer ${token}`;
    if (start > 0) headers.range = `bytes=${start}-`;
    let res: http.IncomingMessage;
    try {
      ({ res } = await open(url, headers, idle, announced));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code && OFFLINE_CODES.has(err.code)) throw offline(err);
      if (err.code === 'ECONNRESET' || err.code === 'ETIMEDOUT' || err.code === 'EPIPE') throw new Retryable(`connection failed (${err.code})`);
      throw new Error(`${url}: ${err.message}`);
    }
    const status = res.statusCode ?? 0;
    if (status === 416) {
      res.resume();
      const total = /\/(\d+)\s*$/.exec(String(res.headers['content-range'] ?? ''));
      if (total && Number(total[1]) === start && start > 0) return; // the .part file is already whole
      rmSync(part, { force: true });
      throw new Retryable('the server refused to resume; starting over');
    }
    if (status === 404) {
      res.resume();
      throw new Error(`${url}: not found (HTTP 404): the endpoint does not serve ${a.hub.repo}/${a.hub.file}`);
    }
    if (status === 401 || status === 403) {
      res.resume();
      throw new Error(`${url}: HTTP ${status}: ${env.HF_TOKEN ? 'HF_TOKEN was sent but does not grant access to' : 'access denied (gated or private repository?): set HF_TOKEN for'} ${a.hub.repo}`);
    }
    if (status >= 500) {
      res.resume();
      throw new Retryable(`server error HTTP ${status}`);
    }
    if (status !== 200 && status !== 206) {
      res.resume();
      throw new Error(`${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd());
    }
    let from = 0;
    let total: number | null = announced.size;
    if (status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? '').trim());
      if (!m || Number(m[1]) !== start) {
        res.resume();
        rmSync(part, { force: true });
        throw new Retryable('the server resumed at the wrong offset; starting over');
      }
      from = start;
      if (m[3] !== '*') total ??= Number(m[3]);
    } else {
      // 200: the whole file, whether or not we asked for a range
      total ??= intHeader(res.headers['content-length']);
    }
    const expectLen = intHeader(res.headers['content-length']);
    let got = 0;
    const report = opts.onProgress;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        got += chunk.length;
        report?.({ received: from + got, total, resumedFrom: from });
        cb(null, chunk);
      },
    });
    const sink = createWriteStream(part, { flags: from > 0 ? 'a' : 'w' });
    try {
      await pipeline(res, counter, sink);
    } catch (e) {
      // pipeline reports the first error before the destroyed file stream has finished its
      // in-flight write; the .part file's size must be final before anyone resumes from it
      if (!sink.closed) await new Promise<void>((done) => sink.once('close', () => done()));
      const err = e as NodeJS.ErrnoException;
      if (err.code && /^E(NOSPC|ACCES|PERM|ROFS|DQUOT)$/.test(err.code)) throw new Error(`${part}: cannot write: ${err.message}`);
      throw new Retryable(`the connection dropped after ${from + got} bytes (${err.code ?? err.message})`);
    }
    if (!res.complete || (expectLen !== null && got !== expectLen)) {
      throw new Retryable(`the connection dropped after ${from + got} bytes`);
    }
  }
}
