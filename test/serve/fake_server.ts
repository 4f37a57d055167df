/**
 * Child-process entry for the load and SIGTERM tests: serves the fake backend, prints its URL on
 * the first stdout line, and on exit prints how many classify requests the server answered.
 * argv: delayMs maxBatch maxQueue
 */
import { closeOnSignals, startServer } from '../../src/serve/server.js';
import { FakeBackend } from './fake_backend.js';

const [delay = '0', maxBatch = '8', maxQueue = '256'] = process.argv.slice(2);
const h = await startServer(new FakeBackend(Number(delay)), {
  port: 0,
  maxBatch: Number(maxBatch),
  maxQueue: Number(maxQueue),
  maxWaitMs: 2,
});
process.stdout.write(`${h.url}\n`);
// The RSS test asks for a measurement after a full collection (the child runs with --expose-gc), so
// that what it compares is what the server still holds, not where V8's collector happened to be.
process.on('message', (m) => {
  if (m !== 'memory') return;
  (globalThis as { gc?: () => void }).gc?.();
  process.send!(process.memoryUsage());
});
await closeOnSignals(h, () => {});
process.disconnect?.();
let answered = 0;
for (const code of ['200', '400', '404', '413', '503', '504', '500']) answered += h.metrics.requests.get({ route: '/v1/classify', code });
process.stdout.write(`${JSON.stringify({ answered, ok: h.metrics.requests.get({ route: '/v1/classify', code: '200' }) })}\n`);
