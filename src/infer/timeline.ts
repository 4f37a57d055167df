/**
 * "What sounds where" over a recording of any length: fixed windows slide over the samples as they
 * arrive, an injected scorer gives each window's logits (batched; either engine), and adjacent
 * windows with the same top label merge into one segment. Memory is the window plus a batch of
 * windows plus one incoming piece, never the recording. How windows, hop and merging relate to the
 * segments' times is in docs/timeline.md.
 */

/** Logits for each window, in order: one row per window, one number per label. */
export type ScoreWindows = (windows: Float32Array[]) => Promise<number[][]>;

export interface TimelineOptions {
  /** seconds of audio each window holds (the model's clip length, usually) */
  window: number;
  /** seconds between window starts; 0 < hop <= window */
  hop: number;
  labels: readonly string[];
  scoreWindows: ScoreWindows;
  /** rate of the incoming samples (default 16000) */
  sampleRate?: number;
  /** windows scored per call (default 8) */
  batchSize?: number;
}

export interface Segment {
  /** seconds from the start of the recording */
  start: number;
  end: number;
  label: string;
  /** mean over the segment's windows of the top label's softmax probability */
  score: number;
}

export interface Timeline {
  segments: Segment[];
  /** seconds of audio read */
  duration: number;
  /** windows scored */
  windows: number;
}

interface Geometry {
  sr: number;
  /** window and hop in samples */
  W: number;
  H: number;
}

function checkOptions(opts: TimelineOptions): Geometry {
  const sr = opts.sampleRate ?? 16000;
  if (!Number.isSafeInteger(sr) || sr <= 0) throw new Error(`sampleRate: must be a positive integer, got ${sr}`);
  const { window, hop } = opts;
  if (!(Number.isFinite(window) && window > 0)) throw new Error(`window: must be a positive number of seconds, got ${window}`);
  if (!(Number.isFinite(hop) && hop > 0)) throw new Error(`hop: must be a positive number of seconds, got ${hop}`);
  if (hop > window) throw new Error(`hop: ${hop} s is longer than the ${window} s window (audio between windows would never be heard)`);
  const W = Math.round(window * sr);
  const H = Math.round(hop * sr);
  if (H < 1) throw new Error(`hop: ${hop} s is less than one sample at ${sr} Hz`);
  const batch = opts.batchSize ?? 8;
  if (!Number.isSafeInteger(batch) || batch < 1) throw new Error(`batchSize: must be a positive integer, got ${batch}`);
  if (opts.labels.length === 0) throw new Error('labels: empty (the scorer has nothing to name)');
  return { sr, W, H };
}

/** Index of the largest logit and its softmax probability (max subtracted first: no overflow). */
export function topSoftmax(logits: readonly number[]): { index: number; score: number } {
  let index = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[index]!) index = i;
  const top = logits[index]!;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - top);
  return { index, score: 1 / sum };
}

/**
 * Folds window labels into segments. Window i holds samples [i*H, i*H + W); it speaks for the
 * stretch of time nearer its centre than any other window's: boundaries fall halfway between
 * consecutive centres, i*H + (W + H) / 2, the first segment starts at 0 and the last ends with the
 * recording. With hop <= window every boundary lies inside the recording, so the segments tile it.
 */
class Merger {
  readonly segments: Segment[] = [];
  private open: { label: string; start: number; sum: number; count: number } | null = null;
  private count = 0;
  constructor(private readonly g: Geometry) {}

  add(label: string, score: number): void {
    const i = this.count++;
    const o = this.open;
    if (o && o.label === label) {
      o.sum += score;
      o.count++;
      return;
    }
    const start = i === 0 ? 0 : this.boundary(i - 1);
    if (o) this.close(start);
    this.open = { label, start, sum: score, count: 1 };
  }

  finish(duration: number): void {
    this.close(duration);
    this.open = null;
  }

  get windows(): number {
    return this.count;
  }

  private boundary(i: number): number {
    const { W, H, sr } = this.g;
    return (i * H + (W + H) / 2) / sr;
  }

  private close(end: number): void {
    const o = this.open;
    if (o) this.segments.push({ start: o.start, end, label: o.label, score: o.sum / o.count });
  }
}

export async function timeline(chunks: AsyncIterable<Float32Array> | Iterable<Float32Array>, opts: TimelineOptions): Promise<Timeline> {
  const g = checkOptions(opts);
  const { W, H } = g;
  const batchSize = opts.batchSize ?? 8;
  const merger = new Merger(g);
  let batch: Float32Array[] = [];

  const score = async (): Promise<void> => {
    if (!batch.length) return;
    const rows = await opts.scoreWindows(batch);
    if (!Array.isArray(rows) || rows.length !== batch.length) {
      throw new Error(`scoreWindows: returned ${Array.isArray(rows) ? rows.length : typeof rows} rows for ${batch.length} windows`);
    }
    rows.forEach((row, r) => {
      if (!row || row.length !== opts.labels.length) {
        throw new Error(`scoreWindows: row ${r} has ${row?.length} logits, expected one per label (${opts.labels.length})`);
      }
      if (!row.every(Number.isFinite)) throw new Error(`scoreWindows: row ${r} has a NaN or infinite logit`);
      const { index, score } = topSoftmax(row);
      merger.add(opts.labels[index]!, score);
    });
    batch = [];
  };
  const take = async (w: Float32Array): Promise<void> => {
    batch.push(w);
    if (batch.length >= batchSize) await score();
  };

  // samples [bufStart, seen) are held in buf; bufStart is the next window's start
  let buf = new Float32Array(W);
  let bufStart = 0;
  let seen = 0;
  let lastEnd = -1; // end (in samples) of the last window taken; -1: none yet
  for await (const piece of chunks) {
    if (!(piece instanceof Float32Array))
      throw new Error(`timeline: chunks must be Float32Arrays, got ${Object.prototype.toString.call(piece)}`);
    const held = seen - bufStart;
    if (held + piece.length > buf.length) {
      const grown = new Float32Array(Math.max(held + piece.length, 2 * buf.length));
      grown.set(buf.subarray(0, held));
      buf = grown;
    }
    buf.set(piece, held);
    seen += piece.length;
    let off = 0;
    while (seen - (bufStart + off) >= W) {
      await take(buf.slice(off, off + W));
      lastEnd = bufStart + off + W;
      off += H;
    }
    if (off > 0) {
      buf.copyWithin(0, off, seen - bufStart);
      bufStart += off;
    }
  }
  if (seen === 0) throw new Error('timeline: the audio has no samples');
  // windows that reach past the end: zero-padded, as short clips are; their time is clipped to the end
  while (lastEnd < seen) {
    const w = new Float32Array(W);
    w.set(buf.subarray(0, Math.min(W, seen - bufStart)));
    await take(w);
    lastEnd = bufStart + W;
    const step = Math.min(H, seen - bufStart);
    buf.copyWithin(0, step, seen - bufStart);
    bufStart += step;
  }
  await score();
  const duration = seen / g.sr;
  merger.finish(duration);
  return { segments: merger.segments, duration, windows: merger.windows };
}
