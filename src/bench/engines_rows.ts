/**
 * `loaa bench --rows engines`: inference through the public API (`AudioClassifier`, the engine
 * `auto` gives a user) against a plain onnxruntime-node InferenceSession on the same exported graph
 * (the bytes loaa's export writes), fp32 on the CPU, batch 1 and 8, for AST-B (the step rows' model)
 * and the FSDD recipe's DeiT-tiny, random weights. Both sides take the same fbank features and give
 * logits (loaa's front end is left out of both). onnxruntime runs with loaa's thread count. Where
 * `auto` chose onnxruntime, libtorch (`engine: 'torch'`) gets a row of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AudioClassifier } from '../api/classifier.js';
import { exportModelBytes } from '../export/export.js';
import { randomProvenance } from '../infer/provenance.js';
import { AudioSpectrogramTransformer, type AstConfig } from '../models/ast.js';
import { loadOrtNode, type Ort } from '../onnx/runtime.js';
import type { PeftConfig } from '../peft/config.js';
import { saveAdapter } from '../peft/checkpoint.js';
import { applyPeft } from '../peft/methods.js';
import type { ClassifyItem } from '../serve/backend.js';
import { getNumThreads } from '../tensor/functional.js';
import { astConfig, peftConfig } from '../train/build.js';
import { loadRecipe } from '../train/recipe.js';
import { ADAPTERS } from './speed_rows.js';
import type { RowSamples } from './summary.js';
import { medianMsAsync } from './timing.js';

/** One model of the group: its AST geometry and PEFT method (random weights from `seed`). */
export interface EngineModel {
  /** how the row names it */
  label: string;
  cfg: AstConfig;
  peft: PeftConfig;
}

/** AST-B as the step rows build it, and the FSDD recipe's DeiT-tiny with its adapter. */
export function engineModels(): EngineModel[] {
  const fsdd = loadRecipe('fsdd_loaa');
  const tiny = astConfig(fsdd, 10);
  return [
    {
      label: 'AST-B (deit_base_distilled_patch16_384, 512 frames x 128 bins, stride 16, LoAA attn 1x3 + ffn 3x1 r36)',
      cfg: { arch: 'deit_base_distilled_patch16_384', numClasses: 50, melBins: 128, frames: 512, fstride: 16, tstride: 16 },
      peft: { method: 'loaa', adapters: ADAPTERS },
    },
    {
      label: `DeiT-tiny FSDD (${tiny.arch}, ${tiny.frames} frames x ${tiny.melBins} bins, recipe fsdd_loaa)`,
      cfg: tiny,
      peft: peftConfig(fsdd),
    },
  ];
}

export interface EnginesOptions {
  rounds: number;
  /** timed forwards per side, round and batch (their median is the round's sample) */
  reps: number;
  batches: readonly number[];
  models: EngineModel[];
  log: (line: string) => void;
}

/** The adapter directory the API loads (a random backbone recorded by seed) and the graph export makes of it. */
function writeCheckpoint(dir: string, m: EngineModel): Uint8Array {
  const model = new AudioSpectrogramTransformer(m.cfg, { seed: 0 });
  try {
    const backbone = randomProvenance(m.cfg.arch, 0, model);
    applyPeft(model, m.peft, { seed: 0 });
    model.eval();
    const config = saveAdapter(dir, model, undefined, { backbone });
    return exportModelBytes(model, config);
  } finally {
    model.dispose();
  }
}

type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;

async function modelRows(o: EnginesOptions, m: EngineModel, ort: Ort | null, ortNote: string): Promise<RowSamples[]> {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-bench-engines-'));
  const open: { dispose(): void }[] = [];
  let session: Session | null = null;
  try {
    o.log(`  engines: ${m.label}: writing the checkpoint and its graph`);
    const bytes = writeCheckpoint(dir, m);
    const auto = await AudioClassifier.fromPretrained(dir, { engine: 'auto' });
    open.push(auto);
    const sides: { name: string; clf: AudioClassifier }[] = [{ name: `engine auto (chose ${auto.engine})`, clf: auto }];
    if (auto.engine === 'onnx') {
      const torch = await AudioClassifier.fromPretrained(dir, { engine: 'torch' });
      open.push(torch);
      sides.push({ name: 'engine torch', clf: torch });
    }
    if (ort) session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: getNumThreads() });
    const { frames: T, melBins: F } = m.cfg;
    const rows: RowSamples[] = [];
    for (const batch of o.batches) {
      const x = Float32Array.from({ length: batch * T * F }, (_, i) => Math.sin(i * 0.37));
      const items: ClassifyItem[] = Array.from({ length: batch }, (_, i) => ({
        input: { kind: 'features', data: x.subarray(i * T * F, (i + 1) * T * F), shape: [T, F] },
        topK: 1,
      }));
      const loaa = (clf: AudioClassifier) => () => clf.classifyBatchWithLogits(items, 'default');
      const input = ort && session ? { [session.inputNames[0]!]: new ort.Tensor('float32', x, [batch, T, F]) } : null;
      const plain = async (): Promise<void> => {
        const out = await session!.run(input!);
        for (const t of Object.values(out)) t.dispose?.();
      };
      const mine = sides.map(
        (s): RowSamples => ({
          work: `inference through the public API (AudioClassifier, ${s.name}) vs onnxruntime on the same exported graph, ${m.label}, fp32, batch ${batch}, fbank features -> logits`,
          unit: 'ms/batch',
          lowerIsBetter: true,
          loaa: [],
          pytorch: [],
          goal: 0.9,
          timeMs: true,
          pytorchNote: ortNote,
        }),
      );
      // warm-up: allocation, onnxruntime's first-run planning; its time sets the repetitions, so a
      // round's sample of a small model spans ~0.5 s instead of two calls a scheduler tick can swing
      for (const s of sides) await loaa(s.clf)();
      if (input) await plain();
      const t0 = performance.now();
      for (const s of sides) await loaa(s.clf)();
      if (input) await plain();
      const reps = Math.max(o.reps, Math.min(50, Math.ceil(500 / ((performance.now() - t0) / (sides.length + (input ? 1 : 0))))));
      const timeLoaa = async (): Promise<void> => {
        for (const [j, s] of sides.entries()) mine[j]!.loaa.push(await medianMsAsync(loaa(s.clf), reps));
      };
      const timePlain = async (): Promise<void> => {
        if (!input) return;
        const ms = await medianMsAsync(plain, reps);
        for (const row of mine) row.pytorch.push(ms);
      };
      for (let r = 0; r < o.rounds; r++) {
        o.log(`  engines: ${m.label.split(' (')[0]} batch ${batch} round ${r + 1}/${o.rounds}`);
        // the order alternates: neither side always runs after the other's cache footprint
        if (r % 2 === 0) {
          await timeLoaa();
          await timePlain();
        } else {
          await timePlain();
          await timeLoaa();
        }
      }
      rows.push(...mine);
    }
    return rows;
  } finally {
    await session?.release();
    for (const c of open) c.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The group's rows: per model, batch 1 and 8 (engine auto; engine torch too where auto chose onnxruntime). */
export async function engineRows(o: EnginesOptions): Promise<RowSamples[]> {
  let ort: Ort | null = null;
  let note: string;
  try {
    ort = await loadOrtNode('loaa bench --rows engines');
    const version = (ort as unknown as { env?: { versions?: { node?: string } } }).env?.versions?.node;
    note = `onnxruntime-node${version ? ` ${version}` : ''}, a plain InferenceSession, ${getNumThreads()} intra-op threads`;
  } catch (e) {
    note = (e as Error).message.replace(/^loaa bench --rows engines: /, '').split(';')[0]!;
  }
  const rows: RowSamples[] = [];
  for (const m of o.models) rows.push(...(await modelRows(o, m, ort, note)));
  return rows;
}
