/**
 * `OnnxClassifier`: an exported model (`loaa export`) run by onnxruntime-node, with the labels and
 * front end read from the file and features computed by loaa's TypeScript front end. Nothing here
 * reaches tensor/ or native/, so libtorch is never loaded (test/package checks /proc/self/maps).
 */
import { decodeAudio, readFileBytes } from '../audio/decode.js';
import { readInput } from '../util/guarded_fs.js';
import { checkDecoded, type DecodedAudio } from '../audio/types.js';
import { featuresOf, modelInfo, topK, type ClipFeatures, type ModelInfo, type Scored } from './frontend.js';
import { loadOrtNode, type Ort } from './runtime.js';

/** A file path, encoded bytes (WAV, FLAC, Ogg/Vorbis, MP3), or samples with their rate. */
export type OnnxInput = string | Uint8Array | { samples: Float32Array | Float32Array[]; sampleRate: number };

export interface OnnxLoadOptions {
  /** onnxruntime's intra-op threads (default: its own choice) */
  threads?: number;
}

export interface OnnxClassifyOptions {
  /** how many labels, best first (default 5, at most the number of classes) */
  topK?: number;
  /** names the input in errors (default: the path, or "bytes" / "samples") */
  name?: string;
}

type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;

export class OnnxClassifier {
  private constructor(
    private readonly ort: Ort,
    private session: Session | null,
    readonly info: ModelInfo,
    readonly source: string,
  ) {}

  /** Loads a model written by `loaa export` from a path or its bytes. */
  static async load(model: string | Uint8Array, opts: OnnxLoadOptions = {}): Promise<OnnxClassifier> {
    const source = typeof model === 'string' ? model : 'model bytes';
    if (opts.threads !== undefined && (!Number.isSafeInteger(opts.threads) || opts.threads < 1))
      throw new Error(`threads: expected a positive integer, got ${opts.threads}`);
    const bytes = typeof model === 'string' ? new Uint8Array(readInput(model, { what: 'the ONNX model' })) : model;
    const info = modelInfo(bytes, source);
    const ort = await loadOrtNode('loaa/onnx');
    const so = opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {};
    // a path lets onnxruntime find external data (<model>.data) beside it
    const session = typeof model === 'string' ? await ort.InferenceSession.create(model, so) : await ort.InferenceSession.create(bytes, so);
    return new OnnxClassifier(ort, session, info, source);
  }

  get labels(): string[] {
    return this.info.labels;
  }

  /** The model input for one clip (what `loaa predict --features` would take). */
  async features(input: OnnxInput, name?: string): Promise<ClipFeatures> {
    const src = name ?? (typeof input === 'string' ? input : input instanceof Uint8Array ? 'bytes' : 'samples');
    return featuresOf(await decoded(input, src), this.info, src);
  }

  /** Logits of one clip. */
  async logits(input: OnnxInput, name?: string): Promise<Float32Array> {
    const session = this.session;
    if (!session) throw new Error(`${this.source}: this OnnxClassifier has been disposed`);
    const spec = await this.features(input, name);
    const x = new this.ort.Tensor('float32', spec.data, [1, spec.frames, spec.bins]);
    const out = await session.run({ [session.inputNames[0]!]: x });
    return Float32Array.from(out[session.outputNames[0]!]!.data as Float32Array);
  }

  /** `[{ label, score }]`, best first; scores are softmax probabilities. */
  async classify(input: OnnxInput, opts: OnnxClassifyOptions = {}): Promise<Scored[]> {
    const k = opts.topK ?? 5;
    if (!Number.isSafeInteger(k) || k < 1) throw new Error(`topK: expected a positive integer, got ${k}`);
    return topK(await this.logits(input, opts.name), this.info.labels, Math.min(k, this.info.labels.length));
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release();
  }
}

async function decoded(input: OnnxInput, src: string): Promise<DecodedAudio> {
  if (typeof input === 'string') return decodeAudio(readFileBytes(input), src);
  if (input instanceof Uint8Array) return decodeAudio(input, src);
  if (!input || typeof input !== 'object' || !('samples' in input))
    throw new Error(`${src}: expected a path, bytes or { samples, sampleRate }`);
  const channels = Array.isArray(input.samples) ? input.samples : [input.samples];
  if (!channels.every((c) => c instanceof Float32Array))
    throw new Error(`${src}: samples must be a Float32Array or a list of them (one per channel)`);
  return checkDecoded({ sampleRate: input.sampleRate, channels }, src);
}
