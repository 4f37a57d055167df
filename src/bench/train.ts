/**
 * End-to-end training throughput (samples/s, data loading included) of LoAA (attn 1x3 + ffn 3x1,
 * r=36) on deit_base_distilled_patch16_384 with ESC-50's geometry: 5-s clips at 44.1 kHz through the
 * real loader (2 worker threads: decode, resample to 16 kHz, fbank, pad to 512 frames, SpecAugment
 * 24/96, normalise), stride 16, batch 8, random weights, Adam. tools/bench/train_torch.py does the
 * same work in PyTorch 2.13 (the project's .venv; torch DataLoader with 2 worker processes, the fbank
 * in plain torch ops as tools/bench/kaldi_torch.py) in the same run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFolderDataset } from '../data/folder.js';
import { DataLoader, WorkerPool } from '../data/loader.js';
import { writeSyntheticSet } from '../data/synthetic.js';
import { AudioSpectrogramTransformer } from '../models/ast.js';
import { applyPeft } from '../peft/methods.js';
import { countModel } from '../peft/params.js';
import { Adam } from '../optim/adam.js';
import type { GroupOptions, Optimizer } from '../optim/optimizer.js';
import { getNumThreads, manualSeed } from '../tensor/functional.js';
import { trainStep } from '../train/trainer.js';
import { torchPython } from './python.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..');

export interface TrainBenchOptions {
  batch?: number;
  warmup?: number;
  steps?: number;
  workers?: number;
  /** run the PyTorch side (default: when the bench's Python, src/bench/python.ts, has torch) */
  pytorch?: boolean;
}

export async function benchTraining(o: TrainBenchOptions = {}): Promise<Record<string, unknown>> {
  const batch = o.batch ?? 8;
  const warmup = o.warmup ?? 1;
  const steps = o.steps ?? 3;
  const workers = o.workers ?? 2;
  const dir = mkdtempSync(join(tmpdir(), 'loaa-bench-train-'));
  try {
    // enough 5-s 44.1 kHz clips that every timed step loads new audio
    const perClass = Math.ceil((batch * (warmup + steps)) / 6);
    writeSyntheticSet(dir, { perClass: { train: perClass }, rate: 44100, seconds: 5, seed: 0 });
    const clips = readFolderDataset(dir).splits.train!;
    const node = await nodeSide(clips, { batch, warmup, steps, workers });
    const result: Record<string, unknown> = {
      model: 'deit_base_distilled_patch16_384',
      method: 'loaa attn 1x3 + ffn 3x1, r=36',
      frames: 512,
      stride: 16,
      batch,
      clips: '5 s at 44.1 kHz, SpecAugment 24/96',
      node,
    };
    const python = torchPython();
    const script = join(repo, 'tools', 'bench', 'train_torch.py');
    const hasTorch =
      o.pytorch !== false && existsSync(python) && spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
    if (hasTorch) {
      const r = spawnSync(
        python,
        [script, dir, '--batch', String(batch), '--warmup', String(warmup), '--steps', String(steps), '--workers', String(workers)],
        {
          encoding: 'utf8',
          timeout: 600_000,
        },
      );
      if (r.status !== 0) {
        result.pytorch = { error: (r.stderr || r.error?.message || '').trim().split('\n').pop() };
      } else {
        const py = JSON.parse(r.stdout.trim().split('\n').pop()!) as { samplesPerSec: number };
        result.pytorch = py;
        result.speedRatio = +(node.samplesPerSec / py.samplesPerSec).toFixed(3);
      }
    } else {
      result.pytorch = `not run (${python} cannot import torch)`;
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function nodeSide(
  clips: ReturnType<typeof readFolderDataset>['splits'][string],
  o: { batch: number; warmup: number; steps: number; workers: number },
): Promise<{
  samplesPerSec: number;
  msPerStep: number;
  dataWaitMsPerStep: number;
  steps: number;
  threads: number;
  workers: number;
  trainable: number;
}> {
  manualSeed(0);
  const numClasses = 50;
  const model = new AudioSpectrogramTransformer(
    { arch: 'deit_base_distilled_patch16_384', numClasses, melBins: 128, frames: 512, fstride: 16, tstride: 16 },
    { seed: 0 },
  );
  applyPeft(
    model,
    {
      method: 'loaa',
      adapters: [
        { position: 'attn', kernel: [1, 3], bottleneck: 36 },
        { position: 'ffn', kernel: [3, 1], bottleneck: 36 },
      ],
    },
    { seed: 0 },
  );
  const params = model.trainableParameters().map(([, p]) => p);
  const trainable = countModel(model).trainable;
  const opt = new Adam(params, { lr: 5e-4, betas: [0.95, 0.999], weightDecay: 5e-7 }) as unknown as Optimizer<GroupOptions>;
  const pool = o.workers > 0 ? new WorkerPool(o.workers) : null;
  const loader = new DataLoader({
    clips: clips.map((c, i) => ({ ...c, label: i % numClasses })),
    numClasses,
    frontend: { type: 'ast', sampleRate: 16000, numMelBins: 128, targetLength: 512, mean: -6.6268077, std: 5.358466 },
    augment: { freqm: 24, timem: 96, mixup: 0, mixupAlpha: 10, noise: false },
    batchSize: o.batch,
    shuffle: true,
    dropLast: true,
    seed: 0,
    workers: pool ?? 0,
    prefetch: 2 * Math.max(1, o.workers),
  });
  const ctx = { model, opt, params, loss: 'ce' as const, labelSmoothing: 0, gradClip: null };
  let done = 0;
  let total = 0;
  let wait = 0;
  try {
    outer: for (let epoch = 0; ; epoch++) {
      const it = loader.epoch(epoch);
      for (;;) {
        const t0 = performance.now();
        const next = await it.next();
        if (next.done) break;
        const t1 = performance.now();
        trainStep(ctx, next.value);
        const t2 = performance.now();
        if (done >= o.warmup) {
          total += t2 - t0;
          wait += t1 - t0;
        }
        if (++done >= o.warmup + o.steps) {
          await it.return(undefined);
          break outer;
        }
      }
    }
  } finally {
    await loader.close();
    await pool?.close();
    opt.dispose();
    model.dispose();
  }
  const n = o.steps;
  return {
    samplesPerSec: +((o.batch * n * 1000) / total).toFixed(3),
    msPerStep: +(total / n).toFixed(1),
    dataWaitMsPerStep: +(wait / n).toFixed(1),
    steps: n,
    threads: getNumThreads(),
    workers: o.workers,
    trainable,
  };
}
