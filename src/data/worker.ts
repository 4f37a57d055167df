/**
 * The loader's per-batch work: read clips, run the front end, augment, build targets. Pure data
 * (Float32Arrays, never tensors), so it runs in worker threads without loading libtorch, and in
 * process for `workers: 0`. Every random draw comes from the item's own seed, so a batch is the same
 * whichever thread computes it.
 *
 * Loaded as a worker (by loader.ts, with `workerData.loaaLoader`), it serves jobs one at a time in
 * arrival order and transfers the result buffers back.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { decodeAudio, readAudio, readFileBytes, readWavSync } from '../audio/decode.js';
import { addNoiseAndRoll, frequencyMask, mixWaveforms, timeMask } from '../audio/augment.js';
import { clipStats, frontendNormalize, frontendSpectrogram, frontendWaveform, type FrontendSpec } from '../audio/frontend.js';
import { epicSpecAugment, rngDraws, type EpicAugmentOptions } from '../audio/spec_augment_epic.js';
import { cutWindow, type WindowSpec } from './window.js';
import { Rng } from '../audio/rng.js';
import { toMono, type DecodedAudio, type Spectrogram } from '../audio/types.js';
import { isWav } from '../audio/wav.js';
import type { AudioHdf5 } from '../audio/hdf5.js';
import type { ClipRef } from './types.js';

/** How a clip becomes the model input: the front end's one spec (src/audio/frontend.ts). */
export type { FrontendSpec } from '../audio/frontend.js';

/** Training-time augmentation (AST's recipes). */
export interface AugmentSpec {
  /** SpecAugment frequency mask width parameter (0 = off) */
  freqm: number;
  /** SpecAugment time mask width parameter (0 = off) */
  timem: number;
  /** probability of waveform mixup with a random clip of the set (0 = off) */
  mixup: number;
  /** lambda ~ Beta(alpha, alpha) */
  mixupAlpha: number;
  /** Speech Commands noise + time roll after normalisation */
  noise: boolean;
  /** EPIC-SOUNDS' SpecAugment (time warp, frequency and time masks filled with the mean); null = off */
  epic?: EpicAugmentOptions | null;
}

/** A clip as a worker receives it (structured-cloned: plain fields only, which a ClipRef is). */
export type ClipLite = ClipRef;

export interface JobItem {
  clip: ClipLite;
  /** seeds this item's augmentation draws */
  seed: number;
  /** mixup partner, when this item is mixed */
  mix?: ClipLite;
  /** which of the window's evenly spaced views (WindowSpec.views > 1) */
  view?: number;
}

export interface Job {
  frontend: FrontendSpec;
  augment: AugmentSpec | null;
  numClasses: number;
  /** the part of each clip the front end sees (src/data/window.ts); absent: the whole clip */
  window?: WindowSpec | null;
  items: JobItem[];
  /** return per-clip [mean, std] of the features instead of the features (normalisation statistics) */
  statsOnly?: boolean;
}

export interface JobResult {
  /** [B, frames, bins] row-major (empty with statsOnly) */
  x: Float32Array;
  frames: number;
  bins: number;
  /** [B, numClasses]: one-hot, multi-hot or mixed; zeros for unlabelled clips */
  targets: Float32Array;
  /** class index per item; -1 for unlabelled, multi-label or mixed items */
  labels: Int32Array;
  /** whether any item carries soft or multiple targets (mixup, multi-label) */
  soft: boolean;
  /** statsOnly: [mean0, std0, mean1, std1, ...] */
  stats?: Float64Array;
}

/** EPIC-SOUNDS HDF5 audio is 24 kHz; the file does not say so. */
const HDF5_RATE = 24000;
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46];

/** Open HDF5 files and recently decoded long files (Speech Commands background noise), per thread. */
const hdf5Files = new Map<string, Promise<AudioHdf5>>();
const decodedCache = new Map<string, DecodedAudio>();
const DECODED_CACHE_MAX = 16;

function isHdf5Path(path: string, clip: ClipLite): boolean {
  if (clip.dataset === 'epic-sounds') return true;
  if (/\.(h5|hdf5)$/i.test(path)) return true;
  return false;
}

async function openHdf5(path: string): Promise<AudioHdf5> {
  let f = hdf5Files.get(path);
  if (!f) {
    f = import('../audio/hdf5.js').then((m) => m.AudioHdf5.open(path));
    hdf5Files.set(path, f);
    f.catch(() => hdf5Files.delete(path));
  }
  return f;
}

async function decodeWhole(path: string): Promise<DecodedAudio> {
  const buf = readFileBytes(path);
  if (isWav(buf)) return readWavSync(path);
  if (HDF5_SIGNATURE.every((v, i) => buf[i] === v))
    throw new Error(`${path}: an HDF5 file needs a clip range (start/end) and a source key`);
  return decodeAudio(buf, path);
}

/** Mono samples of one clip at the file's own rate. */
export async function readClip(clip: ClipLite): Promise<{ mono: Float32Array; rate: number }> {
  const ranged = clip.start !== undefined || clip.end !== undefined;
  if (ranged && isHdf5Path(clip.path, clip)) {
    if (clip.source === undefined) throw new Error(`${clip.path}: clip ${clip.id} has no source (the HDF5 dataset key)`);
    const h5 = await openHdf5(clip.path);
    const start = clip.start ?? 0;
    const end = clip.end ?? h5.length(clip.source);
    return { mono: h5.read(clip.source, start, end), rate: HDF5_RATE };
  }
  if (!ranged) {
    const a = clip.path.toLowerCase().endsWith('.wav') ? readWavSync(clip.path) : await readAudio(clip.path);
    return { mono: toMono(a), rate: a.sampleRate };
  }
  // a window of a long file, read many times (silence clips): keep the decode
  let a = decodedCache.get(clip.path);
  if (!a) {
    a = await decodeWhole(clip.path);
    if (decodedCache.size >= DECODED_CACHE_MAX) decodedCache.delete(decodedCache.keys().next().value as string);
    decodedCache.set(clip.path, a);
  }
  const n = a.channels[0]!.length;
  const start = clip.start ?? 0;
  const end = clip.end ?? n;
  if (!(start >= 0 && end <= n && start < end))
    throw new Error(`${clip.path}: clip ${clip.id}: samples [${start}, ${end}) outside the file's ${n}`);
  const mono = toMono({ sampleRate: a.sampleRate, channels: a.channels.map((c) => c.subarray(start, end)) });
  return { mono: mono.slice(), rate: a.sampleRate };
}

/**
 * The waveform the front end starts from: the recipe's window of the clip (data.window), then cut to
 * what the kept frames need, resampled (AST: centred).
 */
async function waveform(
  clip: ClipLite,
  fe: FrontendSpec,
  win?: { spec: WindowSpec | null | undefined; item: JobItem },
): Promise<Float32Array> {
  const { mono, rate } = await readClip(clip);
  return frontendWaveform(win ? cutWindow(mono, rate, win.spec, win.item) : mono, rate, fe, { source: clip.path });
}

function labelVector(label: number | number[], numClasses: number, where: string): Float32Array {
  const y = new Float32Array(numClasses);
  const list = Array.isArray(label) ? label : label < 0 ? [] : [label];
  for (const k of list) {
    if (!Number.isInteger(k) || k < 0 || k >= numClasses) throw new Error(`${where}: label ${k} outside 0..${numClasses - 1}`);
    y[k] = 1;
  }
  return y;
}

/** One item: features [frames, bins] and its target vector. */
export async function processItem(
  item: JobItem,
  job: Pick<Job, 'frontend' | 'augment' | 'numClasses' | 'window'>,
): Promise<{ spec: Spectrogram; target: Float32Array; label: number; soft: boolean }> {
  const { clip } = item;
  const fe = job.frontend;
  const aug = job.augment;
  try {
    // a different stream from the one that chose the partner (in the main thread)
    const rng = new Rng((item.seed ^ 0x5bd1e995) >>> 0);
    let wave = await waveform(clip, fe, { spec: job.window, item });
    const target = labelVector(clip.label, job.numClasses, clip.id);
    let soft = Array.isArray(clip.label) && clip.label.length !== 1;
    let label = Array.isArray(clip.label) ? (clip.label.length === 1 ? clip.label[0]! : -1) : clip.label;
    if (item.mix && aug) {
      const other = await waveform(item.mix, fe, { spec: job.window, item: { ...item, seed: item.seed ^ 0x1d872b41 } }).catch(
        (e: Error) => {
          throw new Error(`${item.mix!.path}: ${e.message} (mixup partner)`);
        },
      );
      const lambda = rng.beta(aug.mixupAlpha, aug.mixupAlpha);
      wave = mixWaveforms(wave, other, lambda);
      const y2 = labelVector(item.mix.label, job.numClasses, item.mix.id);
      for (let k = 0; k < target.length; k++) target[k] = lambda * target[k]! + (1 - lambda) * y2[k]!;
      soft = true;
      label = -1;
    }
    let spec: Spectrogram = frontendSpectrogram(wave, fe);
    if (aug && aug.freqm > 0) spec = frequencyMask(spec, aug.freqm, rng);
    if (aug && aug.timem > 0) spec = timeMask(spec, aug.timem, rng);
    if (aug?.epic) spec = epicSpecAugment(spec, rngDraws(rng), aug.epic);
    spec = frontendNormalize(spec, fe);
    if (aug?.noise) spec = addNoiseAndRoll(spec, rng).spec;
    return { spec, target, label, soft };
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(clip.path) ? msg : `${clip.path}: ${msg}`);
  }
}

/** A whole batch. */
export async function processJob(job: Job): Promise<JobResult> {
  const B = job.items.length;
  const C = job.numClasses;
  const fe = job.frontend;
  if (job.statsOnly) {
    const stats = new Float64Array(2 * B);
    for (let i = 0; i < B; i++) {
      const { spec } = await processItem(job.items[i]!, { ...job, augment: null, frontend: { ...fe, mean: undefined, std: undefined } });
      const s = clipStats(spec.data);
      stats[2 * i] = s.mean;
      stats[2 * i + 1] = s.std;
    }
    return {
      x: new Float32Array(0),
      frames: fe.targetLength,
      bins: fe.numMelBins,
      targets: new Float32Array(0),
      labels: new Int32Array(0),
      soft: false,
      stats,
    };
  }
  const x = new Float32Array(B * fe.targetLength * fe.numMelBins);
  const targets = new Float32Array(B * C);
  const labels = new Int32Array(B);
  let soft = false;
  const per = fe.targetLength * fe.numMelBins;
  for (let i = 0; i < B; i++) {
    const r = await processItem(job.items[i]!, job);
    if (r.spec.frames !== fe.targetLength || r.spec.bins !== fe.numMelBins) {
      throw new Error(
        `${job.items[i]!.clip.path}: features are [${r.spec.frames}, ${r.spec.bins}], expected [${fe.targetLength}, ${fe.numMelBins}]`,
      );
    }
    x.set(r.spec.data, i * per);
    targets.set(r.target, i * C);
    labels[i] = r.label;
    soft ||= r.soft;
  }
  return { x, frames: fe.targetLength, bins: fe.numMelBins, targets, labels, soft };
}

export interface WorkerRequest {
  id: number;
  job: Job;
}
export type WorkerReply = { id: number; result: JobResult } | { id: number; error: string };

if (!isMainThread && parentPort && (workerData as { loaaLoader?: boolean } | null)?.loaaLoader) {
  const port = parentPort;
  // one job at a time, in arrival order: results come back in the order they were asked for
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (req: WorkerRequest) => {
    chain = chain.then(async () => {
      try {
        const result = await processJob(req.job);
        const transfer = [result.x.buffer, result.targets.buffer, result.labels.buffer];
        if (result.stats) transfer.push(result.stats.buffer);
        port.postMessage({ id: req.id, result } satisfies WorkerReply, transfer as ArrayBuffer[]);
      } catch (e) {
        port.postMessage({ id: req.id, error: (e as Error).message ?? String(e) } satisfies WorkerReply);
      }
    });
  });
}
