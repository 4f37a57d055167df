/**
 * The streaming form of `loaa predict`: many inputs (files, folders, globs, `-` for a list on
 * stdin) in batches on the adapter's recorded backbone, results written as they come
 * (text, --jsonl, --csv), failures reported and skipped, exit 1 when any input failed.
 * predict.ts hands over to it when one of its flags, a folder, a glob or `-` is given, or when
 * there is no --backbone.
 */
import { existsSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { UsageError } from '../command.js';
import { optionLines, parseCommandArgs } from '../define.js';
import type { InferEngineSpec } from '../../infer/engine_choice.js';
import { DEVICE_FLAGS, ENGINE_FLAG, engineOptions, engineUsage } from '../engine_flags.js';
import { AudioClassifier } from '../../api/classifier.js';
import { runBatchPredict } from '../../batch/cli.js';
import { hasGlob } from '../../batch/glob.js';
import { adapterDirOf } from '../adapter_args.js';
import { ADAPTER_FLAG, BACKBONE_FLAG, FORCE_FLAG } from '../adapter_flags.js';

const FLAGS = {
  ...ADAPTER_FLAG,
  ...BACKBONE_FLAG,
  jsonl: { type: 'boolean', help: 'one {"input", "top": [{"label", "score"}], "logits"} (or {"input", "error"}) per line' },
  csv: { type: 'boolean', help: 'input,status,label1,score1,...,error' },
  out: { type: 'string', value: 'FILE', help: 'write there instead of stdout' },
  'batch-size': { type: 'int', default: 8, min: 1, help: 'clips per forward pass' },
  'top-k': { type: 'int', value: 'K', default: 5, min: 1, help: 'labels per input (at most the class count)' },
  ...FORCE_FLAG,
  ...DEVICE_FLAGS,
  ...ENGINE_FLAG,
} as const;

/** Flags only the batch form has: any of them selects it. */
const BATCH_ONLY = ['jsonl', 'csv', 'out', 'batch-size', 'force', 'device', 'precision'];

export const batchHelp = `
batch form: loaa predict <file|folder|glob|->... --adapter DIR [--backbone FILE] [--jsonl | --csv] [--out FILE]
            [--batch-size N] [--top-k K] [--device D] [--precision P] [--engine E]
  Folders are searched recursively for .wav/.flac/.ogg/.mp3, '-' reads paths from stdin. Without
  --backbone the adapter's recorded backbone is used (a random one is rebuilt from its seed).
  Results stream to stdout (or --out, renamed into place when complete); a bad file is reported on
  stderr and skipped, and the exit status is 1 when any input failed. Progress goes to stderr.
${optionLines(Object.fromEntries(BATCH_ONLY.map((n) => [n, FLAGS[n as keyof typeof FLAGS]]))).join('\n')}
`;

/** Whether this `loaa predict` call is the batch form. */
export function isBatchPredict(argv: string[]): boolean {
  if (BATCH_ONLY.some((n) => argv.some((t) => t === `--${n}` || t.startsWith(`--${n}=`)))) return true;
  // the single form's flags, untyped: only the shape of the command line matters here
  const shape = {
    backbone: FLAGS.backbone,
    adapter: FLAGS.adapter,
    features: { type: 'list', help: '' },
    'top-k': { type: 'string', help: '' },
    engine: { type: 'string', help: '' },
  } as const;
  let p: ReturnType<typeof parseCommandArgs<typeof shape>>;
  try {
    p = parseCommandArgs(argv, shape, 'predict');
  } catch {
    return false; // the single-input form reports the problem in its own words
  }
  if (p.flags.features.length) return false;
  if (p.flags.backbone === undefined) return true;
  return p.positionals.some((a) => a === '-' || (hasGlob(a) && !existsSync(a)) || (existsSync(a) && statSync(a).isDirectory()));
}

/**
 * A result as `--json` prints it: each label's probability is `score` (as serve, batch predict and
 * the API say), with `p`, the name before, kept beside it for readers of the old output.
 */
export function jsonResult<R extends { top: { label: string; score: number }[] }>(
  r: R,
): R & { top: { label: string; score: number; p: number }[] } {
  return { ...r, top: r.top.map((t) => ({ label: t.label, score: t.score, p: t.score })) };
}

export async function runPredictBatch(argv: string[]): Promise<number> {
  const { flags: f, positionals } = parseCommandArgs(argv, FLAGS, 'predict');
  if (!f.adapter) throw new UsageError('--adapter: missing (an adapter checkpoint directory, or a run directory)');
  const adapter = adapterDirOf(f.adapter);
  if (positionals.length === 0) throw new UsageError('<audio>: no input (give files, folders, globs, or - for a list on stdin)');
  if (f.jsonl && f.csv) throw new UsageError('--jsonl, --csv: choose one');
  const json = f.json;
  if (json && (f.jsonl || f.csv || f.out)) throw new UsageError('--json: not with --jsonl, --csv or --out');
  const clf = await engineUsage(() =>
    AudioClassifier.fromPretrained(adapter, {
      backbone: f.backbone,
      force: f.force,
      ...engineOptions(f),
      engine: f.engine as InferEngineSpec | undefined,
    }),
  );
  try {
    // --json: one object at the end, as the single-input form prints it
    let collected = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        collected += chunk.toString();
        cb();
      },
    });
    const { code } = await runBatchPredict(clf, {
      inputs: positionals,
      format: json || f.jsonl ? 'jsonl' : f.csv ? 'csv' : 'text',
      out: f.out,
      ...(json ? { stdout: sink } : {}),
      batchSize: f['batch-size'],
      topK: Math.min(f['top-k'], clf.labels.length),
      adapter: clf.activeAdapter,
    });
    if (json) {
      const recs = collected
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { input: string; top?: { label: string; score: number }[]; logits?: number[]; error?: string });
      const results = recs
        .filter((r) => r.top)
        .map((r) => jsonResult({ input: r.input, ...(r.logits ? { logits: r.logits } : {}), top: r.top! }));
      const errors = recs.filter((r) => r.error !== undefined).map((r) => ({ input: r.input, error: r.error }));
      process.stdout.write(`${JSON.stringify({ results, ...(errors.length ? { errors } : {}) })}\n`);
    }
    return code;
  } finally {
    clf.dispose();
  }
}
