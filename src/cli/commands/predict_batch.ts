/**
 * The streaming form of `loaa predict`: many inputs (files, folders, globs, `-` for a list on
 * stdin) in batches on the adapter's recorded backbone, results written as they come
 * (text, --jsonl, --csv), failures reported and skipped, exit 1 when any input failed.
 * predict.ts hands over to it when one of its flags, a folder, a glob or `-` is given, or when
 * there is no --backbone.
 */
import { existsSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { UsageError } from '../command.js';
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.js';
import { AudioClassifier } from '../../api/classifier.js';
import { runBatchPredict } from '../../batch/cli.js';
import { hasGlob } from '../../batch/glob.js';

export const batchHelp = `
batch form: loaa predict <file|folder|glob|->... --adapter DIR [--backbone FILE] [--jsonl | --csv] [--out FILE]
            [--batch-size N] [--top-k K] [--device D] [--precision P]
  Folders are searched recursively for .wav/.flac/.ogg/.mp3, '-' reads paths from stdin. Without
  --backbone the adapter's recorded backbone is used (a random one is rebuilt from its seed).
  Results stream to stdout (or --out, renamed into place when complete); a bad file is reported on
  stderr and skipped, and the exit status is 1 when any input failed. Progress goes to stderr.
  --jsonl         one {"input", "top": [{"label", "score"}], "logits"} (or {"input", "error"}) per line
  --csv           input,status,label1,score1,...,error
  --out FILE      write there instead of stdout
  --batch-size N  clips per forward pass (default 8)
  --force         use --backbone even if its sha256 is not the recorded one
  --device D      cpu (default), cuda, cuda:N or auto
  --precision P   fp32 (default), bf16, fp16 or auto (autocast, as loaa eval --precision)
`;

/** Whether this `loaa predict` call is the batch form. */
export function isBatchPredict(argv: string[]): boolean {
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { backbone: { type: 'string' }, adapter: { type: 'string' }, features: { type: 'string', multiple: true }, 'top-k': { type: 'string' }, out: { type: 'string' }, 'batch-size': { type: 'string' }, device: { type: 'string' }, precision: { type: 'string' } },
      strict: false,
      allowPositionals: true,
    }));
  } catch {
    return false; // the single-input form reports the problem in its own words
  }
  if (['jsonl', 'csv', 'out', 'batch-size', 'force', 'device', 'precision'].some((k) => values[k] !== undefined)) return true;
  if (values.features !== undefined) return false;
  if (values.backbone === undefined) return true;
  return positionals.some((a) => a === '-' || (hasGlob(a) && !existsSync(a)) || (existsSync(a) && statSync(a).isDirectory()));
}

const SPEC = {
  adapter: { type: 'string' },
  backbone: { type: 'string' },
  force: { type: 'boolean' },
  jsonl: { type: 'boolean' },
  csv: { type: 'boolean' },
  out: { type: 'string' },
  'batch-size': { type: 'string' },
  'top-k': { type: 'string' },
  device: { type: 'string' },
  precision: { type: 'string' },
} as const;

export async function runPredictBatch(argv: string[]): Promise<number> {
  const a = parseFlags(argv, SPEC, 'predict');
  const adapter = stringFlag(a, 'adapter');
  if (!adapter) throw new UsageError('--adapter: missing (an adapter checkpoint directory)');
  if (a.positionals.length === 0) throw new UsageError('<audio>: no input (give files, folders, globs, or - for a list on stdin)');
  if (boolFlag(a, 'jsonl') && boolFlag(a, 'csv')) throw new UsageError('--jsonl, --csv: choose one');
  const json = boolFlag(a, 'json');
  if (json && (boolFlag(a, 'jsonl') || boolFlag(a, 'csv') || stringFlag(a, 'out'))) throw new UsageError('--json: not with --jsonl, --csv or --out');
  let clf: AudioClassifier;
  try {
    clf = await AudioClassifier.fromPretrained(adapter, { backbone: stringFlag(a, 'backbone'), force: boolFlag(a, 'force'), device: stringFlag(a, 'device'), precision: stringFlag(a, 'precision') });
  } catch (e) {
    const m = (e as Error).message;
    // the option names as the command line spells them
    if (/^(device|precision): /.test(m)) throw new UsageError(`--${m}`);
    throw e;
  }
  try {
    // --json: one object at the end, as the single-input form prints it ("p" for the probability)
    let collected = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        collected += chunk.toString();
        cb();
      },
    });
    const { code } = await runBatchPredict(clf, {
      inputs: a.positionals,
      format: json || boolFlag(a, 'jsonl') ? 'jsonl' : boolFlag(a, 'csv') ? 'csv' : 'text',
      out: stringFlag(a, 'out'),
      ...(json ? { stdout: sink } : {}),
      batchSize: numberFlag(a, 'batch-size', { integer: true, min: 1 }) ?? 8,
      topK: Math.min(numberFlag(a, 'top-k', { integer: true, min: 1 }) ?? 5, clf.labels.length),
      adapter: clf.activeAdapter,
    });
    if (json) {
      const recs = collected.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { input: string; top?: { label: string; score: number }[]; logits?: number[]; error?: string });
      const results = recs.filter((r) => r.top).map((r) => ({ input: r.input, ...(r.logits ? { logits: r.logits } : {}), top: r.top!.map((t) => ({ label: t.label, p: t.score })) }));
      const errors = recs.filter((r) => r.error !== undefined).map((r) => ({ input: r.input, error: r.error }));
      process.stdout.write(JSON.stringify({ results, ...(errors.length ? { errors } : {}) }) + '\n');
    }
    return code;
  } finally {
    clf.dispose();
  }
}
