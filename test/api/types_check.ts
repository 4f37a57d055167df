/**
 * Type-level checks of the public API: every `@ts-expect-error` line below must NOT compile (tsc
 * fails with "Unused '@ts-expect-error' directive" if one does), and the lines without one must.
 * Compiled with the rest of the tests by `npx tsc -p tsconfig.json`; nothing here runs.
 */
import type { AudioClassifier, ClassifyOutcome, Device, Precision, Scored } from '../../src/index.js';
import type { FromPretrainedOptions } from '../../src/index.js';

export async function typeChecks(clf: AudioClassifier, samples: Float32Array): Promise<void> {
  // device and precision are literal unions
  const ok: FromPretrainedOptions[] = [
    { device: 'cpu' },
    { device: 'cuda' },
    { device: 'cuda:1' },
    { device: 'auto' },
    { precision: 'bf16' },
    { precision: 'auto' },
  ];
  // @ts-expect-error not a device
  const gpu: FromPretrainedOptions = { device: 'gpu' };
  // @ts-expect-error cuda:N takes a number
  const cudaX: Device = 'cuda:x';
  // @ts-expect-error not a precision
  const fp64: FromPretrainedOptions = { precision: 'fp64' };
  // @ts-expect-error not a precision
  const int8: Precision = 'int8';

  // a bare Float32Array needs its sampleRate
  const a: Scored[] = await clf.classify(samples, { sampleRate: 16000 });
  // @ts-expect-error no sampleRate
  await clf.classify(samples);
  // @ts-expect-error no sampleRate
  await clf.classify(samples, { topK: 3 });
  const b: Scored[] = await clf.classify('clip.wav');
  const c: Scored[] = await clf.classify({ samples, sampleRate: 8000 });
  const many: Scored[][] = await clf.classifyMany(['a.wav', samples], { sampleRate: 16000 });
  // @ts-expect-error Float32Arrays among the inputs need sampleRate
  await clf.classifyMany(['a.wav', samples]);

  // errors: 'return' changes the result's type
  const outcomes: ClassifyOutcome[] = await clf.classifyMany(['a.wav'], { errors: 'return' });
  // @ts-expect-error per-input outcomes, not label lists
  const notLabels: Scored[][] = await clf.classifyMany(['a.wav'], { errors: 'return' });
  // @ts-expect-error an outcome's top exists only when ok
  outcomes[0]!.top;

  void [ok, gpu, cudaX, fp64, int8, a, b, c, many, notLabels];
}
