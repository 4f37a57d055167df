/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY for the downloader, as curl and pip read them: https URLs go
 * through a CONNECT tunnel (the proxy sees only host:port, TLS runs end to end), http URLs are sent
 * to the proxy in absolute form. A machine that reaches the hub only through a proxy could pull
 * nothing before. Only http:// proxies (the usual corporate kind); credentials in the proxy URL are
 * sent as Proxy-Authorization.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';

const envOf = (env: NodeJS.ProcessEnv, name: string): string | undefined => env[name.toLowerCase()] || env[name.toUpperCase()] || undefined;

/** Whether NO_PROXY exempts `url`: "*", host names (a leading dot or not: the domain and its subdomains), host:port, IPs. */
export function noProxy(url: URL, env: NodeJS.ProcessEnv = process.env): boolean {
  const list = envOf(env, 'no_proxy');
  if (!list) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const raw of list.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    if (!m) continue;
    const h = m[1]!.replace(/^\[|\]$/g, '').replace(/^\*?\./, '');
    if (m[2] && m[2] !== port) continue;
    if (host === h || host.endsWith(`.${h}`)) return true;
  }
  return false;
}

/** The proxy for `url` from the environment, or null (none set, or NO_PROXY exempts it). */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): URL | null {
  const raw = url.protocol === 'https:' ? envOf(env, 'https_proxy') : url.protocol === 'http:' ? envOf(env, 'http_proxy') : undefined;
  if (!raw || noProxy(url, env)) return null;
  const name = url.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY';
  let p: URL;
  try {
    p = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new Error(`${name}: ${raw} is not a URL (expected http://host:port)`);
  }
  if (p.protocol !== 'http:') throw new Error(`${name}: ${p.protocol}// proxies are not supported (expected http://host:port)`);
  return p;
}

function proxyAuth(p: URL): Record<string, string> {
  if (!p.username) return {};
  const cred = `${decodeURIComponent(p.username)}:${decodeURIComponent(p.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(cred).toString('base64')}` };
}

/** An https agent whose sockets are TLS over a CONNECT tunnel through `proxy`. */
class TunnelAgent extends https.Agent {
  constructor(private readonly proxy: URL) {
    super({ keepAlive: false });
  }

  // Node's Agent accepts a socket handed to the callback later (the tunnel is asynchronous)
  override createConnection(opts: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const options = opts as tls.ConnectionOptions & { host?: string; port?: number };
    const cb = callback!;
    const fail = (e: Error) => cb(e, undefined as unknown as Duplex);
    const target = `${options.host}:${options.port ?? 443}`;
    const where = `proxy ${this.proxy.host}`;
    const req = http.request({
      host: this.proxy.hostname,
      port: this.proxy.port || 80,
      method: 'CONNECT',
      path: target,
      headers: { host: target, ...proxyAuth(this.proxy) },
      agent: false,
    });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        fail(Object.assign(new Error(`${where}: CONNECT ${target} answered HTTP ${res.statusCode}`), { code: 'EPROXY' }));
        return;
      }
      // SNI carries host names only (RFC 6066): none for an IP address
      const servername = options.servername ?? (options.host && !isIP(options.host) ? options.host : undefined);
      cb(null, tls.connect({ ...options, socket, servername }));
    });
    req.once('error', (e: NodeJS.ErrnoException) => fail(Object.assign(new Error(`${where}: ${e.message}`), { code: e.code })));
    req.end();
    return undefined;
  }
}

/**
 * Request options that send a GET of `url` through the environment's proxy (nothing when none
 * applies), merged over the URL by http(s).get; `headers` are the caller's, kept.
 */
export function proxyOptions(url: URL, headers: Record<string, string>, env: NodeJS.ProcessEnv = process.env): http.RequestOptions {
  const p = proxyFor(url, env);
  if (!p) return {};
  if (url.protocol === 'https:') return { agent: new TunnelAgent(p) };
  return { hostname: p.hostname, port: Number(p.port || 80), path: url.href, headers: { ...headers, host: url.host, ...proxyAuth(p) } };
}
