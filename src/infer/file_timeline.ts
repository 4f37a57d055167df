/**
 * A timeline (src/infer/timeline.ts) over an audio file through the inference pipeline: the file is
 * streamed at the front end's rate, and each window goes through the same `features()` a clip does
 * (its own padding and normalisation) and the model's logits, a batch at a time. The classifier's
 * `timeline()` calls this with its front end, labels and logits; the window and hop defaults and
 * their checks live here so the CLI can check its flags before a backbone is loaded.
 */
import { EPIC_DEFAULTS } from '../audio/epic.js';
import { openAudioStream } from '../audio/stream.js';
import { openWavStream } from '../audio/wav_stream.js';
import { featuresOfAudio, type FrontendSpec } from './features.js';
import { timeline, type Timeline } from './timeline.js';

export interface FileTimelineOptions {
  /** seconds per window (default: the model's clip length, `clipSeconds`) */
  window?: number;
  /** seconds between window starts (default window / 2) */
  hop?: number;
  /** windows per forward pass (default 8) */
  batchSize?: number;
  /** after each batch: windows scored so far, and the expected total when the file's length is known up front (WAV) */
  onProgress?: (done: number, total: number | undefined) => void;
}

export interface FileTimeline extends Timeline {
  /** the window and hop used, in seconds */
  window: number;
  hop: number;
}

export interface WindowScorer {
  frontend: FrontendSpec;
  labels: readonly string[];
  /** [frames, mel bins] the model takes */
  inputShape: readonly [number, number];
  /** logits of `n` inputs laid out [n, frames, mel bins] */
  logits(fbank: Float32Array, n: number): number[][];
}

/** Seconds of audio the model's frames span: the front end's target length times its frame shift. */
export function clipSeconds(fe: FrontendSpec): number {
  if (!(fe.targetLength > 0)) return 1; // no fixed length (features only): a second, as good as any
  const shift = fe.type === 'epic' ? EPIC_DEFAULTS.hopLength / fe.sampleRate : 0.01;
  return fe.targetLength * shift;
}

/**
 * The window and hop in seconds, defaults filled in and checked; errors start with the option's
 * name (`window: ...`, `hop: ...`) so callers can name their own flag.
 */
export function windowAndHop(fe: FrontendSpec, window?: number, hop?: number): { window: number; hop: number } {
  const w = window ?? clipSeconds(fe);
  if (!(Number.isFinite(w) && w > 0)) throw new Error(`window: must be a positive number of seconds, got ${w}`);
  // a window shorter than one analysis frame would be padded into a clip of silence
  const minimum = fe.type === 'epic' ? EPIC_DEFAULTS.winLength / fe.sampleRate : 0.025;
  if (w < minimum) throw new Error(`window: ${w} s is shorter than one ${minimum * 1000} ms analysis frame of the front end`);
  const h = hop ?? w / 2;
  if (!(Number.isFinite(h) && h > 0)) throw new Error(`hop: must be a positive number of seconds, got ${h}`);
  if (h > w) throw new Error(`hop: ${h} s is longer than the ${w} s window (audio between windows would never be heard)`);
  return { window: w, hop: h };
}

export async function fileTimeline(file: string, scorer: WindowScorer, opts: FileTimelineOptions = {}): Promise<FileTimeline> {
  const fe = scorer.frontend;
  const { window, hop } = windowAndHop(fe, opts.window, opts.hop);
  const sampleRate = fe.sampleRate;
  const total = expectedWindows(file, sampleRate, window, hop);
  const [T, F] = scorer.inputShape;
  const per = T * F;
  let done = 0;
  const scoreWindows = async (windows: Float32Array[]): Promise<number[][]> => {
    const x = new Float32Array(windows.length * per);
    windows.forEach((w, j) => {
      const source = `${file} (window at ${((done + j) * hop).toFixed(2)} s)`;
      const f = featuresOfAudio({ sampleRate, channels: [w] }, fe, source).data;
      if (f.length !== per) throw new Error(`${source}: features are ${f.length} values, the model takes ${T} x ${F}`);
      const bad = f.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new Error(`${source}: the features hold ${f[bad]} at frame ${Math.floor(bad / F)}, bin ${bad % F}`);
      x.set(f, j * per);
    });
    const rows = scorer.logits(x, windows.length);
    done += windows.length;
    opts.onProgress?.(done, total);
    return rows;
  };
  const stream = await openAudioStream(file, { sampleRate });
  try {
    const t = await timeline(stream.chunks(), { window, hop, labels: scorer.labels, scoreWindows, sampleRate, batchSize: opts.batchSize });
    return { ...t, window, hop };
  } finally {
    stream.close();
  }
}

/** Windows a WAV file will give (its header says its length); undefined for other formats, decoded whole later. */
function expectedWindows(file: string, sampleRate: number, window: number, hop: number): number | undefined {
  let head: { frames: number; sampleRate: number };
  try {
    const wav = openWavStream(file); // reads the header only
    head = { frames: wav.frames, sampleRate: wav.sampleRate };
    wav.close();
  } catch {
    return undefined; // not a WAV (or a bad one: openAudioStream reports it in its own words)
  }
  const n = Math.round((head.frames * sampleRate) / head.sampleRate);
  const W = Math.round(window * sampleRate);
  const H = Math.round(hop * sampleRate);
  return 1 + Math.max(0, Math.ceil((n - W) / H));
}
