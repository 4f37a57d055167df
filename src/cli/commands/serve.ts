/** `loaa serve`: the HTTP classify server over one backbone and one or more adapters. */
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';
import { DEVICE_FLAGS, ENGINE_FLAG, engineOptions, engineUsage } from '../engine_flags.js';
import { BACKBONE_FLAG, FORCE_FLAG } from '../adapter_flags.js';
import type { InferEngineSpec } from '../../infer/engine_choice.js';
import { AudioClassifier } from '../../api/classifier.js';
import { closeOnSignals, startServer } from '../../serve/server.js';

const DESCRIPTION = `Serves the adapters over HTTP on one backbone (the one the first adapter records in its
adapter_config.json, or --backbone; the others must be trained on the same backbone).

  POST /v1/classify[?adapter=NAME&top_k=K]  body: an audio file (WAV, FLAC, Ogg/Vorbis, MP3), or JSON
                                            {"audio": "<base64>"} or {"features": [[...]], "shape"?: [T, F]}
                                            -> {"adapter": NAME, "top": [{"label", "score"}]}
  GET  /v1/adapters                         {"adapters": [...], "default": NAME}
  GET  /healthz                             {"status": "ok"} (503 while shutting down)
  GET  /metrics                             Prometheus text: requests, errors, latency, batch sizes

Requests are batched (up to --max-batch, waiting at most --max-wait-ms); when --max-queue requests
wait, new ones get 503 with Retry-After. Malformed audio is 400 with the reason. SIGTERM/SIGINT
finish the requests in flight, then exit.`;

// the server's own defaults apply where a flag is absent, so those flags carry no `default` here
const FLAGS = {
  adapter: {
    type: 'list',
    value: '[NAME=]DIR',
    help: 'adapter directory (the first is the default; names default to\n"default" for the first and the folder name for the others)',
  },
  ...BACKBONE_FLAG,
  ...FORCE_FLAG,
  host: { type: 'string', value: 'HOST', default: '127.0.0.1', help: 'address to bind (the default is local only)' },
  port: { type: 'int', min: 0, max: 65535, default: 8080, help: 'port (0 picks a free one)' },
  'max-batch': { type: 'int', min: 1, help: 'requests per model call (default 8)' },
  'max-wait-ms': { type: 'number', value: 'MS', min: 0, help: 'longest wait for a batch to fill (default 5)' },
  'max-queue': { type: 'int', min: 1, help: 'waiting requests before 503 (default 256)' },
  'max-body-mb': { type: 'number', value: 'MB', min: 0.001, help: 'request body limit (default 16)' },
  'timeout-ms': { type: 'number', value: 'MS', min: 1, help: 'answer 504 after this long (default 30000)' },
  'top-k': { type: 'int', value: 'K', min: 1, help: 'labels per answer unless the request says (default 5)' },
  ...DEVICE_FLAGS,
  ...ENGINE_FLAG,
} as const;

export function adapterArgs(list: string[]): { name: string; dir: string }[] {
  if (list.length === 0) throw new UsageError('--adapter: missing (an adapter checkpoint directory)');
  const seen = new Set<string>();
  return list.map((v, i) => {
    const m = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(v);
    const dir = m ? m[2] : v;
    const name = m ? m[1] : i === 0 ? 'default' : dir.replace(/\/+$/, '').split('/').pop()!;
    if (seen.has(name)) throw new UsageError(`--adapter: the name "${name}" is used twice (give NAME=DIR)`);
    seen.add(name);
    return { name, dir };
  });
}

export const command = defineCommand({
  name: 'serve',
  usage: '--adapter DIR [--adapter NAME=DIR ...] [--backbone FILE] [--host 127.0.0.1] [--port 8080] [--device D] [--precision P]',
  description: DESCRIPTION,
  flags: FLAGS,
  optionsOnly: 'see loaa serve --help',
  async run({ flags, json }) {
    const adapters = adapterArgs(flags.adapter);
    const mb = flags['max-body-mb'];
    const opts = {
      host: flags.host,
      port: flags.port,
      maxBatch: flags['max-batch'],
      maxWaitMs: flags['max-wait-ms'],
      maxQueue: flags['max-queue'],
      maxBodyBytes: mb === undefined ? undefined : Math.round(mb * 2 ** 20),
      timeoutMs: flags['timeout-ms'],
      topK: flags['top-k'],
    };
    const clf = await engineUsage(() =>
      AudioClassifier.fromPretrained(adapters[0]!.dir, {
        backbone: flags.backbone,
        force: flags.force,
        name: adapters[0]!.name,
        ...engineOptions(flags),
        engine: flags.engine as InferEngineSpec | undefined,
      }),
    );
    try {
      for (const x of adapters.slice(1)) clf.addAdapter(x.name, x.dir);
      const h = await startServer(clf, opts);
      const info = { url: h.url, adapters: clf.adapters(), backbone: clf.backbone, device: clf.device, precision: clf.precision };
      if (json) process.stdout.write(`${JSON.stringify(info)}\n`);
      else process.stderr.write(`loaa serve: listening on ${h.url} (adapters: ${clf.adapters().join(', ')})\n`);
      await closeOnSignals(h);
      return 0;
    } finally {
      clf.dispose();
    }
  },
});
