/**
 * `--verify`: the exported file in onnxruntime-node against loaa's own forward on the same random
 * inputs. Tolerance: |ort - loaa| <= tol * (1 + max|loaa logit|), tol 1e-4 for fp32 (float rounding
 * of a differently ordered computation) and FP16_TOLERANCE for fp16 weights (each weight rounded to
 * 11 significant bits, relative error 2^-11 ~ 4.9e-4, compounding through the blocks).
 */
import { noGrad, randn, tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import type { AudioSpectrogramTransformer } from '../models/ast.js';
import { loadOrtNode, type Ort } from '../onnx/runtime.js';

export const FP32_TOLERANCE = 1e-4;
export const FP16_TOLERANCE = 1e-2;

export interface VerifyResult {
  ok: boolean;
  /** max |ort - loaa| over the inputs */
  maxDiff: number;
  /** max |loaa logit| */
  maxLogit: number;
  tolerance: number;
  /** the bound maxDiff was held to: tolerance * (1 + maxLogit) */
  bound: number;
  inputs: number;
  /** ort's top-1 equals loaa's for every input */
  top1Agrees: boolean;
  /** mean wall time per input after a warm-up run, batch as given (onnxruntime-node / loaa) */
  ortMsPerInput: number;
  loaaMsPerInput: number;
  /** intra-op threads of both (loaa's OMP_NUM_THREADS) */
  threads?: number;
}

function loadOrt(): Promise<Ort> {
  return loadOrtNode('export --verify');
}

function argmax(a: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
  return best;
}

/** Logits of `x` [batch, frames, mel] from an ONNX file in onnxruntime-node. */
export async function ortLogits(file: string, x: Float32Array, dims: [number, number, number]): Promise<Float32Array> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all' });
  try {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, dims) });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * Runs `inputs` random fbanks (batch `batch`; a fixed-batch model must be given its batch) through
 * the file and through `model`, and compares.
 */
export async function verifyOnnx(
  file: string,
  model: AudioSpectrogramTransformer,
  opts: { precision?: 'fp32' | 'fp16'; inputs?: number; batch?: number; seed?: number; tolerance?: number } = {},
): Promise<VerifyResult> {
  const ort = await loadOrt();
  const { frames, melBins } = model.cfg;
  const C = model.numClasses;
  const batch = opts.batch ?? 2;
  const rounds = Math.max(1, Math.ceil((opts.inputs ?? 4) / batch));
  const tolerance = opts.tolerance ?? (opts.precision === 'fp16' ? FP16_TOLERANCE : FP32_TOLERANCE);
  // as many threads as loaa's own (src/native sets OMP_NUM_THREADS): the timings compare like with like
  const threads = Number(process.env.OMP_NUM_THREADS) || undefined;
  const session = await ort.InferenceSession.create(file, {
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
  });
  let maxDiff = 0;
  let maxLogit = 0;
  let top1Agrees = true;
  let ortMs = 0;
  let loaaMs = 0;
  const inputOf = (r: number) => noGrad(() => scope(() => randn([batch, frames, melBins], { seed: (opts.seed ?? 1234) + r }).toFloat32()));
  try {
    // a warm-up run of each (allocators, thread pools, onnxruntime's first-run planning) stays out of the timings
    const w = inputOf(-1);
    noGrad(() =>
      scope(() =>
        model
          .eval()
          .forward(tensor(w, [batch, frames, melBins]))
          .toFloat32(),
      ),
    );
    await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', w, [batch, frames, melBins]) });
    for (let r = 0; r < rounds; r++) {
      const x = inputOf(r);
      let t0 = performance.now();
      const want = noGrad(() =>
        scope(() =>
          model
            .eval()
            .forward(tensor(x, [batch, frames, melBins]))
            .toFloat32(),
        ),
      );
      loaaMs += performance.now() - t0;
      t0 = performance.now();
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [batch, frames, melBins]) });
      ortMs += performance.now() - t0;
      const got = out[session.outputNames[0]].data as Float32Array;
      if (got.length !== want.length) throw new Error(`${file}: logits have ${got.length} values, loaa's ${want.length}`);
      for (let i = 0; i < want.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
        maxLogit = Math.max(maxLogit, Math.abs(want[i]));
      }
      for (let b = 0; b < batch; b++) if (argmax(got, b * C, C) !== argmax(want, b * C, C)) top1Agrees = false;
    }
  } finally {
    await session.release();
  }
  const bound = tolerance * (1 + maxLogit);
  const n = rounds * batch;
  return {
    ok: maxDiff <= bound,
    maxDiff,
    maxLogit,
    tolerance,
    bound,
    inputs: n,
    top1Agrees,
    ortMsPerInput: ortMs / n,
    loaaMsPerInput: loaaMs / n,
    threads,
  };
}
