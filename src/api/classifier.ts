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
import { noGrad, tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import { loadAdapter, readAdapterConfig, type AdapterConfigFile } from '../peft/checkpoint.js';
import type { ClassifyInput, ClassifyItem, Scored } from '../serve/backend.js';
import type { LogitsBackend } from '../batch/run.js';
import { featuresOfAudio, frontendSpec } from '../infer/features.js';
import { resolveBackbone, type BackboneProvenance } from '../infer/provenance.js';
import { CPU_FP32, placeModel, type Engine } from '../train/engine.js';
import { autocast, deviceType, parsePrecision, precisionDtype, type Precision } from '../tensor/autocast.js';
import { resolveDevice, toDevice } from '../tensor/device.js';
import { resolvePrecision } from '../tensor/precision.js';

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
}

/** A path, the bytes of an audio file (WAV, FLAC, Ogg/Vorbis, MP3), or samples with their rate. */
export type AudioInput = string | Uint8Array | { samples: Float32Array; sampleRate: number };

export interface ClassifyOptions {
  /** labels returned, best first (default 5, at most the class count) */
  topK?: number;
  /** the sample rate when `input` is a bare Float32Array */
  sampleRate?: number;
}

interface Entry {
  dir: string;
  config: AdapterConfigFile;
  labels: string[];
}

function softmaxTop(logits: number[], labels: string[], k: number): Scored[] {
  const m = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  const order = logits.map((_, i) => i).sort((a, b) => e[b] - e[a] || a - b);
  return order.slice(0, Math.min(k, labels.length)).map((i) => ({ label: labels[i] ?? String(i), score: e[i] / z }));
}

export class AudioClassifier implements LogitsBackend {
  private readonly entries = new Map<string, Entry>();
  private active: string;

  private constructor(
    private readonly model: AudioSpectrogramTransformer,
    readonly backbone: BackboneProvenance | null,
    name: string,
    first: Entry,
    private readonly engine: Engine = CPU_FP32,
  ) {
    this.entries.set(name, first);
    this.active = name;
    model.eval();
  }

  static async fromPretrained(adapterDir: string, opts: FromPretrainedOptions = {}): Promise<AudioClassifier> {
    // the device and precision first: a GPU that is not there should not cost a backbone load
    const device = resolveDevice(opts.device ?? 'cpu', 'device');
    const precision = resolvePrecision(parsePrecision(opts.precision ?? 'fp32', 'precision'), device);
    const engine: Engine = { device, precision, amp: { device: deviceType(device), dtype: precisionDtype(precision) } };
    const config = readAdapterConfig(adapterDir);
    const { model, provenance } = resolveBackbone(adapterDir, config, { backbone: opts.backbone, force: opts.force });
    try {
      placeModel(model, engine);
      loadAdapter(adapterDir, model);
      model.castFrozenWeights(engine.amp.dtype); // loading dropped the low-precision copies
    } catch (e) {
      model.dispose();
      throw e;
    }
    return new AudioClassifier(model, provenance, opts.name ?? 'default', AudioClassifier.entry(adapterDir, config), engine);
  }

  /** Where and in which precision this classifier computes. */
  get device(): string {
    return this.engine.device;
  }

  get precision(): Precision {
    return this.engine.precision;
  }

  /** Loads an adapter's tensors into the model (which drops the cast-once low-precision weights). */
  private apply(dir: string): void {
    loadAdapter(dir, this.model);
    this.model.castFrozenWeights(this.engine.amp.dtype);
  }

  private static entry(dir: string, config: AdapterConfigFile): Entry {
    return { dir, config, labels: config.labels ?? Array.from({ length: config.num_classes }, (_, i) => String(i)) };
  }

  /** Adds an adapter trained on the same backbone (checked when both record it) under `name`. */
  loadAdapter(name: string, dir: string): void {
    if (this.entries.has(name)) throw new Error(`loadAdapter: an adapter named "${name}" is already loaded`);
    const config = readAdapterConfig(dir);
    const other = (config as { backbone?: { sha256?: string } }).backbone?.sha256;
    if (this.backbone && other && other !== this.backbone.sha256) {
      throw new Error(`${dir}: trained on backbone sha256 ${other}, this classifier's backbone is ${this.backbone.sha256}`);
    }
    // a trial load checks the fit now rather than at the first request; then back to the active one
    loadAdapter(dir, this.model);
    this.entries.set(name, AudioClassifier.entry(dir, config));
    this.apply(this.entries.get(this.active)!.dir);
  }

  useAdapter(name: string): void {
    const e = this.entries.get(name);
    if (!e) throw new Error(`useAdapter: no adapter "${name}" (loaded: ${this.adapters().join(', ')})`);
    if (name === this.active) return;
    this.apply(e.dir);
    this.active = name;
  }

  get activeAdapter(): string {
    return this.active;
  }

  adapters(): string[] {
    return [...this.entries.keys()];
  }

  get labels(): string[] {
    return this.entries.get(this.active)!.labels;
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

  private featuresFor(audio: DecodedAudio, source: string): Float32Array {
    const fe = this.entries.get(this.active)!.config.frontend;
    if (!fe) throw new Error(`${this.entries.get(this.active)!.dir}/adapter_config.json: frontend: missing, so audio cannot be turned into features`);
    return featuresOfAudio(audio, frontendSpec(fe), source).data;
  }

  /** Logits of `n` feature rows [n, frames, mel] with the active adapter. */
  private logits(fbank: Float32Array, n: number): number[][] {
    const { tdim, fdim } = this.model.cfg;
    const { device, amp } = this.engine;
    const flat = noGrad(() => scope(() => {
      const x = toDevice(tensor(fbank, [n, tdim, fdim]), device);
      return autocast(amp.device, amp.dtype, () => this.model.forward(x)).to('float32', 'cpu').toArray();
    }));
    const C = flat.length / n;
    return Array.from({ length: n }, (_, i) => flat.slice(i * C, (i + 1) * C));
  }

  async classify(input: AudioInput | Float32Array, opts: ClassifyOptions = {}): Promise<Scored[]> {
    return (await this.classifyMany([input], opts))[0];
  }

  /** Several inputs in batches of `batchSize` (default 8) forward passes. */
  async classifyMany(inputs: (AudioInput | Float32Array)[], opts: ClassifyOptions & { batchSize?: number } = {}): Promise<Scored[][]> {
    const k = opts.topK ?? 5;
    const bs = opts.batchSize ?? 8;
    const { tdim, fdim } = this.model.cfg;
    const per = tdim * fdim;
    const out: Scored[][] = [];
    for (let s = 0; s < inputs.length; s += bs) {
      const chunk = inputs.slice(s, s + bs);
      const x = new Float32Array(chunk.length * per);
      for (let i = 0; i < chunk.length; i++) {
        const { audio, source } = await this.decode(chunk[i], opts);
        x.set(this.featuresFor(audio, source), i * per);
      }
      for (const row of this.logits(x, chunk.length)) out.push(softmaxTop(row, this.labels, k));
    }
    return out;
  }

  /** ClassifierBackend (the server, batch predict): per-item errors, one forward per call. */
  async classifyBatch(items: ClassifyItem[], adapter: string): Promise<(Scored[] | Error)[]> {
    return (await this.classifyBatchWithLogits(items, adapter)).map((r) => (r instanceof Error ? r : r.top));
  }

  /** classifyBatch with each input's logits beside its top labels (batch predict's JSON output). */
  async classifyBatchWithLogits(items: ClassifyItem[], adapter: string): Promise<({ top: Scored[]; logits: number[] } | Error)[]> {
    this.useAdapter(adapter);
    const { tdim, fdim } = this.model.cfg;
    const per = tdim * fdim;
    const rows: (Float32Array | Error)[] = items.map(({ input }) => {
      try {
        return this.inputFeatures(input);
      } catch (e) {
        return e as Error;
      }
    });
    const ok = rows.filter((r): r is Float32Array => !(r instanceof Error));
    const x = new Float32Array(ok.length * per);
    ok.forEach((r, i) => x.set(r, i * per));
    const logits = ok.length ? this.logits(x, ok.length) : [];
    let j = 0;
    return rows.map((r, i) => {
      if (r instanceof Error) return r;
      const l = logits[j++];
      return { top: softmaxTop(l, this.labels, items[i].topK), logits: l };
    });
  }

  private inputFeatures(input: ClassifyInput): Float32Array {
    const { tdim, fdim } = this.model.cfg;
    if (input.kind === 'audio') return this.featuresFor({ sampleRate: input.sampleRate, channels: [input.samples] }, 'audio');
    const s = input.shape;
    const ok = (s.length === 2 && s[0] === tdim && s[1] === fdim) || (s.length === 3 && s[0] === 1 && s[1] === tdim && s[2] === fdim);
    if (!ok) throw new Error(`features: shape [${s.join(', ')}], the model takes [${tdim}, ${fdim}] (frames x mel bins, already normalised)`);
    return input.data;
  }

  dispose(): void {
    this.model.dispose();
  }
}
