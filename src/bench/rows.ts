/**
 * The rows of issue #12's table, each with loaa and PyTorch doing the same work in the same run:
 * rounds interleave the sides (loaa, PyTorch, loaa, ...) so load from other processes hits both; a
 * row's samples go to summary.ts for median/min/max, the ratio and the GEMM-bound fractions.
 *
 * PyTorch is the project's 2.13 (src/bench/python.ts) running tools/bench/rows_torch.py: the
 * reference AST with SDPA attention. The front end has no torchaudio for 2.13, so it compares
 * against Debian's torchaudio 0.13 on torch 1.13 and says so in the row.
 *
 * `device` and `precision` (loaa bench --device/--precision) say what both sides run: the step and
 * inference rows honour them; a row that cannot (the probe, the front end, peak RSS off the CPU)
 * is not run and `skipped` says why, rather than timing something else under the asked-for name.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AudioSpectrogramTransformer, astGrid } from '../models/ast.js';
import { FeatureCache } from '../peft/feature_cache.js';
import { autocast, deviceType, precisionDtype } from '../tensor/autocast.js';
import { getNumThreads, manualSeed, noGrad, randn } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { PROBE_FRAMES, probeWork } from './probe.js';
import { forwardFlops, loaaStepBench, onDevice, peakGflops, syncDevice, type Precision } from './speed_rows.js';
import { runPythonJson, torchaudioPython, torchPython } from './python.js';
import { stats, type RowSamples } from './summary.js';
import { TorchWorker } from './torch_worker.js';
import { benchGemmKernels, type GemmRowsResult } from './gemm_rows.js';
import { chooseGemm, describeGemm, type GemmChoice } from '../tensor/gemm.js';
import { engineModels, engineRows, type EngineModel } from './engines_rows.js';

const ARCH = 'deit_base_distilled_patch16_384';
const FRAMES = 512;
const BINS = 128;
const here = dirname(fileURLToPath(import.meta.url));

export interface RowsOptions {
  rounds: number;
  /** training-step batch (the issue's 8) */
  batch: number;
  /** timed steps per side and round */
  steps: number;
  /** timed forwards per side, round and inference configuration (their median is the round's sample) */
  inferReps: number;
  probeClips: number;
  probeEpochs: number;
  /** front-end repetitions per round (median) */
  frontendReps: number;
  /** timed API/onnxruntime forwards per side, round and batch of the engines rows (median) */
  engineReps: number;
  /** which groups run: gemm, step, inference, engines, probe, frontend, rss, inference-bf16 */
  groups: readonly string[];
  /** the engines rows' models (default AST-B and the FSDD recipe's DeiT-tiny: engines_rows.ts) */
  engineModels?: EngineModel[];
  /** where both sides run (a resolved libtorch device: cpu, cuda:N); default cpu */
  device?: string;
  /** the one precision of the step and inference rows; default: steps in fp32 and bf16, inference in fp32 */
  precision?: Precision;
  /** an untimed first training step per side (allocation, autocast's casts); --quick leaves it out */
  warmup?: boolean;
  log: (line: string) => void;
}

/** A row that cannot run the asked-for device or precision, and why. */
export interface SkippedRow {
  work: string;
  reason: string;
}

/** Matmul rates, measured on first use per precision (the GEMM-bound limit's denominator). */
type Peak = (p: Precision) => number;

/** ", on cuda:0" for rows off the CPU: the work's name says where it ran. */
const where = (device: string): string => (device === 'cpu' ? '' : `, on ${device}`);
const low = (p: Precision): string => (p === 'fp32' ? p : `${p} (autocast${p === 'fp16' ? ', loss scaling' : ''})`);

/** the default groups; 'inference-bf16' runs only when --rows names it (without AMX it would take the run past 12 minutes) */
export const GROUPS = ['gemm', 'step', 'inference', 'engines', 'probe', 'frontend', 'rss'] as const;

export const DEFAULTS: Omit<RowsOptions, 'log'> = {
  rounds: 5,
  batch: 8,
  steps: 1,
  inferReps: 3,
  engineReps: 2,
  probeClips: 64,
  probeEpochs: 10,
  frontendReps: 20,
  groups: GROUPS,
};
/** --quick: the same rows, smaller, one round, no warm-up step: a smoke check, not a measurement */
export const QUICK: Omit<RowsOptions, 'log'> = {
  rounds: 1,
  batch: 2,
  steps: 1,
  inferReps: 1,
  engineReps: 1,
  probeClips: 16,
  probeEpochs: 2,
  frontendReps: 5,
  groups: GROUPS,
  warmup: false,
};

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const med = (xs: readonly number[]): number => stats(xs).median;
const msOf = (r: Record<string, unknown>): number[] => {
  const ms = r.ms;
  return Array.isArray(ms) ? (ms as number[]) : [ms as number];
};

/** One side's failure becomes the row's note instead of ending the bench. */
async function pySide(row: RowSamples, f: () => Promise<number>): Promise<void> {
  if (row.pytorchNote?.startsWith('error')) return;
  try {
    row.pytorch.push(await f());
  } catch (e) {
    row.pytorchNote = `error: ${(e as Error).message}`;
    row.pytorch.length = 0;
  }
}

/**
 * Issue #21's goal for the fp32 training step: >= 1.8x PyTorch eager where PyTorch's fp32 GEMM
 * (libtorch's kernel, MKL in the wheel) runs under half the best kernel measured here, >= 1.1x
 * otherwise; the rates come from this run's gemm rows, else from loaa's GEMM choice (measured or
 * cached on this machine), else 1.1x is assumed. `basis` says which.
 */
export function fp32StepGoal(device: string, gemm?: GemmRowsResult, choice?: GemmChoice): { goal: number; basis: string } {
  if (device !== 'cpu') return { goal: 1.1, basis: `the fp32 step goal is 1.1x on ${device} (the GEMM condition is the CPU's)` };
  let torch: number | undefined;
  let best: number | undefined;
  let from: string;
  if (gemm?.best) {
    torch = gemm.rows.find((r) => r.kernel === 'torch')?.summary.median;
    best = gemm.best.summary.median;
    from = "this run's gemm rows";
  } else {
    const rates = Object.values(choice?.rates ?? {});
    torch = choice?.rates.torch;
    best = rates.length ? Math.max(...rates) : undefined;
    from = `loaa's GEMM choice (${choice?.source ?? 'none'}; the gemm rows did not run)`;
  }
  if (torch === undefined || best === undefined)
    return { goal: 1.1, basis: 'the fp32 step goal 1.1x is assumed: no GEMM rates are known (the gemm rows did not run)' };
  const half = torch < 0.5 * best;
  return {
    goal: half ? 1.8 : 1.1,
    basis: `the fp32 step goal is ${half ? '1.8' : '1.1'}x: PyTorch's fp32 GEMM (torch kernel, ${Math.round(torch)} GFLOP/s) is ${half ? 'under' : 'not under'} half the best kernel (${Math.round(best)} GFLOP/s), from ${from}`,
  };
}

async function stepRows(o: RowsOptions, py: TorchWorker | null, peak: Peak, fp32Goal: number): Promise<RowSamples[]> {
  const device = o.device ?? 'cpu';
  const { model, flops, step: timedStep, dispose } = loaaStepBench(o.batch, device);
  const rows: RowSamples[] = [];
  try {
    for (const p of o.precision ? [o.precision] : (['fp32', 'bf16'] as const)) {
      model.castFrozenWeights(precisionDtype(p));
      const step = (): number => timedStep(p);
      const row: RowSamples = {
        work: `LoAA training step ${low(p)}, ${ARCH}, ${FRAMES} frames, stride 16, batch ${o.batch}${where(device)}`,
        unit: 'ms/step',
        lowerIsBetter: true,
        loaa: [],
        pytorch: [],
        goal: p === 'fp32' ? fp32Goal : p === 'bf16' ? 1.1 : 1.3, // fp16 (a GPU): the issue names no goal; #12's
        flops: { loaa: flops, pytorch: flops },
        peakGflops: peak(p),
        timeMs: true,
        ...(py ? {} : { pytorchNote: 'PyTorch not found' }),
      };
      if (o.warmup !== false) step(); // warm-up: allocation, autocast's weight casts
      for (let r = 0; r < o.rounds; r++) {
        o.log(`  step ${p} round ${r + 1}/${o.rounds}`);
        row.loaa.push(mean(Array.from({ length: o.steps }, step)));
        if (py)
          await pySide(row, async () =>
            mean(msOf(await py.request({ op: 'step', precision: p, batch: o.batch, steps: o.steps, device, warmup: o.warmup !== false }))),
          );
      }
      rows.push(row);
    }
  } finally {
    dispose();
  }
  return rows;
}

async function inferenceRows(o: RowsOptions, py: TorchWorker | null, peak: Peak, p: Precision): Promise<RowSamples[]> {
  const rows: RowSamples[] = [];
  const device = o.device ?? 'cpu';
  const amp = deviceType(device);
  const dtype = precisionDtype(p);
  for (const stride of [16, 10]) {
    manualSeed(0);
    const cfg = { arch: ARCH, numClasses: 50, melBins: BINS, frames: FRAMES, fstride: stride, tstride: stride };
    const model = new AudioSpectrogramTransformer(cfg, { seed: 0 }).eval();
    if (device !== 'cpu') model.to(device);
    model.castFrozenWeights(dtype);
    const { gridRows, gridCols } = astGrid(cfg);
    const perClip = forwardFlops(2 + gridRows * gridCols, gridRows * gridCols, false).backbone;
    try {
      for (const batch of [1, 8]) {
        const x = onDevice(randn([batch, FRAMES, BINS], { seed: 1 }), device).keep();
        const fwd = (): number => {
          const t0 = performance.now();
          noGrad(() =>
            scope(() => {
              if (dtype) autocast(amp, dtype, () => model.forward(x));
              else model.forward(x);
            }),
          );
          syncDevice(device);
          return performance.now() - t0;
        };
        const row: RowSamples = {
          work: `inference ${low(p)}, batch ${batch}, stride ${stride} (${2 + gridRows * gridCols} tokens)${where(device)}`,
          unit: 'ms/batch',
          lowerIsBetter: true,
          loaa: [],
          pytorch: [],
          goal: 1.3,
          flops: { loaa: batch * perClip, pytorch: batch * perClip },
          peakGflops: peak(p),
          timeMs: true,
          ...(py ? {} : { pytorchNote: 'PyTorch not found' }),
        };
        fwd();
        for (let r = 0; r < o.rounds; r++) {
          o.log(`  inference ${p} stride ${stride} batch ${batch} round ${r + 1}/${o.rounds}`);
          row.loaa.push(med(Array.from({ length: o.inferReps }, fwd)));
          if (py)
            await pySide(row, async () =>
              med(msOf(await py.request({ op: 'infer', stride, batch, reps: o.inferReps, precision: p, device }))),
            );
        }
        x.dispose();
        rows.push(row);
      }
    } finally {
      model.dispose();
    }
  }
  return rows;
}

async function probeRow(o: RowsOptions, py: TorchWorker | null, peak: Peak): Promise<RowSamples> {
  const frames = PROBE_FRAMES;
  const batch = 8;
  const work = probeWork(ARCH, o.probeClips, BINS);
  const { gridRows, gridCols } = astGrid(work.cfg);
  const perClip = forwardFlops(2 + gridRows * gridCols, gridRows * gridCols, false).backbone;
  const row: RowSamples = {
    work: `linear probe, ${o.probeEpochs} epochs of ${o.probeClips} FSDD-sized clips (1 s, ${frames} frames), batch ${batch}, fp32 (loaa: cached features; PyTorch: plain loop)`,
    unit: 'ms',
    lowerIsBetter: true,
    loaa: [],
    pytorch: [],
    goal: 20,
    flops: { loaa: o.probeClips * perClip, pytorch: o.probeEpochs * o.probeClips * perClip },
    peakGflops: peak('fp32'),
    timeMs: true,
    ...(py ? {} : { pytorchNote: 'PyTorch not found' }),
  };
  try {
    for (let r = 0; r < o.rounds; r++) {
      o.log(`  linear probe round ${r + 1}/${o.rounds}`);
      // loaa's path: frozen features once through a fresh FeatureCache per round, then the head
      row.loaa.push(work.run(o.probeEpochs, batch, new FeatureCache()));
      if (py)
        await pySide(
          row,
          async () => msOf(await py.request({ op: 'probe', clips: o.probeClips, epochs: o.probeEpochs, batch, frames }))[0],
        );
    }
  } finally {
    work.dispose();
  }
  return row;
}

async function frontendRows(o: RowsOptions): Promise<RowSamples[]> {
  const python = torchaudioPython();
  const note = python ? 'torchaudio on Debian torch 1.13 (none for 2.13 here)' : 'torchaudio not installed';
  const mk = (work: string): RowSamples => ({
    work,
    unit: 'ms/clip',
    lowerIsBetter: true,
    loaa: [],
    pytorch: [],
    goal: 1.0,
    pytorchNote: note,
  });
  // the whole front end per clip, and its two stages on their own (torchaudio's rows of the same names)
  const rows: [string, RowSamples][] = [
    ['frontend_5s_44k1_ms', mk('AST front end, 5 s at 44.1 kHz (resample + fbank, 1 thread)')],
    ['frontend_1s_16k_ms', mk('AST front end, 1 s at 16 kHz (fbank, 1 thread)')],
    ['resample_5s_44k1_to_16k_ms', mk('resample alone, 5 s from 44.1 to 16 kHz (1 thread)')],
    ['fbank_5s_16k_ms', mk('Kaldi fbank alone, 5 s at 16 kHz, 128 bins (1 thread)')],
  ];
  for (let r = 0; r < o.rounds; r++) {
    o.log(`  front end round ${r + 1}/${o.rounds}`);
    // a fresh process a round, as torchaudio's side (frontend_child.ts says why)
    const child = spawnSync(process.execPath, [join(here, 'frontend_child.js'), String(o.frontendReps)], {
      encoding: 'utf8',
      env: process.env,
      timeout: 600_000,
    });
    if (child.status !== 0) throw new Error(`frontend_child.js: exit ${child.status}: ${(child.stderr || '').trim().split('\n').pop()}`);
    const ours = JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, number>;
    for (const [key, row] of rows) row.loaa.push(ours[key]);
    if (python && !rows[0][1].pytorchNote?.startsWith('error')) {
      try {
        const ta = runPythonJson(python, 'frontend_torchaudio.py', ['--reps', String(o.frontendReps)]);
        for (const [key, row] of rows) row.pytorch.push(ta[key] as number);
      } catch (e) {
        for (const [, row] of rows) {
          row.pytorchNote = `error: ${(e as Error).message}`;
          row.pytorch.length = 0;
        }
      }
    }
  }
  return rows.map(([, row]) => row);
}

/** Peak RSS of a process that builds the model and runs training steps: one fresh process per side and round. */
function rssRow(o: RowsOptions, python: string | null, p: 'fp32' | 'bf16'): RowSamples {
  const row: RowSamples = {
    work: `peak RSS of the LoAA training step, ${p}, batch ${o.batch} (a fresh process: model + 2 steps)`,
    unit: 'MiB',
    lowerIsBetter: true,
    loaa: [],
    pytorch: [],
    goal: 1.0,
    ...(python ? {} : { pytorchNote: 'PyTorch not found' }),
  };
  const rounds = Math.min(o.rounds, 2); // memory does not vary like time: two runs show it is stable
  for (let r = 0; r < rounds; r++) {
    o.log(`  peak RSS round ${r + 1}/${rounds}`);
    const child = spawnSync(process.execPath, [join(here, 'rss_child.js'), String(o.batch), '2', p], {
      encoding: 'utf8',
      env: process.env,
      timeout: 900_000,
    });
    if (child.status !== 0) throw new Error(`rss_child.js: exit ${child.status}: ${(child.stderr || '').trim().split('\n').pop()}`);
    row.loaa.push((JSON.parse(child.stdout.trim().split('\n').pop()!) as { peakRssMiB: number }).peakRssMiB);
    if (python && !row.pytorchNote?.startsWith('error')) {
      try {
        row.pytorch.push(
          runPythonJson(
            python,
            'rows_torch.py',
            ['--rss', '--batch', String(o.batch), '--steps', '2', '--precision', p, '--threads', String(getNumThreads())],
            900_000,
          ).peakRssMiB as number,
        );
      } catch (e) {
        row.pytorchNote = `error: ${(e as Error).message}`;
        row.pytorch.length = 0;
      }
    }
  }
  return row;
}

export interface RowsResult {
  /** matmul GFLOP/s of the precisions the rows used, on the rows' device */
  peakGflops: Partial<Record<Precision, number>>;
  pytorch: Record<string, unknown>;
  rows: RowSamples[];
  skipped: SkippedRow[];
  seconds: number;
  /** the fp32 GEMM kernels' rates (the gemm group, CPU): the best is the fp32 peak above */
  gemm?: GemmRowsResult;
  /** the kernel loaa's fp32 rows ran with (CPU) */
  gemmChoice?: GemmChoice;
  /** which fp32 step goal the rows carry and why (absent when the step rows did not run) */
  goalBasis?: string;
}

/**
 * Why a group cannot run the asked-for device and precision (null: it can). The probe compares
 * cached fp32 features, the front end is CPU code in fp32, and peak RSS is host memory of an fp32 or
 * bf16 CPU step: none of them has a GPU or other-precision variant to time.
 */
export function groupLimit(group: string, device: string, precision: Precision | undefined): string | null {
  const asked = `--device ${device}${precision ? ` --precision ${precision}` : ''}`;
  if (group === 'probe' && (device !== 'cpu' || (precision ?? 'fp32') !== 'fp32'))
    return `the linear probe row runs on the CPU in fp32 only (asked: ${asked})`;
  if (group === 'frontend' && (device !== 'cpu' || (precision ?? 'fp32') !== 'fp32'))
    return `the front end is CPU code in fp32, with no device or precision (asked: ${asked})`;
  if (group === 'gemm' && device !== 'cpu') return `the GEMM kernel rows are the CPU's fp32 kernels (asked: ${asked})`;
  if (group === 'engines' && (device !== 'cpu' || (precision ?? 'fp32') !== 'fp32'))
    return `onnxruntime-node runs on the CPU in fp32 only (asked: ${asked})`;
  if (group === 'rss' && (device !== 'cpu' || precision === 'fp16'))
    return `peak RSS is measured for CPU steps in fp32 or bf16 (asked: ${asked})`;
  return null;
}

const GROUP_WORK: Record<string, string> = {
  gemm: 'fp32 GEMM kernels',
  engines: 'inference through the public API vs onnxruntime',
  probe: 'linear probe',
  frontend: 'AST front end',
  rss: 'peak RSS of the LoAA training step',
};

export async function benchRows(o: RowsOptions): Promise<RowsResult> {
  const t0 = performance.now();
  const device = o.device ?? 'cpu';
  const want = new Set(o.groups);
  const skipped: SkippedRow[] = [];
  for (const g of ['gemm', 'engines', 'probe', 'frontend', 'rss']) {
    const why = want.has(g) ? groupLimit(g, device, o.precision) : null;
    if (why) {
      want.delete(g);
      skipped.push({ work: GROUP_WORK[g]!, reason: why });
    }
  }
  const python = torchPython();
  let py: TorchWorker | null = null;
  let pyInfo: Record<string, unknown> = { python };
  // only the step, inference and probe rows talk to the long-lived PyTorch process
  if (['step', 'inference', 'inference-bf16', 'probe'].some((g) => want.has(g))) {
    try {
      py = await TorchWorker.start(python, getNumThreads());
      pyInfo = { python, ...py.info };
    } catch (e) {
      pyInfo = { python, error: (e as Error).message };
    }
  }
  const rates: Partial<Record<Precision, number>> = {};
  // loaa's fp32 CPU rows run the kernel loaa picks for this machine, as training does (autocast
  // rows run libtorch's own whatever the choice)
  const gemmChoice = device === 'cpu' && (o.precision ?? 'fp32') === 'fp32' ? chooseGemm({ warn: o.log }) : undefined;
  if (gemmChoice) o.log(`  loaa: ${describeGemm(gemmChoice)}`);
  let gemm: GemmRowsResult | undefined;
  if (want.has('gemm')) {
    gemm = await benchGemmKernels({ rounds: o.rounds, log: o.log });
    // the machine's fp32 limit is its best kernel, not libtorch's matmul
    if (gemm.best) rates.fp32 = gemm.best.summary.median;
  }
  const peak: Peak = (p) => {
    if (rates[p] === undefined) {
      o.log(`  peak matmul rate (${p}${where(device)})`);
      rates[p] = peakGflops(p, device);
    }
    return rates[p]!;
  };
  const rows: RowSamples[] = [];
  const stepGoal = want.has('step') ? fp32StepGoal(device, gemm, gemmChoice) : undefined;
  try {
    if (want.has('step')) rows.push(...(await stepRows(o, py, peak, stepGoal!.goal)));
    if (want.has('inference')) rows.push(...(await inferenceRows(o, py, peak, o.precision ?? 'fp32')));
    if (want.has('inference-bf16')) rows.push(...(await inferenceRows(o, py, peak, 'bf16')));
    if (want.has('probe')) rows.push(await probeRow(o, py, peak));
    await py?.close();
    py = null;
    if (want.has('engines'))
      rows.push(
        ...(await engineRows({
          rounds: o.rounds,
          reps: o.engineReps,
          batches: [1, 8],
          models: o.engineModels ?? engineModels(),
          log: o.log,
        })),
      );
    if (want.has('frontend')) rows.push(...(await frontendRows(o)));
    if (want.has('rss')) rows.push(rssRow(o, pyInfo.error ? null : python, o.precision === 'bf16' ? 'bf16' : 'fp32'));
  } finally {
    await py?.close();
  }
  return {
    peakGflops: rates,
    pytorch: pyInfo,
    rows,
    skipped,
    seconds: (performance.now() - t0) / 1000,
    gemm,
    gemmChoice,
    ...(stepGoal ? { goalBasis: stepGoal.basis } : {}),
  };
}
