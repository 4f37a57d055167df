/**
 * The one inference pipeline: a backbone with one or more adapters on it, placed on an engine
 * (device, precision), turning audio into features through the front end each adapter records,
 * features into logits, logits into scored labels. `loaa predict` (single and batch), `eval`,
 * `demo`, `serve`, `attention`'s inputs and the API (`AudioClassifier`) all go through here, so an
 * adapter is always fed the features it was trained on, on the device and precision asked for.
 */
import { noGrad, tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { autocast, type Precision } from '../tensor/autocast.js';
import { toDevice } from '../tensor/device.js';
import { CPU_FP32, placeModel, resolveEngine, type EngineNames, type Engine } from '../tensor/engine.js';
import { loadAst, type AudioSpectrogramTransformer } from '../models/ast.js';
import { ADAPTER_CONFIG_FILE, astConfigFromAdapter, loadAdapter, readAdapterConfig, type AdapterConfigFile } from '../peft/checkpoint.js';
import type { DecodedAudio } from '../audio/types.js';
import { featuresOfAudio, featuresOfFile, frontendSpec, type ClipFeatures, type FrontendSpec } from './features.js';
import { resolveBackbone, type BackboneProvenance } from './provenance.js';
import { topK, type Scored } from '../util/scores.js';
import { fileTimeline, type FileTimeline, type FileTimelineOptions } from './file_timeline.js';

export { topK, type Scored } from '../util/scores.js';

export interface Prediction {
  input: string;
  logits: number[];
  /** best first */
  top: Scored[];
}

export interface EngineOptions {
  /** 'cpu' (default), 'cuda', 'cuda:N' or 'auto' */
  device?: string;
  /** 'fp32' (default), 'bf16', 'fp16' or 'auto' (autocast) */
  precision?: string;
  /** how errors name the two (default `--device` / `--precision`) */
  names?: EngineNames;
}

export interface PretrainedOptions extends EngineOptions {
  /** a backbone checkpoint instead of the one recorded in adapter_config.json */
  backbone?: string;
  /** use the backbone even if its sha256 is not the recorded one */
  force?: boolean;
  /** name of the first adapter (default "default") */
  name?: string;
}

interface Entry {
  dir: string;
  config: AdapterConfigFile;
  labels: string[];
  /** undefined when the config has none (features only) */
  frontend: FrontendSpec | undefined;
}

function entryOf(dir: string, config: AdapterConfigFile): Entry {
  return {
    dir,
    config,
    labels: config.labels ?? Array.from({ length: config.num_classes }, (_, i) => String(i)),
    frontend: config.frontend ? frontendSpec(config.frontend) : undefined,
  };
}

export class Classifier {
  private readonly entries = new Map<string, Entry>();
  private active: string;

  private constructor(
    readonly model: AudioSpectrogramTransformer,
    readonly engine: Engine,
    readonly backbone: BackboneProvenance | null,
    name: string,
    first: Entry,
  ) {
    this.entries.set(name, first);
    this.active = name;
    model.eval();
  }

  /** On the backbone the adapter records (or `opts.backbone`, checked by sha256 unless `force`). */
  static fromPretrained(adapterDir: string, opts: PretrainedOptions = {}): Classifier {
    // the engine first: a GPU that is not there should not cost a backbone load
    const engine = resolveEngine(opts.device, opts.precision, opts.names);
    const config = readAdapterConfig(adapterDir);
    const { model, provenance } = resolveBackbone(adapterDir, config, { backbone: opts.backbone, force: opts.force });
    return Classifier.build(model, adapterDir, engine, provenance, opts.name);
  }

  /** On the backbone checkpoint given, as it is (no provenance check): `loaa predict --backbone`. */
  static load(adapterDir: string, backbone: string, opts: EngineOptions & { seed?: number } = {}): Classifier {
    const engine = resolveEngine(opts.device, opts.precision, opts.names);
    const config = readAdapterConfig(adapterDir);
    const model = loadAst(backbone, astConfigFromAdapter(config), { seed: opts.seed }).model;
    return Classifier.build(model, adapterDir, engine, null);
  }

  /** Puts the adapter on a model already built (the classifier owns it from now on). */
  static onModel(model: AudioSpectrogramTransformer, adapterDir: string, engine: Engine = CPU_FP32): Classifier {
    return Classifier.build(model, adapterDir, engine, null);
  }

  private static build(model: AudioSpectrogramTransformer, adapterDir: string, engine: Engine, backbone: BackboneProvenance | null, name = 'default'): Classifier {
    try {
      placeModel(model, engine);
      const { config } = loadAdapter(adapterDir, model);
      model.castFrozenWeights(engine.amp.dtype); // loading dropped the low-precision copies
      return new Classifier(model, engine, backbone, name, entryOf(adapterDir, config));
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  get device(): string {
    return this.engine.device;
  }

  get precision(): Precision {
    return this.engine.precision;
  }

  private get entry(): Entry {
    return this.entries.get(this.active)!;
  }

  get config(): AdapterConfigFile {
    return this.entry.config;
  }

  get adapterDir(): string {
    return this.entry.dir;
  }

  get labels(): string[] {
    return this.entry.labels;
  }

  /** The front end the active adapter was trained with; undefined when its config has none. */
  get frontend(): FrontendSpec | undefined {
    return this.entry.frontend;
  }

  /** [frames, mel bins] the model takes. */
  get inputShape(): [number, number] {
    return [this.model.cfg.tdim, this.model.cfg.fdim];
  }

  /** Adds an adapter trained on the same backbone (checked when both record it) under `name`. */
  addAdapter(name: string, dir: string): void {
    if (this.entries.has(name)) throw new Error(`loadAdapter: an adapter named "${name}" is already loaded`);
    const config = readAdapterConfig(dir);
    const other = (config as { backbone?: { sha256?: string } }).backbone?.sha256;
    if (this.backbone && other && other !== this.backbone.sha256) {
      throw new Error(`${dir}: trained on backbone sha256 ${other}, this classifier's backbone is ${this.backbone.sha256}`);
    }
    // a trial load checks the fit now rather than at the first request; then back to the active one
    loadAdapter(dir, this.model);
    this.entries.set(name, entryOf(dir, config));
    this.apply(this.entry.dir);
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

  /** Loads an adapter's tensors into the model (which drops the cast-once low-precision weights). */
  private apply(dir: string): void {
    loadAdapter(dir, this.model);
    this.model.castFrozenWeights(this.engine.amp.dtype);
  }

  private needFrontend(): FrontendSpec {
    const fe = this.frontend;
    if (!fe) throw new Error(`${this.adapterDir}/${ADAPTER_CONFIG_FILE}: frontend: missing, so audio cannot be turned into features (pass --features)`);
    return fe;
  }

  /** The model input of decoded audio through the active adapter's front end; `source` names it in errors. */
  audioFeatures(audio: DecodedAudio, source = 'audio'): ClipFeatures {
    return featuresOfAudio(audio, this.needFrontend(), source);
  }

  /** The model input of an audio file, through the active adapter's front end. */
  async features(file: string): Promise<ClipFeatures> {
    return featuresOfFile(file, this.needFrontend());
  }

  /** Logits of `n` inputs laid out [n, frames, mel bins], on the engine's device and precision. */
  logits(fbank: Float32Array, n = 1): number[][] {
    const [T, F] = this.inputShape;
    if (fbank.length !== n * T * F) throw new Error(`features: ${fbank.length} values are not ${n} x ${T} frames x ${F} mel bins`);
    const { device, amp } = this.engine;
    const flat = noGrad(() =>
      scope(() => {
        const x = toDevice(tensor(fbank, [n, T, F]), device);
        return autocast(amp.device, amp.dtype, () => this.model.forward(x)).to('float32', 'cpu').toArray();
      }),
    );
    const C = flat.length / n;
    return Array.from({ length: n }, (_, i) => flat.slice(i * C, (i + 1) * C));
  }

  /** The top-k of one row of logits; NaN or infinite logits are an error naming the input. */
  score(logits: number[], k: number, input = 'input'): Scored[] {
    if (!logits.every((v) => Number.isFinite(v))) {
      throw new Error(`${input}: the model's outputs are not finite (NaN or infinity) for finite features: the backbone or adapter weights hold NaN/Inf`);
    }
    return topK(logits, this.labels, Math.min(k, this.labels.length));
  }

  /** Logits and the top-k labels of one input. */
  classify(fbank: Float32Array, k = 5, input = 'input'): Prediction {
    checkFinite(fbank, this.inputShape[1], input);
    const logits = this.logits(fbank)[0]!;
    return { input, logits, top: this.score(logits, k, input) };
  }

  /**
   * Several inputs in one forward pass each `batchSize`; an input that fails (bad features, NaN
   * outputs) is an Error in its slot, the others are classified. `checkOutputs: false` hands NaN
   * scores on, for callers that name the input themselves (serve, batch predict).
   */
  classifyMany(rows: (Float32Array | Error)[], k: number, opts: { names?: string[]; batchSize?: number; checkOutputs?: boolean } = {}): (Prediction | Error)[] {
    const { names = [], batchSize = rows.length || 1, checkOutputs = true } = opts;
    const [T, F] = this.inputShape;
    const per = T * F;
    const out: (Prediction | Error)[] = rows.map((r, i) => {
      if (r instanceof Error) return r;
      try {
        if (r.length !== per) throw new Error(`features: ${r.length} values are not ${T} frames x ${F} mel bins`);
        checkFinite(r, F, names[i] ?? 'input');
        return { input: names[i] ?? 'input', logits: [], top: [] };
      } catch (e) {
        return e as Error;
      }
    });
    const ok = out.map((r, i) => (r instanceof Error ? -1 : i)).filter((i) => i >= 0);
    for (let s = 0; s < ok.length; s += batchSize) {
      const idx = ok.slice(s, s + batchSize);
      const x = new Float32Array(idx.length * per);
      idx.forEach((i, j) => x.set(rows[i] as Float32Array, j * per));
      this.logits(x, idx.length).forEach((l, j) => {
        const i = idx[j]!;
        const name = names[i] ?? 'input';
        try {
          out[i] = { input: name, logits: l, top: checkOutputs ? this.score(l, k, name) : topK(l, this.labels, Math.min(k, this.labels.length)) };
        } catch (e) {
          out[i] = e as Error;
        }
      });
    }
    return out;
  }

  /** Features, logits and top-k of an audio file. */
  async classifyFile(file: string, k = 5): Promise<Prediction> {
    return this.classify((await this.features(file)).data, k, file);
  }

  /**
   * "What sounds where" in an audio file of any length (docs/timeline.md): windows of the active
   * adapter's clip length (by default), streamed, each through the front end as a clip and the
   * model a batch at a time; adjacent windows with the same top label merge into a segment.
   */
  async timeline(input: string, opts: FileTimelineOptions = {}): Promise<FileTimeline> {
    const scorer = { frontend: this.needFrontend(), labels: this.labels, inputShape: this.inputShape, logits: (x: Float32Array, n: number) => this.logits(x, n) };
    return fileTimeline(input, scorer, opts);
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** NaN in, or NaN weights, would print NaN probabilities (null in JSON) and exit 0: name the source. */
function checkFinite(fbank: Float32Array, bins: number, input: string): void {
  const bad = fbank.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${input}: the features hold ${fbank[bad]} at frame ${Math.floor(bad / bins)}, bin ${bad % bins}: not classified`);
}
