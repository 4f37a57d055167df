/** `loaa serve`: the HTTP classify server over one backbone and one or more adapters. */
import { UsageError, type Command } from '../command.js';
import { boolFlag, listFlag, numberFlag, parseFlags, stringFlag } from '../args.js';
import { AudioClassifier } from '../../api/classifier.js';
import { closeOnSignals, startServer } from '../../serve/server.js';

const help = `usage: loaa serve --adapter DIR [--adapter NAME=DIR ...] [--backbone FILE] [--host 127.0.0.1] [--port 8080]

Serves the adapters over HTTP on one backbone (the one the first adapter records in its
adapter_config.json, or --backbone; the others must be trained on the same backbone).

  POST /v1/classify[?adapter=NAME&top_k=K]  body: an audio file (WAV, FLAC, Ogg/Vorbis, MP3), or JSON
                                            {"audio": "<base64>"} or {"features": [[...]], "shape"?: [T, F]}
                                            -> {"adapter": NAME, "top": [{"label", "score"}]}
  GET  /v1/adapters                         {"adapters": [...], "default": NAME}
  GET  /healthz                             {"status": "ok"} (503 while shutting down)
  GET  /metrics                             Prometheus text: requests, errors, latency, batch sizes

Requests are batched (up to --max-batch, waiting at most --max-wait-ms); when --max-queue requests
wait, new ones get 503 with Retry-After. Malformed audio is 400 with the reason. SIGTERM/SIGINT
finish the requests in flight, then exit.

options:
  --adapter [NAME=]DIR  adapter directory (repeatable; the first is the default; names default to
                        "default" for the first and the folder name for the others)
  --backbone FILE       backbone checkpoint instead of the recorded one
  --force               use --backbone even if its sha256 is not the recorded one
  --host HOST           address to bind (default 127.0.0.1: local only)
  --port N              port (default 8080; 0 picks a free one)
  --max-batch N         requests per model call (default 8)
  --max-wait-ms MS      longest wait for a batch to fill (default 5)
  --max-queue N         waiting requests before 503 (default 256)
  --max-body-mb MB      request body limit (default 16)
  --timeout-ms MS       answer 504 after this long (default 30000)
  --top-k K             labels per answer unless the request says (default 5)
`;

const SPEC = {
  adapter: { type: 'string', multiple: true },
  backbone: { type: 'string' },
  force: { type: 'boolean' },
  host: { type: 'string' },
  port: { type: 'string' },
  'max-batch': { type: 'string' },
  'max-wait-ms': { type: 'string' },
  'max-queue': { type: 'string' },
  'max-body-mb': { type: 'string' },
  'timeout-ms': { type: 'string' },
  'top-k': { type: 'string' },
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

export const command: Command = {
  name: 'serve',
  summary: 'serve adapters over HTTP (batched, bounded, with metrics)',
  help,
  async run(argv: string[]): Promise<number> {
    const a = parseFlags(argv, SPEC, 'serve');
    if (boolFlag(a, 'help')) {
      process.stdout.write(help);
      return 0;
    }
    if (a.positionals.length) throw new UsageError(`${a.positionals[0]}: unexpected argument (see loaa serve --help)`);
    const adapters = adapterArgs(listFlag(a, 'adapter'));
    const opts = {
      host: stringFlag(a, 'host') ?? '127.0.0.1',
      port: numberFlag(a, 'port', { integer: true, min: 0, max: 65535 }) ?? 8080,
      maxBatch: numberFlag(a, 'max-batch', { integer: true, min: 1 }),
      maxWaitMs: numberFlag(a, 'max-wait-ms', { min: 0 }),
      maxQueue: numberFlag(a, 'max-queue', { integer: true, min: 1 }),
      maxBodyBytes: ((m) => (m === undefined ? undefined : Math.round(m * 2 ** 20)))(numberFlag(a, 'max-body-mb', { min: 0.001 })),
      timeoutMs: numberFlag(a, 'timeout-ms', { min: 1 }),
      topK: numberFlag(a, 'top-k', { integer: true, min: 1 }),
    };
    const clf = await AudioClassifier.fromPretrained(adapters[0].dir, { backbone: stringFlag(a, 'backbone'), force: boolFlag(a, 'force'), name: adapters[0].name });
    try {
      for (const x of adapters.slice(1)) clf.loadAdapter(x.name, x.dir);
      const h = await startServer(clf, opts);
      const info = { url: h.url, adapters: clf.adapters(), backbone: clf.backbone };
      if (boolFlag(a, 'json')) process.stdout.write(JSON.stringify(info) + '\n');
      else process.stderr.write(`loaa serve: listening on ${h.url} (adapters: ${clf.adapters().join(', ')})\n`);
      await closeOnSignals(h);
      return 0;
    } finally {
      clf.dispose();
    }
  },
};
