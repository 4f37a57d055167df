import type { EvalRows } from '../../src/train/step.js';

/** Evaluation rows whose values are a function of the clip's position (the gather tests' data). */
export const CLASSES = 3;

export type Rows = EvalRows;

/** The rows of the clips at `positions`; `soft` makes them mixup-like targets with label -1. */
export function evalRowsAt(positions: number[], o: { soft?: boolean } = {}): Rows {
  const C = CLASSES;
  const m = positions.length;
  const r: Rows = {
    numClasses: C,
    logits: new Float32Array(m * C),
    targets: new Float32Array(m * C),
    labels: new Int32Array(m),
    lossSum: 0,
    soft: Boolean(o.soft) && m > 0,
  };
  positions.forEach((p, i) => {
    for (let c = 0; c < C; c++) r.logits[i * C + c] = Math.fround(Math.sin(p * 7 + c) * (p + 1));
    const label = p % C;
    r.labels[i] = o.soft ? -1 : label;
    r.targets[i * C + label] = o.soft ? 0.75 : 1;
    if (o.soft) r.targets[i * C + ((label + 1) % C)] = 0.25;
    r.lossSum += 0.5 + p / 8;
  });
  return r;
}
