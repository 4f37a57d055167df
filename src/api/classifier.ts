/**
 * `AudioClassifier`: the library's way to classify audio with a trained adapter.
 *
 *   const clf = await AudioClassifier.fromPretrained('runs/fsdd_loaa/best');
 *   await clf.classify('clip.wav', { topK: 3 });   // [{ label, score }], best first
 *
 * The backbone is the one the adapter records (rebuilt from its seed when it was random, found in
 * the `loaa pull` cache or at its file path otherwise, checked by sha256), or `opts.backbone`.
 * Several adapters can share one backbone (`loadAdapter(name, dir)` / `useAdapter(name)`); switching
 * re-applies the adapter's small tensors, the backbone is never reloaded.
 */
import { decodeAudio, readFileBytes } from '../audio/decode.js';
import { namedError } from '../util/errors.js';
import type { DecodedAudio } from '../audio/types.js';
import type { ClassifyInput, ClassifyItem } from '../serve/backend.js';
import type { LogitsBackend } from '../batch/run.js';
import { Classifier, type Prediction, type Scored } from '../infer/classifier.js';
import type { BackboneProvenance } from '../infer/provenance.js';
import { parseInferEngine } from '../infer/engine_choice.js';
import type { Precision } from '../tensor/autocast.js';

export type { Scored } from '../infer/classifier.js';

export interface FromPretrainedOptions {
  /** a backbone checkpoint instead of the one recorded in adapter_config.json */
  backbone?: string;
  /**
   * 'cpu' (default), 'cuda', 'cuda:N' or 'auto' (the first GPU when there is one); a GPU that is
   * not there is an error
   */
  device?: string;
  /**
   * 'fp32' (default), 'bf16', 'fp16' (libtorch's autocast, as `loaa eval --precision`: linear and
   * conv in the low precision, the adapter's tensors and the logits float32), or 'auto' (bf16 on
   * CUDA; on a CPU only where a measured bf16 matmul beats fp32)
   */
  precision?: string;
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
  /** the sample rate when `input` is a bare Float32Array */
  sampleRate?: number;
}

/** The public surface over the one inference pipeline (src/infer/classifier.ts). */
export class AudioClassifier implements LogitsBackend {
  private constructor(private readonly core: Classifier) {}

  static async fromPretrained(adapterDir: string, opts: FromPretrainedOptions = {}): Promise<AudioClassifier> {
    const { backbone, force, device, precision, name } = opts;
    const core = Classifier.fromPretrained(adapterDir, { backbone, force, device, precision, name, names: { device: 'device', precision: 'precision' } });
    await core.useEngine(parseInferEngine(opts.engine, 'engine'), { names: { engine: 'engine', device: 'device', precision: 'precision' } }).catch((e: unknown) => {
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

  get precision(): Precision {
    return this.core.precision;
  }

  /** The runtime the logits are computed on: 'onnx' (onnxruntime-node) or 'torch' (libtorch). */
  get engine(): 'onnx' | 'torch' {
    return this.core.runtime;
  }

  /** Adds an adapter trained on the same backbone (checked when both record it) under `name`. */
  loadAdapter(name: string, dir: string): void {
    this.core.addAdapter(name, dir);
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
    const named = (source: string) => (e: unknown): never => {
      throw namedError(source, e, 'this clip');
    };
    if (typeof input === 'string') return { audio: await decodeAudio(readFileBytes(input), input).catch(named(input)), source: input };
    if (input instanceof Float32Array) {
      if (opts.sampleRate === undefined) throw new Error('sampleRate: required with a Float32Array of samples');
      return { audio: { sampleRate: opts.sampleRate, channels: [input] }, source: 'samples' };
    }
    if (input instanceof Uint8Array) return { audio: await decodeAudio(input, 'audio bytes').catch(named('audio bytes')), source: 'audio bytes' };
    if (input && input.samples instanceof Float32Array) return { audio: { sampleRate: input.sampleRate, channels: [input.samples] }, source: 'samples' };
    throw new Error('input: expected a path, the bytes of an audio file, or { samples: Float32Array, sampleRate }');
  }

  async classify(input: AudioInput | Float32Array, opts: ClassifyOptions = {}): Promise<Scored[]> {
    return (await this.classifyMany([input], opts))[0];
  }

  /** Several inputs in batches of `batchSize` (default 8) forward passes; the first failure throws. */
  async classifyMany(inputs: (AudioInput | Float32Array)[], opts: ClassifyOptions & { batchSize?: number } = {}): Promise<Scored[][]> {
    const bs = opts.batchSize ?? 8;
    const out: Scored[][] = [];
    for (let s = 0; s < inputs.length; s += bs) {
      const rows: Float32Array[] = [];
      const names: string[] = [];
      for (const input of inputs.slice(s, s + bs)) {
        const { audio, source } = await this.decode(input, opts);
        rows.push(this.core.audioFeatures(audio, source).data);
        names.push(source);
      }
      for (const r of await this.core.classifyManyAsync(rows, opts.topK ?? 5, { names })) {
        if (r instanceof Error) throw r;
        out.push(r.top);
      }
    }
    return out;
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
    return (await this.core.classifyManyAsync(rows, k, { checkOutputs: false })).map((r: Prediction | Error, i) => (r instanceof Error ? r : { top: r.top.slice(0, items[i]!.topK), logits: r.logits }));
  }

  private inputFeatures(input: ClassifyInput): Float32Array {
    const [tdim, fdim] = this.core.inputShape;
    if (input.kind === 'audio') return this.core.audioFeatures({ sampleRate: input.sampleRate, channels: [input.samples] }, 'audio').data;
    const s = input.shape;
    const ok = (s.length === 2 && s[0] === tdim && s[1] === fdim) || (s.length === 3 && s[0] === 1 && s[1] === tdim && s[2] === fdim);
    if (!ok) throw new Error(`features: shape [${s.join(', ')}], the model takes [${tdim}, ${fdim}] (frames x mel bins, already normalised)`);
    return input.data;
  }

  dispose(): void {
    this.core.dispose();
  }
}
