/**
 * `AudioClassifier`: the library's way to classify audio with a trained adapter.
 *
 *   const clf = await AudioClassifier.fromPretrained('runs/fsdd_loaa/best');
 *   await clf.classify('clip.wav', { topK: 3 });   // [{ label, score }], best first
 *
 * The backbone is the one the adapter records (rebuilt from its seed when it was random, found in
 * the `loaa pull` cache or at its file path otherwise, checked by sha256), or `opts.backbone`.
 * Several adapters can share one backbone (`addAdapter(name, dir)` / `useAdapter(name)`); switching
 * re-applies the adapter's small tensors, the backbone is never reloaded.
 */
import { decodeAudio, readFileBytes } from '../audio/decode.js';
import { namedError } from '../util/errors.js';
import type { DecodedAudio } from '../audio/types.js';
import type { ClassifyInput, ClassifyItem } from '../serve/backend.js';
import type { LogitsBackend } from '../batch/run.js';
import { Classifier, type Prediction, type Scored } from '../infer/classifier.js';
import type { BackboneProvenance } from '../infer/provenance.js';
import type { DeviceSpec, PrecisionSpec, Precision as ResolvedPrecision } from '../tensor/engine_spec.js';
import './dispose_symbol.js';
import type { FileTimeline, FileTimelineOptions } from '../infer/file_timeline.js';
import { parseInferEngine } from '../infer/engine_choice.js';

export type { Scored } from '../infer/classifier.js';

/** Where to compute: `auto` is the first GPU when there is one (a GPU that is not there is an error). */
export type Device = DeviceSpec;
/** The arithmetic: `auto` is bf16 on CUDA, and on a CPU only where a measured bf16 matmul beats fp32. */
export type Precision = PrecisionSpec;

export interface FromPretrainedOptions {
  /** a backbone checkpoint instead of the one recorded in adapter_config.json */
  backbone?: string;
  /**
   * 'cpu' (default), 'cuda', 'cuda:N' or 'auto' (the first GPU when there is one); a GPU that is
   * not there is an error
   */
  device?: Device;
  /**
   * 'fp32' (default), 'bf16', 'fp16' (libtorch's autocast, as `loaa eval --precision`: linear and
   * conv in the low precision, the adapter's tensors and the logits float32), or 'auto' (bf16 on
   * CUDA; on a CPU only where a measured bf16 matmul beats fp32)
   */
  precision?: Precision;
  /** use the backbone even if its sha256 is not the recorded one */
  force?: boolean;
  /** name of the first adapter (default "default") */
  name?: string;
  /** 'auto' (default: onnxruntime-node where installed and measured faster, CPU fp32 only), 'onnx' or 'torch' */
  engine?: 'auto' | 'onnx' | 'torch';
}

/** A path, the bytes of an audio file (WAV, FLAC, Ogg/Vorbis, MP3), or samples with their rate. */
export type AudioInput = string | Uint8Array | { samples: Float32Array; sampleRate: number };

export interface ClassifyOptions {
  /** labels returned, best first (default 5, at most the class count) */
  topK?: number;
  /** the sample rate when `input` is a bare Float32Array (required then: the overloads say so) */
  sampleRate?: number;
}

export interface ClassifyManyOptions extends ClassifyOptions {
  /** inputs per forward pass (default 8) */
  batchSize?: number;
  /**
   * 'throw' (default): the first bad input rejects the whole call; 'return': one
   * `ClassifyOutcome` per input, so one bad file among good ones still gives the good ones' labels
   */
  errors?: 'throw' | 'return';
}

/** One input's result from `classifyMany(inputs, { errors: 'return' })`, in input order. */
export type ClassifyOutcome<I = AudioInput | Float32Array> = { ok: true; input: I; top: Scored[] } | { ok: false; input: I; error: Error };

/** `classifyMany`'s result: per-input outcomes when asked for, else the labels (or a rejection). */
export type ClassifyManyResult<O> = O extends { errors: 'return' } ? ClassifyOutcome[] : Scored[][];

/** The public surface over the one inference pipeline (src/infer/classifier.ts). */
export class AudioClassifier implements LogitsBackend {
  #core: Classifier | null;

  private constructor(core: Classifier) {
    this.#core = core;
  }

  /** The pipeline, or the error every use after dispose() gets (not a libtorch "tensor has been disposed"). */
  private get core(): Classifier {
    if (this.#core === null) throw new Error('AudioClassifier has been disposed');
    return this.#core;
  }

  /** True once dispose() has run. */
  get disposed(): boolean {
    return this.#core === null;
  }

  static async fromPretrained(adapterDir: string, opts: FromPretrainedOptions = {}): Promise<AudioClassifier> {
    const { backbone, force, device, precision, name } = opts;
    const core = Classifier.fromPretrained(adapterDir, {
      backbone,
      force,
      device,
      precision,
      name,
      names: { device: 'device', precision: 'precision' },
    });
    await core
      .useEngine(parseInferEngine(opts.engine, 'engine'), { names: { engine: 'engine', device: 'device', precision: 'precision' } })
      .catch((e: unknown) => {
        core.dispose();
        throw e;
      });
    return new AudioClassifier(core);
  }

  /** The backbone's recorded provenance (null when it was given without one). */
  get backbone(): BackboneProvenance | null {
    return this.core.backbone;
  }

  /** Where and in which precision this classifier computes. */
  get device(): string {
    return this.core.device;
  }

  get precision(): ResolvedPrecision {
    return this.core.precision;
  }

  /** The runtime the logits are computed on: 'onnx' (onnxruntime-node) or 'torch' (libtorch). */
  get engine(): 'onnx' | 'torch' {
    return this.core.runtime;
  }

  /** Registers an adapter trained on the same backbone (checked when both record it) under `name`; `useAdapter(name)` switches to it. */
  addAdapter(name: string, dir: string): void {
    this.core.addAdapter(name, dir);
  }

  /** @deprecated since 0.2: renamed `addAdapter` (it registers, it does not switch); removed in the next release. */
  loadAdapter(name: string, dir: string): void {
    this.addAdapter(name, dir);
  }

  useAdapter(name: string): void {
    this.core.useAdapter(name);
  }

  get activeAdapter(): string {
    return this.core.activeAdapter;
  }

  adapters(): string[] {
    return this.core.adapters();
  }

  get labels(): string[] {
    return this.core.labels;
  }

  private async decode(input: AudioInput | Float32Array, opts: ClassifyOptions): Promise<{ audio: DecodedAudio; source: string }> {
    // a bare "Array buffer allocation failed" from a decoder becomes a message naming the input
    const named =
      (source: string) =>
      (e: unknown): never => {
        throw namedError(source, e, 'this clip');
      };
    if (typeof input === 'string') return { audio: await decodeAudio(readFileBytes(input), input).catch(named(input)), source: input };
    if (input instanceof Float32Array) {
      if (opts.sampleRate === undefined) throw new Error('sampleRate: required with a Float32Array of samples');
      return { audio: { sampleRate: opts.sampleRate, channels: [input] }, source: 'samples' };
    }
    if (input instanceof Uint8Array)
      return { audio: await decodeAudio(input, 'audio bytes').catch(named('audio bytes')), source: 'audio bytes' };
    if (input && input.samples instanceof Float32Array)
      return { audio: { sampleRate: input.sampleRate, channels: [input.samples] }, source: 'samples' };
    throw new Error('input: expected a path, the bytes of an audio file, or { samples: Float32Array, sampleRate }');
  }

  /** A path, the bytes of an audio file, or `{ samples, sampleRate }` -> `[{ label, score }]`, best first. */
  classify(input: AudioInput, opts?: ClassifyOptions): Promise<Scored[]>;
  /** Bare mono samples: their `sampleRate` is required. */
  classify(input: Float32Array, opts: ClassifyOptions & { sampleRate: number }): Promise<Scored[]>;
  async classify(input: AudioInput | Float32Array, opts: ClassifyOptions = {}): Promise<Scored[]> {
    return (await this.classifyMany([input] as AudioInput[], opts))[0]!;
  }

  /**
   * Several inputs in forward passes of `batchSize` (default 8). By default the first bad input
   * rejects the call; with `errors: 'return'` each input gets `{ ok, input, top | error }`.
   */
  classifyMany<O extends ClassifyManyOptions = ClassifyManyOptions>(inputs: AudioInput[], opts?: O): Promise<ClassifyManyResult<O>>;
  /** Inputs that include bare Float32Arrays: their `sampleRate` is required. */
  classifyMany<O extends ClassifyManyOptions & { sampleRate: number }>(
    inputs: (AudioInput | Float32Array)[],
    opts: O,
  ): Promise<ClassifyManyResult<O>>;
  async classifyMany(inputs: (AudioInput | Float32Array)[], opts: ClassifyManyOptions = {}): Promise<Scored[][] | ClassifyOutcome[]> {
    if (opts.errors !== undefined && opts.errors !== 'throw' && opts.errors !== 'return')
      throw new Error(`errors: expected "throw" or "return", not ${JSON.stringify(opts.errors)}`);
    const core = this.core;
    const bs = opts.batchSize ?? 8;
    const out: ClassifyOutcome[] = [];
    for (let s = 0; s < inputs.length; s += bs) {
      const chunk = inputs.slice(s, s + bs);
      const rows: (Float32Array | Error)[] = [];
      const names: string[] = [];
      for (const input of chunk) {
        try {
          const { audio, source } = await this.decode(input, opts);
          rows.push(core.audioFeatures(audio, source).data);
          names.push(source);
        } catch (e) {
          if (opts.errors !== 'return') throw e;
          rows.push(e instanceof Error ? e : new Error(String(e)));
          names.push('input');
        }
      }
      const results = await core.classifyManyAsync(rows, opts.topK ?? 5, { names });
      for (const [i, r] of results.entries()) {
        if (r instanceof Error && opts.errors !== 'return') throw r;
        out.push(r instanceof Error ? { ok: false, input: chunk[i]!, error: r } : { ok: true, input: chunk[i]!, top: r.top });
      }
    }
    return opts.errors === 'return' ? out : out.map((o) => (o.ok ? o.top : []));
  }

  /** ClassifierBackend (the server, batch predict): per-item errors, one forward per call. */
  async classifyBatch(items: ClassifyItem[], adapter: string): Promise<(Scored[] | Error)[]> {
    return (await this.classifyBatchWithLogits(items, adapter)).map((r) => (r instanceof Error ? r : r.top));
  }

  /** classifyBatch with each input's logits beside its top labels (batch predict's JSON output). */
  async classifyBatchWithLogits(items: ClassifyItem[], adapter: string): Promise<({ top: Scored[]; logits: number[] } | Error)[]> {
    this.core.useAdapter(adapter);
    const rows = items.map(({ input }) => {
      try {
        return this.inputFeatures(input);
      } catch (e) {
        return e as Error;
      }
    });
    // each item keeps its own top-k: classify with the largest, then cut; the server and batch
    // predict refuse NaN scores themselves, naming the request or the file
    const k = Math.max(1, ...items.map((i) => i.topK));
    return (await this.core.classifyManyAsync(rows, k, { checkOutputs: false })).map((r: Prediction | Error, i) =>
      r instanceof Error ? r : { top: r.top.slice(0, items[i]!.topK), logits: r.logits },
    );
  }

  private inputFeatures(input: ClassifyInput): Float32Array {
    const [frames, melBins] = this.core.inputShape;
    if (input.kind === 'audio') return this.core.audioFeatures({ sampleRate: input.sampleRate, channels: [input.samples] }, 'audio').data;
    const s = input.shape;
    const ok =
      (s.length === 2 && s[0] === frames && s[1] === melBins) || (s.length === 3 && s[0] === 1 && s[1] === frames && s[2] === melBins);
    if (!ok)
      throw new Error(`features: shape [${s.join(', ')}], the model takes [${frames}, ${melBins}] (frames x mel bins, already normalised)`);
    return input.data;
  }

  /**
   * Segments of an audio file of any length: `{ segments: [{ start, end, label, score }], duration,
   * windows, window, hop }` (seconds). `window` defaults to the model's clip length, `hop` to half of
   * it; `adapter` switches to that loaded adapter first. How windows become segments: docs/timeline.md.
   */
  async timeline(input: string, opts: FileTimelineOptions & { adapter?: string } = {}): Promise<FileTimeline> {
    const core = this.core;
    if (opts.adapter !== undefined) core.useAdapter(opts.adapter);
    return core.timeline(input, opts);
  }

  /** Frees the model's tensors; any later use is an error "AudioClassifier has been disposed". Idempotent. */
  dispose(): void {
    const core = this.#core;
    this.#core = null;
    core?.dispose();
  }

  /** `using clf = await AudioClassifier.fromPretrained(...)` disposes it at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
