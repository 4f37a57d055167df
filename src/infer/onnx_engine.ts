/**
 * The onnx engine: the classifier's model, adapter applied, exported in memory to the graph `loaa
 * export` writes (fp32, dynamic batch) and run in onnxruntime-node. One session per adapter, built
 * when that adapter is first used: the graph carries the adapter's weights.
 */
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import type { AdapterConfigFile } from '../peft/checkpoint.js';
import { exportModelBytes } from '../export/export.js';
import { loadOrtNode, type Ort } from '../onnx/runtime.js';
import { getNumThreads } from '../tensor/functional.js';

type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;

export class OnnxEngine {
  private readonly sessions = new Map<string, Promise<Session>>();

  private constructor(private readonly ort: Ort) {}

  /** Loads onnxruntime-node; a missing one is an Error naming `who` and the install command. */
  static async load(who: string): Promise<OnnxEngine> {
    return new OnnxEngine(await loadOrtNode(who));
  }

  /**
   * The session of adapter `name`, exported from `model` now (synchronously, so a switch of
   * adapter while onnxruntime builds it cannot change which weights it holds).
   */
  private session(name: string, model: AudioSpectrogramTransformer, config: AdapterConfigFile): Promise<Session> {
    let s = this.sessions.get(name);
    if (!s) {
      // loaa's thread count (LOAA_NUM_THREADS), as libtorch runs with, not onnxruntime's own default
      s = this.ort.InferenceSession.create(exportModelBytes(model, config), { intraOpNumThreads: getNumThreads() });
      this.sessions.set(name, s);
    }
    return s;
  }

  /** Logits of `n` inputs laid out [n, frames, mel bins] through adapter `name`'s graph. */
  async logits(
    name: string,
    model: AudioSpectrogramTransformer,
    config: AdapterConfigFile,
    fbank: Float32Array,
    n: number,
  ): Promise<number[][]> {
    const session = await this.session(name, model, config);
    const { frames, melBins } = model.cfg;
    const x = new this.ort.Tensor('float32', fbank, [n, frames, melBins]);
    const out = await session.run({ [session.inputNames[0]!]: x });
    const flat = out[session.outputNames[0]!]!.data as Float32Array;
    const C = flat.length / n;
    return Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * C, (i + 1) * C)));
  }

  /** Forgets adapter `name`'s session (its weights changed). */
  drop(name: string): void {
    const s = this.sessions.get(name);
    this.sessions.delete(name);
    void s?.then((x) => x.release()).catch(() => {});
  }

  dispose(): void {
    for (const name of [...this.sessions.keys()]) this.drop(name);
  }
}
