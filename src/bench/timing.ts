/** Median of `reps` timings (ms) after `warm` untimed runs (the mean of the middle two for an even count). */
export function medianMs(fn: () => unknown, reps: number, warm = 2): number {
  for (let i = 0; i < warm; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  const m = ts.length >> 1;
  return ts.length % 2 ? ts[m]! : (ts[m - 1]! + ts[m]!) / 2;
}
