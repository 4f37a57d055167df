/**
 * Batch predict as a stream: take inputs as they are expanded, decode up to `batchSize` of them,
 * classify them in one call, hand each result on, repeat. At most one batch of decoded audio is
 * alive at a time, so memory does not grow with the number of files.
 */
import { decodeAudio, readFileBytes } from '../audio/decode.js';
import { toMono } from '../audio/types.js';
import type { ClassifierBackend, ClassifyInput, ClassifyItem, Scored } from '../serve/backend.js';
import type { InputRef } from './inputs.js';
import type { BatchRecord } from './writers.js';
import { namedError } from '../util/errors.js';

/** A backend that also hands out each input's logits (batch predict's jsonl/json output carries them). */
export interface LogitsBackend extends ClassifierBackend {
  classifyBatchWithLogits(items: ClassifyItem[], adapter: string): Promise<({ top: Scored[]; logits: number[] } | Error)[]>;
}

function hasLogits(b: ClassifierBackend): b is LogitsBackend {
  return typeof (b as Partial<LogitsBackend>).classifyBatchWithLogits === 'function';
}

export interface BatchProgress {
  done: number;
  failed: number;
  seconds: number;
}

export interface BatchOptions {
  batchSize: number;
  topK: number;
  adapter: string;
  onRecord: (r: BatchRecord) => Promise<void> | void;
  onProgress?: (p: BatchProgress) => void;
  /** how a path becomes model input (default: decode the audio file, downmix to mono) */
  load?: (path: string) => Promise<ClassifyInput>;
}

export async function loadAudioInput(path: string): Promise<ClassifyInput> {
  // a regular file no larger than the audio limit: a FIFO or /dev/zero among the inputs is refused by name
  try {
    const audio = await decodeAudio(readFileBytes(path), path);
    return { kind: 'audio', samples: toMono(audio), sampleRate: audio.sampleRate };
  } catch (e) {
    throw namedError(path, e, 'this clip');
  }
}

/** Strip a leading "<path>: " so a record's error does not repeat its input. */
function reason(path: string, e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.startsWith(`${path}: `) ? m.slice(path.length + 2) : m;
}

export async function predictStream(
  inputs: AsyncIterable<InputRef>,
  backend: ClassifierBackend,
  opts: BatchOptions,
): Promise<BatchProgress> {
  if (!Number.isSafeInteger(opts.batchSize) || opts.batchSize < 1)
    throw new Error(`--batch-size: expected a positive integer, got ${opts.batchSize}`);
  const load = opts.load ?? loadAudioInput;
  const t0 = performance.now();
  const p: BatchProgress = { done: 0, failed: 0, seconds: 0 };
  const tick = () => {
    p.seconds = (performance.now() - t0) / 1000;
    opts.onProgress?.({ ...p });
  };
  const fail = async (path: string, error: string) => {
    p.failed++;
    await opts.onRecord({ input: path, error });
  };
  // failures wait in the batch with the inputs around them, so the output keeps the input order
  type Entry = { path: string; input: ClassifyInput; error?: undefined } | { path: string; error: string };
  let batch: Entry[] = [];
  let pendingInputs = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const entries = batch;
    batch = [];
    pendingInputs = 0;
    const items = entries.filter((e): e is Entry & { input: ClassifyInput } => e.error === undefined);
    let out: ({ top: Scored[]; logits?: number[] } | Error)[] = [];
    let whole: string | null = null;
    if (items.length) {
      try {
        const req = items.map((b) => ({ input: b.input, topK: opts.topK }));
        out = hasLogits(backend)
          ? await backend.classifyBatchWithLogits(req, opts.adapter)
          : (await backend.classifyBatch(req, opts.adapter)).map((r) => (r instanceof Error ? r : { top: r }));
      } catch (e) {
        // the whole call failed: say so for each input rather than stopping the run
        whole = `the model failed on this batch: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    let j = 0;
    for (const e of entries) {
      if (e.error !== undefined) {
        await fail(e.path, e.error);
        continue;
      }
      const r = whole ?? out[j++];
      if (typeof r === 'string') await fail(e.path, r);
      else if (r instanceof Error) await fail(e.path, reason(e.path, r));
      else if (!r.top.every((t) => Number.isFinite(t.score)) || (r.logits && !r.logits.every(Number.isFinite))) {
        // NaN scores would be written as null with the file counted as classified
        await fail(
          e.path,
          `${e.path}: the model's outputs are not finite (NaN or infinity): the input's features or the adapter/backbone weights hold NaN/Inf; not classified`,
        );
      } else {
        p.done++;
        await opts.onRecord({ input: e.path, top: r.top, ...(r.logits ? { logits: r.logits } : {}) });
      }
    }
    tick();
  };
  for await (const ref of inputs) {
    if (ref.error !== undefined) {
      batch.push({ path: ref.path, error: ref.error });
    } else {
      try {
        batch.push({ path: ref.path, input: await load(ref.path) });
        pendingInputs++;
      } catch (e) {
        batch.push({ path: ref.path, error: reason(ref.path, e) });
      }
    }
    // a long run of failures is flushed too, so it is reported as it happens
    if (pendingInputs >= opts.batchSize || batch.length >= 4 * opts.batchSize) await flush();
  }
  await flush();
  tick();
  return p;
}
