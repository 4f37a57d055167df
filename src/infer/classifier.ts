/**
 * The one inference pipeline: a backbone with one or more adapters on it, placed on an engine
 * (device, precision), turning audio into features through the front end each adapter records,
 * features into logits, logits into scored labels. `loaa predict` (single and batch), `eval`,
 * `demo`, `serve`, `attention`'s inputs and the API (`AudioClassifier`) all go through here, so an
 * adapter is always fed the features it was trained on, on the device and precision asked for.
 * The logits come from libtorch, or from onnxruntime-node (`useEngine`, then the async methods).
 */
import { noGrad, tensor } from '../tensor/functional.js';
import { activeGemm, chooseGemm } from '../tensor/gemm.js';
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
import { performance } from 'node:perf_hooks';
import { OnnxEngine } from './onnx_engine.js';
import {
  chooseMeasured,
  engineBeforeMeasuring,
  type ChooseOptions,
  type EngineChoiceNames,
  type InferEngine,
  type InferEngineSpec,
} from './engine_choice.js';

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

export interface UseEngineOptions extends ChooseOptions {
  /** how errors name the engine, device and precision (default `--engine`, `--device`, `--precision`) */
  names?: EngineChoiceNames;
}

export class Classifier {
  private readonly entries = new Map<string, Entry>();
  private active: string;
  /** set when the logits run on onnxruntime (`useEngine`) */
  private onnx: OnnxEngine | null = null;

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

  private static build(
    model: AudioSpectrogramTransformer,
    adapterDir: string,
    engine: Engine,
    backbone: BackboneProvenance | null,
    name = 'default',
  ): Classifier {
    try {
      // fp32 on the CPU runs the fastest GEMM kernel measured here, as training does (MKL, libtorch's
      // own, runs at half the chip's rate on AMD); chosen once per process, cached per machine
      if (engine.device === 'cpu' && engine.precision === 'fp32') chooseGemm();
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

  /** Which runtime the async methods compute on (the sync `logits` / `classify` are always libtorch). */
  get runtime(): InferEngine {
    return this.onnx ? 'onnx' : 'torch';
  }

  /**
   * Puts the async methods on `spec`'s runtime: `onnx` (an Error where onnxruntime-node is missing
   * or the device/precision rule it out), `torch`, or `auto` (onnx where it is installed and
   * measured faster for this model shape on this machine; a missing one costs one line).
   */
  async useEngine(spec: InferEngineSpec, opts: UseEngineOptions = {}): Promise<InferEngine> {
    const names = opts.names ?? { engine: '--engine', device: '--device', precision: '--precision' };
    const warn = opts.warn ?? ((l: string) => process.stderr.write(`${l}\n`));
    this.onnx?.dispose();
    this.onnx = null;
    const early = engineBeforeMeasuring(spec, this.engine, names);
    if (early === 'torch') return 'torch';
    let ort: OnnxEngine;
    try {
      ort = await OnnxEngine.load(spec === 'onnx' ? `${names.engine} onnx` : 'loaa');
    } catch (e) {
      if (spec === 'onnx') throw e;
      warn(`${(e as Error).message}; inference runs on libtorch`);
      return 'torch';
    }
    if (spec === 'auto') {
      const c = this.model.cfg;
      // the kernel too: a verdict against libtorch on MKL says nothing about libtorch on oneDNN
      const shape = `${this.config.arch} depth ${this.model.depth} ${c.frames}x${c.melBins} ${this.model.numClasses} classes ${this.config.method} | fp32 GEMM ${activeGemm()}`;
      const m = await chooseMeasured(shape, () => this.timeEngines(ort), { ...opts, warn });
      if (m.engine === 'torch') {
        ort.dispose();
        return 'torch';
      }
    }
    this.onnx = ort;
    return 'onnx';
  }

  /** Best of 5 batch-1 forward passes on each runtime, after one warm-up each. */
  private async timeEngines(ort: OnnxEngine): Promise<{ torchMs: number; onnxMs: number }> {
    const [T, F] = this.inputShape;
    const x = Float32Array.from({ length: T * F }, (_, i) => Math.sin(i * 0.37));
    const best = async (f: () => unknown): Promise<number> => {
      let ms = Infinity;
      for (let i = 0; i < 6; i++) {
        const t0 = performance.now();
        await f();
        if (i > 0) ms = Math.min(ms, performance.now() - t0);
      }
      return ms;
    };
    const torchMs = await best(() => this.logits(x, 1));
    const onnxMs = await best(() => ort.logits(this.active, this.model, this.config, x, 1));
    return { torchMs, onnxMs };
  }

  /** Logits as `logits`, on the runtime `useEngine` chose. */
  async logitsAsync(fbank: Float32Array, n = 1): Promise<number[][]> {
    if (!this.onnx) return this.logits(fbank, n);
    const [T, F] = this.inputShape;
    if (fbank.length !== n * T * F) throw new Error(`features: ${fbank.length} values are not ${n} x ${T} frames x ${F} mel bins`);
    return this.onnx.logits(this.active, this.model, this.config, fbank, n);
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
    return [this.model.cfg.frames, this.model.cfg.melBins];
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
    if (!fe)
      throw new Error(
        `${this.adapterDir}/${ADAPTER_CONFIG_FILE}: frontend: missing, so audio cannot be turned into features (pass --features)`,
      );
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
        return autocast(amp.device, amp.dtype, () => this.model.forward(x))
          .to('float32', 'cpu')
          .toArray();
      }),
    );
    const C = flat.length / n;
    return Array.from({ length: n }, (_, i) => flat.slice(i * C, (i + 1) * C));
  }

  /** The top-k of one row of logits; NaN or infinite logits are an error naming the input. */
  score(logits: number[], k: number, input = 'input'): Scored[] {
    if (!logits.every((v) => Number.isFinite(v))) {
      throw new Error(
        `${input}: the model's outputs are not finite (NaN or infinity) for finite features: the backbone or adapter weights hold NaN/Inf`,
      );
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
  classifyMany(rows: (Float32Array | Error)[], k: number, opts: ClassifyManyOptions = {}): (Prediction | Error)[] {
    const plan = this.plan(rows, opts);
    for (const idx of plan.batches) this.fill(plan, idx, this.logits(plan.stack(idx), idx.length), k, opts);
    return plan.out;
  }

  /** classifyMany on the runtime `useEngine` chose. */
  async classifyManyAsync(rows: (Float32Array | Error)[], k: number, opts: ClassifyManyOptions = {}): Promise<(Prediction | Error)[]> {
    const plan = this.plan(rows, opts);
    for (const idx of plan.batches) this.fill(plan, idx, await this.logitsAsync(plan.stack(idx), idx.length), k, opts);
    return plan.out;
  }

  /** The rows checked (a bad one is an Error in its slot) and the good ones grouped in batches. */
  private plan(
    rows: (Float32Array | Error)[],
    opts: ClassifyManyOptions,
  ): { out: (Prediction | Error)[]; batches: number[][]; stack: (idx: number[]) => Float32Array } {
    const { names = [], batchSize = rows.length || 1 } = opts;
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
    const batches: number[][] = [];
    for (let s = 0; s < ok.length; s += batchSize) batches.push(ok.slice(s, s + batchSize));
    const stack = (idx: number[]): Float32Array => {
      const x = new Float32Array(idx.length * per);
      idx.forEach((i, j) => {
        x.set(rows[i] as Float32Array, j * per);
      });
      return x;
    };
    return { out, batches, stack };
  }

  private fill(plan: { out: (Prediction | Error)[] }, idx: number[], logits: number[][], k: number, opts: ClassifyManyOptions): void {
    const { names = [], checkOutputs = true } = opts;
    logits.forEach((l, j) => {
      const i = idx[j]!;
      const name = names[i] ?? 'input';
      try {
        plan.out[i] = {
          input: name,
          logits: l,
          top: checkOutputs ? this.score(l, k, name) : topK(l, this.labels, Math.min(k, this.labels.length)),
        };
      } catch (e) {
        plan.out[i] = e as Error;
      }
    });
  }

  /** Features, logits and top-k of an audio file. */
  async classifyFile(file: string, k = 5): Promise<Prediction> {
    const r = (await this.classifyManyAsync([(await this.features(file)).data], k, { names: [file] }))[0]!;
    if (r instanceof Error) throw r;
    return r;
  }

  /**
   * "What sounds where" in an audio file of any length (docs/timeline.md): windows of the active
   * adapter's clip length (by default), streamed, each through the front end as a clip and the
   * model a batch at a time; adjacent windows with the same top label merge into a segment.
   */
  async timeline(input: string, opts: FileTimelineOptions = {}): Promise<FileTimeline> {
    const scorer = {
      frontend: this.needFrontend(),
      labels: this.labels,
      inputShape: this.inputShape,
      logits: (x: Float32Array, n: number) => this.logits(x, n),
    };
    return fileTimeline(input, scorer, opts);
  }

  dispose(): void {
    this.onnx?.dispose();
    this.onnx = null;
    this.model.dispose();
  }
}

export interface ClassifyManyOptions {
  names?: string[];
  batchSize?: number;
  checkOutputs?: boolean;
}

/** NaN in, or NaN weights, would print NaN probabilities (null in JSON) and exit 0: name the source. */
function checkFinite(fbank: Float32Array, bins: number, input: string): void {
  const bad = fbank.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new Error(`${input}: the features hold ${fbank[bad]} at frame ${Math.floor(bad / bins)}, bin ${bad % bins}: not classified`);
}
