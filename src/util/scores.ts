/**
 * Logits -> the labels a user reads: softmax and the k best, the one definition that predict, eval's
 * demo, serve, batch predict, the API and the ONNX helper (browser and Node) all print. No imports,
 * so the libtorch-free ONNX path and the web page can bundle it.
 */

/** A label and its softmax probability. */
export interface Scored {
  label: string;
  score: number;
}

/** Softmax and the k best labels of one row of logits, best first (ties: the lower class first). */
export function topK(logits: ArrayLike<number>, labels: readonly string[], k: number): Scored[] {
  const l = Array.from(logits);
  const m = Math.max(...l);
  const e = l.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  const order = l.map((_, i) => i).sort((a, b) => e[b]! - e[a]! || a - b);
  return order.slice(0, Math.max(0, Math.min(k, l.length))).map((i) => ({ label: labels[i] ?? String(i), score: e[i]! / z }));
}
