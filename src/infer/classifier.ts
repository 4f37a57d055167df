/**
 * Classify clips with a backbone and an adapter checkpoint: adapter config (front end included) ->
 * features -> model -> logits -> top-k. `loaa predict`, `eval`, `demo` and `attention` go through
 * here, so an adapter is always fed the features it was trained on.
 */
import { noGrad, tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { loadAst, type AudioSpectrogramTransformer } from '../models/ast.js';
import { ADAPTER_CONFIG_FILE, astConfigFromAdapter, loadAdapter, readAdapterConfig, type AdapterConfigFile } from '../peft/checkpoint.js';
import type { FrontendSpec } from '../data/loader.js';
import { featuresOfFile, frontendSpec, type ClipFeatures } from './features.js';

export interface Prediction {
  input: string;
  logits: number[];
  /** best first */
  top: { label: string; p: number }[];
}

/** Softmax and the k best labels of one row of logits (ties: the lower class first). */
export function topK(logits: number[], labels: readonly string[], k: number): Prediction['top'] {
  const m = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  const order = logits.map((_, i) => i).sort((a, b) => e[b]! - e[a]! || a - b);
  return order.slice(0, k).map((i) => ({ label: labels[i] ?? String(i), p: e[i]! / z }));
}

export class Classifier {
  readonly labels: string[];
  /** the front end the adapter was trained with; undefined when its config has none (features only) */
  readonly frontend: FrontendSpec | undefined;

  private constructor(
    readonly model: AudioSpectrogramTransformer,
    readonly config: AdapterConfigFile,
    readonly adapterDir: string,
  ) {
    this.labels = config.labels ?? Array.from({ length: config.num_classes }, (_, i) => String(i));
    this.frontend = config.frontend ? frontendSpec(config.frontend) : undefined;
    model.eval();
  }

  /** Builds the AST the adapter describes from a backbone checkpoint and puts the adapter on it. */
  static load(adapterDir: string, backbone: string, opts: { seed?: number } = {}): Classifier {
    const config = readAdapterConfig(adapterDir);
    const model = loadAst(backbone, astConfigFromAdapter(config), opts).model;
    return Classifier.onModel(model, adapterDir);
  }

  /** Puts the adapter on a model already built (the classifier owns it from now on). */
  static onModel(model: AudioSpectrogramTransformer, adapterDir: string): Classifier {
    try {
      const { config } = loadAdapter(adapterDir, model);
      return new Classifier(model, config, adapterDir);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /** [frames, mel bins] the model takes. */
  get inputShape(): [number, number] {
    return [this.config.input.tdim, this.config.input.fdim];
  }

  /** The model input of an audio file, through the adapter's front end. */
  async features(file: string): Promise<ClipFeatures> {
    if (!this.frontend) throw new Error(`${this.adapterDir}/${ADAPTER_CONFIG_FILE}: frontend: missing, so audio cannot be turned into features (pass --features)`);
    return featuresOfFile(file, this.frontend);
  }

  /** Logits of `n` inputs laid out [n, frames, mel bins]. */
  logits(fbank: Float32Array, n = 1): number[][] {
    const [T, F] = this.inputShape;
    if (fbank.length !== n * T * F) throw new Error(`features: ${fbank.length} values are not ${n} x ${T} frames x ${F} mel bins`);
    const flat = noGrad(() => scope(() => this.model.forward(tensor(fbank, [n, T, F])).toArray()));
    const C = flat.length / n;
    return Array.from({ length: n }, (_, i) => flat.slice(i * C, (i + 1) * C));
  }

  /** Logits and the top-k labels of one input. */
  classify(fbank: Float32Array, k = 5, input = 'input'): Prediction {
    // NaN in, or NaN weights, would print NaN probabilities (null in JSON) and exit 0: name the source
    const bad = fbank.findIndex((v) => !Number.isFinite(v));
    const F = this.inputShape[1];
    if (bad >= 0) throw new Error(`${input}: the features hold ${fbank[bad]} at frame ${Math.floor(bad / F)}, bin ${bad % F}: not classified`);
    const logits = this.logits(fbank)[0]!;
    if (!logits.every((v) => Number.isFinite(v))) {
      throw new Error(`${input}: the model's outputs are not finite (NaN or infinity) for finite features: the backbone or adapter weights hold NaN/Inf`);
    }
    return { input, logits, top: topK(logits, this.labels, Math.min(k, this.labels.length)) };
  }

  /** Features, logits and top-k of an audio file. */
  async classifyFile(file: string, k = 5): Promise<Prediction> {
    return this.classify((await this.features(file)).data, k, file);
  }

  dispose(): void {
    this.model.dispose();
  }
}
