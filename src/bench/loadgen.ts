/**
 * A small bounded HTTP load generator (no dependency): `concurrency` workers on keep-alive sockets
 * send `total` requests between them, and report latency percentiles, throughput and the status
 * codes seen. Used by the server's load tests and to measure the numbers in docs/package.md.
 */
import { Agent, request } from 'node:http';

export interface LoadRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface LoadResult {
  total: number;
  /** status code -> count; connection failures under "error:<code>" */
  codes: Record<string, number>;
  /** per request, in send order: its status code, or the connection error code */
  outcomes: (number | string)[];
  seconds: number;
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadOptions {
  url: string;
  concurrency: number;
  total: number;
  make: (i: number) => LoadRequest;
  /** per-request timeout, ms (default 60 s) */
  timeoutMs?: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function once(agent: Agent, base: URL, r: LoadRequest, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(r.path, base), { method: r.method ?? 'POST', headers: r.headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(r.body);
  });
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  const base = new URL(o.url);
  const latencies: number[] = [];
  const outcomes: (number | string)[] = new Array(o.total);
  let next = 0;
  const t0 = performance.now();
  async function worker(): Promise<void> {
    while (next < o.total) {
      const i = next++;
      const t = performance.now();
      try {
        outcomes[i] = await once(agent, base, o.make(i), o.timeoutMs ?? 60_000);
        latencies.push(performance.now() - t);
      } catch (e) {
        outcomes[i] = `error:${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      }
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const codes: Record<string, number> = {};
  for (const c of outcomes) codes[String(c)] = (codes[String(c)] ?? 0) + 1;
  return {
    total: o.total,
    codes,
    outcomes,
    seconds,
    throughput: o.total / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? NaN,
  };
}
