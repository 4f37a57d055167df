/**
 * Learning-rate schedules as pure functions of the (possibly fractional) epoch: `epoch + step /
 * stepsPerEpoch` gives per-step warm-up, a whole number gives per-epoch schedules. Epochs count from
 * 0, i.e. `epoch` is the number of epochs completed before the current one (torch's
 * `scheduler.last_epoch` when the scheduler steps once per epoch).
 */
export type LrSchedule = (epoch: number) => number;

function check(name: string, v: number, min = 0): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
    throw new RangeError(`${name} must be a finite number >= ${min}, not ${String(v)}`);
}

/** The same lr throughout. */
export function constantLr(lr: number): LrSchedule {
  check('constantLr: lr', lr);
  return () => lr;
}

/**
 * The AST recipes' decay: lr * gamma^k where k counts the milestones start, start + every, ...
 * reached so far (torch MultiStepLR over range(start, 1000, every)). Epochs 0 .. start-1 run at lr.
 */
export function stepDecayLr(opts: { lr: number; start: number; gamma: number; every?: number }): LrSchedule {
  const every = opts.every ?? 1;
  check('stepDecayLr: lr', opts.lr);
  check('stepDecayLr: start', opts.start);
  check('stepDecayLr: gamma', opts.gamma);
  check('stepDecayLr: every', every, 1);
  return (epoch) => {
    const e = Math.floor(epoch);
    if (e < opts.start) return opts.lr;
    return opts.lr * opts.gamma ** (Math.floor((e - opts.start) / every) + 1);
  };
}

export interface WarmupOptions {
  /** epochs of linear warm-up (may be fractional); 0 for none */
  warmupEpochs?: number;
  /** lr at epoch 0 of the warm-up */
  warmupStartLr?: number;
}

/** Linear warm-up from `warmupStartLr` at 0 to the schedule's value at `warmupEpochs` (SlowFast's rule). */
function withWarmup(inner: LrSchedule, w: WarmupOptions, name: string): LrSchedule {
  const epochs = w.warmupEpochs ?? 0;
  const start = w.warmupStartLr ?? 0;
  check(`${name}: warmupEpochs`, epochs);
  check(`${name}: warmupStartLr`, start);
  if (epochs === 0) return inner;
  const end = inner(epochs);
  return (epoch) => (epoch < epochs ? start + ((end - start) * epoch) / epochs : inner(epoch));
}

/**
 * Piecewise-constant lr: `lr * factors[i]` from epoch `milestones[i]` on (factors relative to lr,
 * not cumulative: SlowFast's steps_with_relative_lrs), optionally after a linear warm-up.
 */
export function multiStepLr(opts: { lr: number; milestones: number[]; factors: number[] } & WarmupOptions): LrSchedule {
  const { lr, milestones, factors } = opts;
  check('multiStepLr: lr', lr);
  if (milestones.length !== factors.length)
    throw new RangeError(`multiStepLr: ${milestones.length} milestones but ${factors.length} factors`);
  milestones.forEach((m, i) => {
    check(`multiStepLr: milestones[${i}]`, m);
    if (i > 0 && m <= milestones[i - 1]) throw new RangeError('multiStepLr: milestones must increase');
  });
  factors.forEach((f, i) => {
    check(`multiStepLr: factors[${i}]`, f);
  });
  const inner: LrSchedule = (epoch) => {
    let f = 1;
    for (let i = 0; i < milestones.length; i++) if (epoch >= milestones[i]) f = factors[i];
    return lr * f;
  };
  return withWarmup(inner, opts, 'multiStepLr');
}

/** EPIC-SOUNDS' recipe: 2 warm-up epochs from 1e-6, then lr, x0.05 from epoch 10, x0.01 from epoch 20. */
export function epicLr(lr: number): LrSchedule {
  return multiStepLr({ lr, milestones: [10, 20], factors: [0.05, 0.01], warmupEpochs: 2, warmupStartLr: 1e-6 });
}

/** Half-cosine from lr at epoch 0 to minLr at `epochs`, optionally after a linear warm-up. */
export function cosineLr(opts: { lr: number; epochs: number; minLr?: number } & WarmupOptions): LrSchedule {
  const minLr = opts.minLr ?? 0;
  check('cosineLr: lr', opts.lr);
  check('cosineLr: epochs', opts.epochs, Number.MIN_VALUE);
  check('cosineLr: minLr', minLr);
  const inner: LrSchedule = (epoch) => {
    const t = Math.min(Math.max(epoch, 0), opts.epochs) / opts.epochs;
    return minLr + (opts.lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * t));
  };
  return withWarmup(inner, opts, 'cosineLr');
}
