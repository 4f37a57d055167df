/**
 * The I/O around batch predict, shared by `loaa predict` and tests: expand the inputs, stream
 * results to stdout or a file, failures and progress on stderr, and an exit status that says
 * whether every input was classified (0) or some failed (1).
 */
import type { Writable } from 'node:stream';
import type { ClassifierBackend } from '../serve/backend.js';
import { expandInputs } from './inputs.js';
import { predictStream, type BatchProgress } from './run.js';
import { recordWriter, type OutputFormat } from './writers.js';
import { openPartWriter, type PartWriter } from '../util/guarded_fs.js';

export interface BatchPredictOptions {
  inputs: string[];
  format: OutputFormat;
  /** write here (through `<out>.part`, renamed when complete) instead of stdout */
  out?: string;
  batchSize: number;
  topK: number;
  adapter: string;
  stdin?: NodeJS.ReadableStream;
  stdout?: Writable;
  stderr?: Writable & { isTTY?: boolean };
  /** seconds between progress lines when stderr is not a terminal (default 10; 0 = none) */
  progressEveryS?: number;
}

export async function runBatchPredict(
  backend: ClassifierBackend,
  o: BatchPredictOptions,
): Promise<{ code: number; progress: BatchProgress }> {
  const stderr = o.stderr ?? process.stderr;
  const tty = Boolean(stderr.isTTY);
  const everyS = o.progressEveryS ?? 10;
  let part: PartWriter | null = null;
  if (o.out) {
    try {
      part = openPartWriter(o.out, 'the results');
    } catch (e) {
      throw new Error(`--out: ${(e as Error).message}`);
    }
  }
  const out = part?.stream ?? o.stdout ?? process.stdout;
  const writer = recordWriter(o.format, out, o.topK);
  let lastShown = 0;
  let shownTty = false;
  const line = (p: BatchProgress) =>
    `${p.done + p.failed} inputs: ${p.done} classified, ${p.failed} failed, ${(p.done / Math.max(p.seconds, 1e-9)).toFixed(1)} clips/s`;
  try {
    const progress = await predictStream(expandInputs(o.inputs, o.stdin), backend, {
      batchSize: o.batchSize,
      topK: o.topK,
      adapter: o.adapter,
      onRecord: async (r) => {
        if (r.error !== undefined) {
          if (shownTty) stderr.write('\r\x1b[K');
          stderr.write(`loaa predict: ${r.input}: ${r.error} (skipped)\n`);
        }
        await writer.write(r);
      },
      onProgress: (p) => {
        if (tty) {
          stderr.write(`\r\x1b[K${line(p)}`);
          shownTty = true;
        } else if (everyS > 0 && p.seconds - lastShown >= everyS) {
          lastShown = p.seconds;
          stderr.write(`${line(p)}\n`);
        }
      },
    });
    await writer.end();
    await part?.commit();
    if (shownTty) stderr.write('\r\x1b[K');
    stderr.write(`${line(progress)} in ${progress.seconds.toFixed(1)} s${o.out ? `; results in ${o.out}` : ''}\n`);
    if (progress.done + progress.failed === 0) {
      stderr.write('loaa predict: no input files found\n');
      return { code: 1, progress };
    }
    return { code: progress.failed > 0 ? 1 : 0, progress };
  } catch (e) {
    part?.abort();
    throw e;
  }
}
