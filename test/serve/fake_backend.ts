/**
 * A classifier double for the server and batch tests: deterministic scores from simple statistics
 * of the input, an optional delay per call, and a record of batch sizes. Inputs it cannot take
 * (features not [4, 3], audio under 100 samples) come back as per-item errors, as a model's would.
 */
import type { ClassifierBackend, ClassifyInput, ClassifyItem, Scored } from '../../src/serve/backend.js';

export const LABELS = ['low', 'mid', 'high'];

export function scoresOf(input: ClassifyInput, adapter: string): number[] {
  const x = input.kind === 'audio' ? input.samples : input.data;
  let s = 0;
  let s2 = 0;
  for (const v of x) {
    s += v;
    s2 += v * v;
  }
  const n = Math.max(1, x.length);
  const bias = adapter === 'second' ? 1 : 0;
  const logits = [s / n, Math.sqrt(s2 / n) + bias, ((input.kind === 'audio' ? input.sampleRate / 16000 : 1) * (n % 7)) / 7];
  const m = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

export function topOf(scores: number[], k: number): Scored[] {
  return scores
    .map((score, i) => ({ label: LABELS[i], score }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

export class FakeBackend implements ClassifierBackend {
  readonly batches: number[] = [];
  calls = 0;
  constructor(
    readonly delayMs = 0,
    readonly names = ['default', 'second'],
  ) {}
  adapters(): string[] {
    return this.names;
  }
  async classifyBatch(items: ClassifyItem[], adapter: string): Promise<(Scored[] | Error)[]> {
    this.calls++;
    this.batches.push(items.length);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    return items.map(({ input, topK }) => {
      if (input.kind === 'features' && (input.shape.length !== 2 || input.shape[0] !== 4 || input.shape[1] !== 3)) {
        return new Error(`features: shape [${input.shape.join(', ')}], the model takes [4, 3]`);
      }
      if (input.kind === 'audio' && input.samples.length < 100)
        return new Error(`audio: ${input.samples.length} samples is shorter than the model's window`);
      return topOf(scoresOf(input, adapter), topK);
    });
  }
}
