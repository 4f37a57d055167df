/**
 * The HTTP server behind `loaa serve`: node:http only, one model behind a dynamic batcher.
 *
 *   POST /v1/classify[?adapter=NAME&top_k=K]   raw audio body, or JSON {"audio": base64} / {"features": [...]}
 *   GET  /v1/adapters                          {"adapters": [...], "default": NAME}
 *   GET  /healthz                              200 {"status":"ok"}, 503 while shutting down
 *   GET  /metrics                              Prometheus text
 *
 * Shutdown stops accepting connections, answers every request already received (with
 * `Connection: close`), then resolves.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClassifierBackend } from './backend.js';
import { Batcher, QueueFullError } from './batcher.js';
import { ServerMetrics } from './metrics.js';
import { HttpError, parseClassify, readBody } from './request.js';

export interface ServeOptions {
  /** default 127.0.0.1: exposing a model to the network is a choice to make explicitly */
  host?: string;
  /** default 8080; 0 picks a free port */
  port?: number;
  /** requests per model call (default 8) */
  maxBatch?: number;
  /** longest wait for a batch to fill, ms (default 5) */
  maxWaitMs?: number;
  /** requests waiting beyond which new ones get 503 (default 256) */
  maxQueue?: number;
  /** request body limit, bytes (default 16 MiB) */
  maxBodyBytes?: number;
  /** a classify request not answered in this time gets 504 (default 30 s) */
  timeoutMs?: number;
  /** labels per answer when the request does not say (default 5) */
  topK?: number;
  /** Retry-After on 503, seconds (default 1) */
  retryAfterS?: number;
}

export interface ServerHandle {
  server: Server;
  url: string;
  metrics: ServerMetrics;
  /** requests received and not yet answered */
  inFlight(): number;
  /** Finish what was received, refuse new connections; resolves when the server is closed. */
  close(graceMs?: number): Promise<void>;
}

const ROUTES = new Set(['/v1/classify', '/v1/adapters', '/healthz', '/metrics']);

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export async function startServer(backend: ClassifierBackend, opts: ServeOptions = {}): Promise<ServerHandle> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxBodyBytes = opts.maxBodyBytes ?? 16 * 1024 * 1024;
  const defaultTopK = opts.topK ?? 5;
  const retryAfter = String(opts.retryAfterS ?? 1);
  const adapters = backend.adapters();
  if (adapters.length === 0) throw new Error('serve: the classifier has no adapter');
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | null = null;
  let metrics: ServerMetrics;
  const batcher = new Batcher(backend, {
    maxBatch: opts.maxBatch ?? 8,
    maxWaitMs: opts.maxWaitMs ?? 5,
    maxQueue: opts.maxQueue ?? 256,
    onBatch: (n) => metrics.batchSize.observe(n),
  });
  metrics = new ServerMetrics(
    () => batcher.depth,
    () => inFlight,
  );

  async function classify(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const start = process.hrtime.bigint();
    let cancel: (() => void) | null = null;
    const timer = setTimeout(() => {
      cancel?.();
      metrics.errors.inc({ reason: 'timeout' });
      send(res, 504, { error: `request: not answered within ${timeoutMs} ms` });
    }, timeoutMs);
    res.on('close', () => cancel?.());
    try {
      const body = await readBody(req, maxBodyBytes);
      const r = await parseClassify(body, req.headers['content-type'], query, defaultTopK);
      const adapter = r.adapter ?? adapters[0];
      if (!backend.adapters().includes(adapter))
        throw new HttpError(404, `adapter: no adapter "${adapter}" (loaded: ${backend.adapters().join(', ')})`);
      let ticket: ReturnType<typeof batcher.submit>;
      try {
        ticket = batcher.submit({ input: r.input, topK: r.topK }, adapter);
      } catch (e) {
        if (e instanceof QueueFullError) throw new HttpError(503, `server busy: ${e.message}; retry later`, { 'retry-after': retryAfter });
        throw e;
      }
      cancel = ticket.cancel;
      const out = await ticket.result;
      if (out instanceof Error) throw new HttpError(400, out.message);
      // NaN scores would go out as null with a 200: the input's features or the weights hold NaN/Inf
      if (out.some((s) => !Number.isFinite(s.score))) {
        throw new HttpError(
          400,
          `request: the model's outputs are not finite (NaN or infinity): the input's features or the adapter/backbone weights hold NaN/Inf; not classified`,
        );
      }
      send(res, 200, { adapter, top: out });
    } catch (e) {
      if (e instanceof HttpError) {
        metrics.errors.inc({ reason: e.status === 503 ? 'overloaded' : e.status === 413 ? 'too_large' : 'bad_request' });
        send(res, e.status, { error: e.message }, e.headers);
      } else {
        metrics.errors.inc({ reason: 'internal' });
        send(res, 500, { error: `internal error: ${(e as Error).message}` });
      }
    } finally {
      clearTimeout(timer);
      metrics.latency.observe(Number(process.hrtime.bigint() - start) / 1e9);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = ROUTES.has(url.pathname) ? url.pathname : 'other';
    res.on('finish', () => metrics.requests.inc({ route, code: String(res.statusCode) }));
    // a request received while draining is still answered, but the client must reconnect (and be refused)
    if (draining) res.setHeader('connection', 'close');
    const method = req.method ?? 'GET';
    const want = route === '/v1/classify' ? 'POST' : 'GET';
    if (route === 'other')
      return send(res, 404, { error: `${url.pathname}: no such endpoint (POST /v1/classify, GET /v1/adapters, /healthz, /metrics)` });
    if (method !== want && !(want === 'GET' && method === 'HEAD'))
      return send(res, 405, { error: `${url.pathname}: use ${want}` }, { allow: want });
    switch (route) {
      case '/v1/classify':
        return classify(req, res, url.searchParams);
      case '/v1/adapters':
        return send(res, 200, { adapters: backend.adapters(), default: adapters[0] });
      case '/healthz':
        return draining ? send(res, 503, { status: 'draining' }) : send(res, 200, { status: 'ok' });
      case '/metrics':
        return send(res, 200, metrics.render());
    }
  }

  const server = createServer((req, res) => {
    inFlight++;
    let counted = true;
    const done = () => {
      if (!counted) return;
      counted = false;
      if (--inFlight === 0 && drained) drained();
    };
    res.on('close', done);
    handle(req, res).catch((e) => {
      send(res, 500, { error: `internal error: ${(e as Error).message}` });
    });
  });
  // a client that trickles its body is cut off by node (408) a little after our own deadline
  server.requestTimeout = timeoutMs + 1000;
  server.headersTimeout = Math.min(60_000, timeoutMs + 1000);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  let closing: Promise<void> | null = null;
  function close(graceMs = 30_000): Promise<void> {
    closing ??= (async () => {
      draining = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, graceMs).unref();
        });
      }
      await batcher.idle();
      server.closeIdleConnections();
      // whatever is still open now is a client holding an idle socket or past the grace period
      setTimeout(() => server.closeAllConnections(), 200).unref();
      await closed;
    })();
    return closing;
  }

  return { server, url: `http://${host}:${addr.port}`, metrics, inFlight: () => inFlight, close };
}

/** SIGTERM / SIGINT: drain and close, then let the process end. A second signal exits at once. */
export function closeOnSignals(handle: ServerHandle, log: (msg: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<void> {
  return new Promise((resolve) => {
    let seen = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (seen) process.exit(130);
      seen = true;
      log(`loaa serve: ${sig}: finishing requests in flight, then exiting`);
      void handle.close().then(() => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
