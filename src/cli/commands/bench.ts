/**
 * `loaa bench`: issue #12's table (loaa vs PyTorch 2.13, interleaved rounds, median/min/max, the
 * goal and the GEMM-bound fraction of each row), `--profile` for where one training step's time goes,
 * and `--only` for the older JSON sections (engine, frontend, inference, speed, training).
 */
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';
import { DEVICE_FLAGS } from '../engine_flags.js';
import type { PrecisionSpec } from '../../tensor/engine_spec.js';

const SECTIONS: Record<string, { what: string; run: () => Promise<Record<string, unknown>> }> = {
  engine: {
    what: 'matmul GFLOP/s and a ViT-B block forward+backward (batch 8, frozen weights)',
    run: async () => (await import('../../bench/engine.js')).benchEngine(),
  },
  frontend: {
    what: 'resampling + Kaldi fbank per clip (5 s at 44.1 kHz, 1 s at 16 kHz), one thread, vs torchaudio',
    run: async () => (await import('../../bench/frontend.js')).benchFrontEndSection(),
  },
  inference: {
    what: 'AST inference, 512 frames, stride 16 and 10, batch 1 and 8, each in a fresh process (speed and peak RSS)',
    run: async () => (await import('../../bench/inference.js')).benchInference(),
  },
  speed: {
    what: 'frozen-backbone levers (#12): token-layout LoAA step vs Conv2d, cached linear probe vs plain loop',
    run: async () => (await import('../../bench/speed_rows.js')).benchSpeed(),
  },
  training: {
    what: 'end-to-end LoAA training throughput (ESC-50 geometry, batch 8, data loading included)',
    run: async () => (await import('../../bench/train.js')).benchTraining(),
  },
};

const ROW_GROUPS = ['gemm', 'step', 'inference', 'engines', 'probe', 'frontend', 'rss', 'inference-bf16'];

const DESCRIPTION = `Without --only or --profile: the table of issue #12. Each row runs the same work in loaa and in
PyTorch (the project's .venv, PyTorch 2.13, the libtorch the addon is built on; the reference AST with
SDPA attention), in interleaved rounds (loaa, PyTorch, loaa, ...), and shows median (min-max), loaa's
advantage (PyTorch time / loaa time, the median of the per-round ratios), the goal, and each side's
fraction of the GEMM-bound limit (the work's FLOPs / this machine's matmul rate in that precision).
Rows (--rows picks groups): gemm (the fp32 GEMM rate of every kernel here at the model's shapes:
libtorch's MKL, oneDNN, OpenBLAS/BLIS, onnxruntime's MLAS; the best is the fp32 GEMM limit of the
fraction columns), step (LoAA training step fp32 and bf16), inference (batch 1 and 8 x
stride 16 and 10), engines (inference through the public API, AudioClassifier with engine auto
(and engine torch where auto chose onnxruntime), against a plain onnxruntime-node session on the
same exported graph with loaa's thread count: fbank features to logits, fp32, batch 1 and 8, AST-B
and the FSDD recipe's DeiT-tiny, random weights; the onnxruntime column stands in the PyTorch
column, and says why where onnxruntime-node is not installed), probe (linear probe, cached
features vs PyTorch's plain loop), frontend (vs torchaudio, which exists here only for Debian's
torch 1.13), rss (peak RSS of the training step);
inference-bf16 (the inference rows under bf16 autocast) runs only when --rows names it.
Goals (issue #21): the fp32 step >= 1.8x where PyTorch's fp32 GEMM (the torch kernel's row) is
under half the best kernel of the same run, else >= 1.1x (the output says which, and what it
assumed when the gemm rows did not run); the bf16 step >= 1.1x; inference >= 1.3x; the engines
rows >= 0.9x onnxruntime; the front end >= 1.0x.
The default run should take about 9 minutes on a quiet 2-core Xeon; --quick is a smoke check (one
round, small batches), not a measurement.

--device and --precision choose what both sides run: the step and inference rows run on that
device (PyTorch's model and batches too) in that one precision (bf16 and fp16 under autocast on
both sides; fp16 with loss scaling: loaa's GradScaler and torch.amp.GradScaler). Rows that have no
such variant (probe and front end: CPU fp32 only; rss: CPU fp32 or bf16) are not run and the output
says why. --device cuda without a GPU is a one-line error.

--only runs the older sections and prints their JSON:
${Object.entries(SECTIONS)
  .map(([k, v]) => `  ${k.padEnd(10)} ${v.what}`)
  .join('\n')}`;

const FLAGS = {
  rounds: { type: 'int', min: 1, max: 100, help: 'interleaved rounds per row (default 5; 1 with --quick)' },
  quick: { type: 'boolean', help: 'one round, batch 2, fewer repetitions, no warm-up step: checks that every\nrow runs' },
  rows: {
    type: 'string',
    value: 'GROUPS',
    help: `comma-separated row groups (default gemm,step,inference,engines,probe,frontend,rss; also\ninference-bf16)`,
  },
  batch: { type: 'int', min: 1, max: 256, help: 'training-step batch (default 8; 2 with --quick)' },
  steps: { type: 'int', min: 1, max: 100, help: 'timed training steps per side and round (default 1)' },
  profile: { type: 'boolean', help: "per-op profile of one LoAA training step (libtorch's op recording)" },
  ...DEVICE_FLAGS,
  shapes: {
    type: 'boolean',
    help: '--profile: split each op by its input shapes (recording the shapes slows the\ncheap ops: compare calls, not their times)',
  },
  top: { type: 'int', min: 1, max: 1000, default: 25, help: 'ops listed by --profile' },
  only: { type: 'string', value: 'SECTIONS', help: `older JSON sections instead of the table: ${Object.keys(SECTIONS).join(',')}` },
} as const;

function list(flag: string, v: string, known: readonly string[]): string[] {
  const xs = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = xs.filter((s) => !known.includes(s));
  if (xs.length === 0 || bad.length)
    throw new UsageError(`--${flag}: unknown ${bad.length ? bad.join(', ') : '(empty list)'} (known: ${known.join(', ')})`);
  return xs;
}

export const command = defineCommand({
  name: 'bench',
  usage: [
    '[--rounds N] [--quick] [--rows GROUPS] [--device D] [--precision P] [--json]',
    '--profile [--precision fp32|bf16] [--batch N] [--shapes]',
    '--only SECTIONS',
  ],
  description: DESCRIPTION,
  flags: FLAGS,
  optionsOnly: true,
  examples: [
    'npm run bench',
    'loaa bench --quick',
    'loaa bench --rows step --rounds 3',
    'loaa bench --rows engines --rounds 2',
    'loaa bench --rows step,inference --device cuda --precision bf16',
    'loaa bench --profile --precision bf16',
    'loaa bench --only engine,frontend',
  ],
  async run({ flags, json, log }) {
    if (flags.only !== undefined && flags.profile) throw new UsageError('--only: not with --profile');
    for (const f of ['device', 'precision'] as const) {
      if (flags.only !== undefined && flags[f] !== undefined)
        throw new UsageError(`--${f}: not with --only (the older sections run on the CPU, as each says)`);
    }
    // the device and precision first: a GPU that is not there should not cost a model build
    const { resolveDevice } = await import('../../tensor/device.js');
    const { resolvePrecision } = await import('../../tensor/precision.js');
    let device = 'cpu';
    try {
      if (flags.device !== undefined) device = resolveDevice(flags.device, '--device');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const precision = flags.precision === undefined ? undefined : resolvePrecision(flags.precision as PrecisionSpec, device);
    const os = await import('node:os');
    const { engineInfo } = await import('../../tensor/functional.js');
    const info = engineInfo();
    const machine = {
      cpu: os.cpus()[0]?.model,
      cores: os.availableParallelism(),
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    };
    const engine = { torch: info.torchVersion, threads: info.threads, openblasCoretype: info.openblasCoretype, cuda: info.cuda };

    if (flags.only !== undefined) {
      const only = list('only', flags.only, Object.keys(SECTIONS));
      const result: Record<string, unknown> = { machine, engine };
      for (const name of only) {
        process.stderr.write(`[bench] ${name}: ${SECTIONS[name].what}\n`);
        try {
          result[name] = await SECTIONS[name].run();
        } catch (e) {
          result[name] = { error: (e as Error).message };
        }
      }
      console.log(JSON.stringify(result, null, 2));
      return 0;
    }

    if (flags.profile) {
      if (device !== 'cpu') throw new UsageError(`--device: --profile records the CPU's ops only, not ${device}`);
      const pp = precision ?? 'fp32';
      if (pp === 'fp16') throw new UsageError('--precision: --profile runs fp32 or bf16, not fp16');
      const { profileStep, profileTable } = await import('../../bench/profile.js');
      const batch = flags.batch ?? 8;
      process.stderr.write(`[bench] profiling one LoAA training step (${pp}, batch ${batch})\n`);
      const p = profileStep({ batch, precision: pp, shapes: flags.shapes });
      if (json) console.log(JSON.stringify({ machine, engine, precision: pp, batch, ...p }, null, 2));
      else
        log(
          `Per-op profile of one LoAA training step (deit_base_distilled_patch16_384, 512 frames, stride 16, batch ${batch}, ${pp}), libtorch ${engine.torch}, ${engine.threads} threads; self time excludes nested ops.\n\n${profileTable(p, flags.top)}`,
        );
      return 0;
    }

    const { benchRows, DEFAULTS, QUICK } = await import('../../bench/rows.js');
    const { describeGemm } = await import('../../tensor/gemm.js');
    const { summarise, markdownTable } = await import('../../bench/summary.js');
    const { gemmTable, shapesText } = await import('../../bench/gemm_rows.js');
    const base = flags.quick ? QUICK : DEFAULTS;
    const o = {
      ...base,
      rounds: flags.rounds ?? base.rounds,
      batch: flags.batch ?? base.batch,
      steps: flags.steps ?? base.steps,
      groups: flags.rows !== undefined ? list('rows', flags.rows, ROW_GROUPS) : base.groups,
      device,
      ...(precision ? { precision } : {}),
      log: (s: string) => void process.stderr.write(`[bench]${s}\n`),
    };
    if (precision && precision !== 'bf16' && o.groups.includes('inference-bf16')) {
      throw new UsageError(
        `--rows: inference-bf16 is the bf16 inference rows, not ${precision} (--rows inference --precision ${precision} runs those)`,
      );
    }
    const r = await benchRows(o);
    const rows = r.rows.map(summarise);
    if (json) {
      console.log(
        JSON.stringify(
          {
            machine,
            engine,
            device,
            precision: precision ?? null,
            pytorch: r.pytorch,
            peakGflops: r.peakGflops,
            gemm: r.gemm ?? null,
            gemmChoice: r.gemmChoice ?? null,
            goalBasis: r.goalBasis ?? null,
            rounds: o.rounds,
            quick: flags.quick,
            seconds: r.seconds,
            rows: rows.map((s, i) => ({ ...s, samples: { loaa: r.rows[i].loaa, pytorch: r.rows[i].pytorch } })),
            skipped: r.skipped,
          },
          null,
          2,
        ),
      );
      return 0;
    }
    const py = r.pytorch;
    log(
      [
        `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; loaa on libtorch ${engine.torch}, ${engine.threads} threads${device === 'cpu' ? '' : `, rows on ${device}`}; PyTorch ${String(py.torch ?? py.error ?? 'not started (no row here needs it)')} (${String(py.python)}).`,
        `Peak matmul (${r.gemm?.best ? `fp32: the best kernel below, ${r.gemm.best.kernel}; otherwise ` : ''}2064x768 by 768x3072${device === 'cpu' ? '' : `, ${device}`}): ${
          Object.entries(r.peakGflops)
            .map(([p, v]) => `${Math.round(v)} GFLOP/s ${p}`)
            .join(', ') || 'not measured'
        }. ${o.rounds} interleaved round(s)${flags.quick ? ' (--quick: a smoke check, not a measurement)' : ''}; median (min-max); loaa advantage = PyTorch / loaa, median of per-round ratios.${r.gemmChoice ? ` loaa's fp32 rows: ${describeGemm(r.gemmChoice)}.` : ''}`,
        '',
        ...(r.gemm
          ? [
              `fp32 GEMM kernels at the model's shapes (${shapesText(r.gemm.shapes)}; GFLOP/s over all of them), ${engine.threads} threads:`,
              '',
              gemmTable(r.gemm),
              '',
            ]
          : []),
        rows.length ? markdownTable(rows) : '(no row ran)',
        ...(r.goalBasis ? [`Goal: ${r.goalBasis}.`] : []),
        ...r.skipped.map((k) => `Not run: ${k.work}: ${k.reason}.`),
        '',
        `(${Math.round(r.seconds)} s)`,
      ].join('\n'),
    );
    return 0;
  },
});
