/**
 * Per-input latency of the two inference engines (libtorch, onnxruntime-node) on one adapter, for
 * docs/inference.md (run by hand; the numbers need a quiet machine):
 *
 *   node dist/src/bench/infer_engines.js --adapter DIR [--backbone FILE] [--reps N]
 *
 * For batch 1 and 8: the median of N timed forward passes (after 2 warm-ups) of the classifier's
 * logits on each engine, divided by the batch; the front end is left out (both engines share it).
 */
import { Classifier } from '../infer/classifier.js';
import { getNumThreads } from '../tensor/functional.js';
import { parseFlags } from '../util/flags.js';
import { medianMsAsync } from './timing.js';

const FLAGS = {
  adapter: { type: 'string', help: 'adapter checkpoint directory' },
  backbone: { type: 'string', help: 'backbone checkpoint (default: the one the adapter records)' },
  reps: { type: 'int', min: 1, default: 20, help: 'timed passes per engine and batch' },
} as const;

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), FLAGS, 'infer_engines');
  if (!flags.adapter) throw new Error('--adapter: missing');
  const clf = flags.backbone ? Classifier.load(flags.adapter, flags.backbone) : Classifier.fromPretrained(flags.adapter);
  try {
    const [T, F] = clf.inputShape;
    const rows: Record<string, unknown>[] = [];
    for (const engine of ['torch', 'onnx'] as const) {
      await clf.useEngine(engine);
      for (const batch of [1, 8]) {
        const x = Float32Array.from({ length: batch * T * F }, (_, i) => Math.sin(i * 0.37));
        const ms = await medianMsAsync(() => clf.logitsAsync(x, batch), flags.reps, 2);
        rows.push({ engine, batch, msPerInput: +(ms / batch).toFixed(2) });
      }
    }
    process.stdout.write(`${JSON.stringify({ adapter: flags.adapter, input: [T, F], torchThreads: getNumThreads(), rows })}\n`);
  } finally {
    clf.dispose();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`infer_engines: ${e.message}\n`);
  process.exit(1);
});
