#!/usr/bin/env node
/**
 * Loopback load test of `loaa serve`'s server with a real model: concurrency 1, 8 and 32, 10% of the
 * requests malformed. Prints p50/p99 latency and throughput per level, and RSS before/after.
 *   node tools/serve_load.mjs <adapter dir> [--backbone FILE] [--requests N] [--clips DIR]
 * Clips: the FSDD recordings in ../shared when present, else generated tones.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AudioClassifier } from '../dist/src/api/classifier.js';
import { startServer } from '../dist/src/serve/server.js';
import { runLoad } from '../dist/src/bench/loadgen.js';
import { encodeWav } from '../dist/src/audio/wav.js';

const args = process.argv.slice(2);
const flag = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const adapter = args[0];
if (!adapter) throw new Error('usage: node tools/serve_load.mjs <adapter dir> [--backbone FILE] [--requests N] [--clips DIR]');
const n = Number(flag('--requests', '400'));
const fsdd = resolve(flag('--clips', join(import.meta.dirname, '..', '..', 'shared', 'data', 'fsdd', 'recordings')));
const good = existsSync(fsdd)
  ? readdirSync(fsdd)
      .filter((f) => f.endsWith('.wav'))
      .sort()
      .slice(0, 64)
      .map((f) => readFileSync(join(fsdd, f)))
  : Array.from({ length: 16 }, (_, k) =>
      Buffer.from(encodeWav({ sampleRate: 8000, channels: [new Float32Array(4000).map((_, i) => 0.3 * Math.sin(i * (0.05 + 0.01 * k)))] })),
    );
const bad = [Buffer.from('not audio'), good[0].subarray(0, 40)];
const clf = await AudioClassifier.fromPretrained(adapter, { backbone: flag('--backbone') });
const h = await startServer(clf, { port: 0, maxBatch: 8, maxWaitMs: 5 });
const rss = () => (process.memoryUsage.rss() / 2 ** 20).toFixed(0);
console.log(`server ${h.url}, ${good.length} clips${existsSync(fsdd) ? ' (FSDD)' : ''}, ${n} requests per level, RSS ${rss()} MiB`);
for (const concurrency of [1, 8, 32]) {
  const r = await runLoad({
    url: h.url,
    concurrency,
    total: n,
    make: (i) => ({ path: '/v1/classify', body: i % 10 === 9 ? bad[i % 2] : good[i % good.length] }),
  });
  const wrong = r.outcomes.filter((c, i) => c !== (i % 10 === 9 ? 400 : 200)).length;
  console.log(
    `concurrency ${String(concurrency).padStart(2)}: ${r.throughput.toFixed(1)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, unexpected codes ${wrong}, RSS ${rss()} MiB`,
  );
}
const m = h.metrics.batchSize;
console.log(`mean batch ${(Number(/_sum (\S+)/.exec(m.render())[1]) / m.total).toFixed(2)} over ${m.total} model calls`);
await h.close();
clf.dispose();
