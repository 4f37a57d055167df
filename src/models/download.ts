/**
 * One file over HTTP(S) into place, the way `loaa pull` needs it for backbones and datasets alike.
 *
 * The download goes to `<dest>.part` and is renamed into place only once complete and verified, so
 * a crash never leaves a half file under the real name. A dropped connection is resumed with a
 * Range request (in the same run, a few times, and by the next run from the `.part` file); a server
 * that ignores Range and answers 200 restarts the file from zero. The size and sha256 are checked
 * against what the caller pins, else against what the server announces (the hub's redirect carries
 * `X-Linked-Etag`, the LFS sha256, and `X-Linked-Size`; a mirror may put the sha256 in its ETag).
 * A mismatch deletes the download.
 */
import { fsyncSync, mkdirSync, closeSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import * as http from 'node:http';
import * as https from 'node:https';
import { proxyOptions } from './proxy.js';
import { forEachChunk, openInput, openOutputStream, renameGuarded } from '../util/guarded_fs.js';

export interface DownloadProgress {
  /** bytes in the file so far, resumed bytes included */
  received: number;
  /** full size when known */
  total: number | null;
  /** bytes already on disk when this request started */
  resumedFrom: number;
}

export interface DownloadOptions {
  /** request headers (an authorization header is dropped when a redirect changes scheme, host or port) */
  headers?: Record<string, string>;
  /** pinned by the caller: win over anything the server announces */
  size?: number;
  sha256?: string;
  /** start again from zero (the `.part` file is dropped) */
  fresh?: boolean;
  /** Range-resumes after a dropped connection within this call (default 3) */
  retries?: number;
  retryDelayMs?: number;
  /** a connection silent for this long counts as dropped (default 60 s) */
  idleTimeoutMs?: number;
  onProgress?: (p: DownloadProgress) => void;
  /** the end of the offline message: what the user can do by hand */
  offlineHint: string;
  /** the message after "<url>: " for a 404 */
  notFound?: string;
  /** the message after "<url>: " for a 401/403 */
  denied?: (status: number) => string;
}

export interface DownloadResult {
  url: string;
  path: string;
  bytes: number;
  sha256: string;
  /** what the download was checked against */
  verified: 'sha256' | 'size' | 'none';
  /** part of the file came from an earlier, interrupted download */
  resumed: boolean;
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

const OFFLINE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNABORTED',
  'CERT_HAS_EXPIRED',
]);

function get(url: URL, headers: Record<string, string>, idleTimeoutMs: number): Promise<http.IncomingMessage> {
  const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
  if (!mod) return Promise.reject(new Error(`${url.href}: only http and https URLs can be downloaded`));
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { headers, ...proxyOptions(url, headers) }, resolve);
    req.on('error', reject);
    req.setTimeout(idleTimeoutMs, () =>
      req.destroy(Object.assign(new Error(`no data for ${idleTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' })),
    );
  });
}

/**
 * The headers for following a redirect from `from` to `to`. A token is for the origin it was given
 * for (scheme, host and port, as curl and requests treat it): a CDN on another host, another port of
 * the same host, or the same host over plain http must not see it. A redirect from https to http
 * while a token is set is refused outright: it is a downgrade, not a mirror.
 */
export function redirectHeaders(from: URL, to: URL, headers: Record<string, string>): Record<string, string> {
  const auth = Object.keys(headers).filter((k) => k.toLowerCase() === 'authorization' || k.toLowerCase() === 'cookie');
  if (!auth.length) return headers;
  if (from.protocol === 'https:' && to.protocol !== 'https:') {
    throw new Error(
      `${from.href}: refusing the redirect to ${to.href}: it leaves https for ${to.protocol.replace(':', '')} while a token (HF_TOKEN) is set, ` +
        'which would send it in clear text; unset the token for this endpoint or use an https mirror',
    );
  }
  if (to.origin === from.origin) return headers;
  const out = { ...headers };
  for (const k of auth) delete out[k];
  return out;
}

/** GET with redirects followed by hand, so the hub's headers on the redirect itself are seen. */
async function open(
  url: string,
  headers: Record<string, string>,
  idleTimeoutMs: number,
  announced: Announced,
): Promise<http.IncomingMessage> {
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
      headers = redirectHeaders(current, next, headers);
      current = next;
      continue;
    }
    // a server answering directly (a mirror, a non-LFS file) may put the sha256 in its own ETag
    if (status >= 200 && status < 300) announced.sha256 ??= etagSha(res.headers.etag);
    return res;
  }
  throw new Error(`${url}: more than 10 redirects`);
}

export function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  forEachChunk(path, { what: 'download' }, (b) => h.update(b));
  return h.digest('hex');
}

function fsyncPath(path: string): void {
  const { fd } = openInput(path, { what: 'download', noFollow: true });
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Downloads `url` to `dest`; see the file comment for the guarantees. */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions): Promise<DownloadResult> {
  const part = `${dest}.part`;
  const retries = opts.retries ?? 3;
  const idle = opts.idleTimeoutMs ?? 60_000;
  mkdirSync(dirname(dest), { recursive: true });
  if (opts.fresh) rmSync(part, { force: true });
  const announced: Announced = { sha256: opts.sha256 ?? null, size: opts.size ?? null };
  const resumed = sizeOf(part) > 0;
  const offline = (e: NodeJS.ErrnoException): Error =>
    new Error(`${url}: cannot download (${e.code ?? e.message}): no network or the server is unreachable. ${opts.offlineHint}`);

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
    throw new Error(
      `${url}: downloaded ${bytes} bytes but ${opts.size !== undefined ? 'expected' : 'the server announced'} ${announced.size}; the download was discarded`,
    );
  }
  const sha = await sha256File(part);
  if (announced.sha256 && sha !== announced.sha256) {
    rmSync(part, { force: true });
    throw new Error(`${url}: sha256 mismatch: expected ${announced.sha256}, got ${sha}; the download was discarded`);
  }
  fsyncPath(part);
  renameGuarded(part, dest, 'the download');
  return {
    url,
    path: dest,
    bytes,
    sha256: sha,
    verified: announced.sha256 ? 'sha256' : announced.size !== null ? 'size' : 'none',
    resumed,
  };

  async function downloadOnce(): Promise<void> {
    let start = sizeOf(part);
    if (announced.size !== null && start > announced.size) {
      rmSync(part, { force: true });
      start = 0;
    }
    const headers: Record<string, string> = { 'user-agent': 'loaa', accept: '*/*', ...opts.headers };
    if (start > 0) headers.range = `bytes=${start}-`;
    let res: http.IncomingMessage;
    try {
      res = await open(url, headers, idle, announced);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code && OFFLINE_CODES.has(err.code)) throw offline(err);
      if (err.code === 'ECONNRESET' || err.code === 'ETIMEDOUT' || err.code === 'EPIPE')
        throw new Retryable(`connection failed (${err.code})`);
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
      throw new Error(`${url}: ${opts.notFound ?? 'not found (HTTP 404)'}`);
    }
    if (status === 401 || status === 403) {
      res.resume();
      throw new Error(`${url}: ${opts.denied ? opts.denied(status) : `HTTP ${status}: access denied`}`);
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
    // the whole file's size as this server states it is what the download is checked against
    announced.size ??= total;
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
    // never through a link planted at the .part name, never onto a device or FIFO
    const sink = openOutputStream(part, 'the download', { append: from > 0 });
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
