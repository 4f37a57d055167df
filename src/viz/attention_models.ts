/**
 * Runs the models of `loaa attention` on one input and hands their attention matrices to
 * attention.ts: the backbone (a checkpoint, `pretrained` = the `loaa pull` cache, or
 * `random:<arch>` = seeded random weights), then each adapter put on it in turn (loadAdapter swaps
 * them and restores any backbone tensors an adapter overwrote, so the backbone is loaded once).
 * The forwards run on `device` under autocast in `precision`, as inference does (src/api/classifier.ts);
 * the maps come back as float32 on the CPU.
 */
import { basename, dirname, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { featuresOfFile, readFeaturesFile } from '../infer/features.js';
import { SAMPLE_RATE, type FrontendSpec } from '../audio/frontend.js';
import { AudioSpectrogramTransformer, astGrid, loadAst, type AstConfig } from '../models/ast.js';
import { getArch } from '../models/archs.js';
import { backbonePath } from '../models/pull.js';
import { astConfigFromAdapter, loadAdapter, readAdapterConfig, removeAdapter, type AdapterConfigFile } from '../peft/checkpoint.js';
import { noGrad, tensor } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { autocast, type Precision } from '../tensor/autocast.js';
import { toDevice } from '../tensor/device.js';
import { placeModel, resolveEngine } from '../tensor/engine.js';
import type { AttentionMatrix, PatchGeometry } from './attention.js';

export interface AttentionRunOptions {
  /** audio file, or a `.safetensors` holding `fbank` [frames, mel] used as it is */
  input: string;
  /** checkpoint path, `pretrained`, or `random:<arch>` */
  backbone: string;
  adapters: string[];
  compare?: string;
  /** draw the bare backbone as the first row (default true) */
  backboneRow?: boolean;
  /** block index; negative counts from the end (default -1) */
  layer?: number;
  /** without an adapter: the architecture of a checkpoint backbone */
  arch?: string;
  /** without an adapter: front end and input geometry */
  targetLength?: number;
  numMelBins?: number;
  sampleRate?: number;
  mean?: number;
  std?: number;
  fstride?: number;
  tstride?: number;
  /** blocks of a random backbone (reduced-depth tests) */
  depth?: number;
  /** random backbone seed */
  seed?: number;
  /** an audio checkpoint's positional grid [f, t] when it cannot be read from the checkpoint */
  sourceGrid?: [number, number];
  /** cpu (default), cuda, cuda:N or auto */
  device?: string;
  /** fp32 (default), bf16, fp16 or auto: torch.autocast around the forward */
  precision?: string;
}

export interface AttentionRun {
  /** model input [frames, bins] row-major, as the model saw it */
  fbank: Float32Array;
  /** frames before padding */
  validFrames: number;
  geometry: PatchGeometry;
  matrices: AttentionMatrix[];
  /** index into `matrices` of the --compare model */
  compareIndex?: number;
  /** the block whose attention this is (non-negative) */
  layer: number;
  depth: number;
  arch: string;
  /** where and in which precision the forwards ran */
  device: string;
  precision: Precision;
}

/** A short row label for an adapter directory: `run/best` rather than `best`. */
export function adapterLabel(dir: string): string {
  const abs = resolve(dir);
  const b = basename(abs);
  return ['best', 'last', 'final', 'adapter', 'checkpoint'].includes(b) ? `${basename(dirname(abs))}/${b}` : b;
}

function backboneConfig(o: AttentionRunOptions, first: AdapterConfigFile | undefined): AstConfig {
  if (first) {
    const c = astConfigFromAdapter(first);
    if (o.depth !== undefined && c.depth === undefined) c.depth = o.depth;
    return c;
  }
  const randomArch = o.backbone.startsWith('random:') ? o.backbone.slice('random:'.length) : undefined;
  const arch = randomArch ?? o.arch;
  if (!arch) throw new Error('--arch: needed to build a checkpoint backbone without an --adapter (the adapter says it otherwise)');
  getArch(arch);
  return {
    arch,
    numClasses: 1,
    melBins: o.numMelBins ?? 128,
    frames: o.targetLength ?? 0, // filled from the input when not given
    fstride: o.fstride ?? 16,
    tstride: o.tstride ?? 16,
    ...(o.depth !== undefined ? { depth: o.depth } : {}),
  };
}

async function readInput(
  o: AttentionRunOptions,
  fe: FrontendSpec,
): Promise<{ data: Float32Array; frames: number; bins: number; valid: number }> {
  if (/\.safetensors$/i.test(o.input)) {
    const xs = readFeaturesFile(o.input);
    if (xs.length !== 1 || xs[0]!.name !== o.input)
      throw new Error(`${o.input}: fbank: expected [frames, mel bins], got a batch of ${xs.length}`);
    const x = xs[0];
    return { data: x!.fbank, frames: x!.frames, bins: x!.bins, valid: x!.frames };
  }
  const spec = await featuresOfFile(o.input, fe);
  return { data: spec.data, frames: spec.frames, bins: spec.bins, valid: spec.validFrames };
}

/** Builds the models, runs them on the input and returns their attention at the chosen block. */
export async function runAttentionModels(o: AttentionRunOptions): Promise<AttentionRun> {
  // first: a GPU that is not there should not cost a backbone load
  const engine = resolveEngine(o.device, o.precision);
  const adapterDirs = [...o.adapters, ...(o.compare !== undefined ? [o.compare] : [])];
  const configs = adapterDirs.map((d) => readAdapterConfig(d));
  const first = configs[0];
  const cfg = backboneConfig(o, first);
  const fe = first?.frontend;
  const sampleRate = o.sampleRate ?? fe?.sample_rate ?? SAMPLE_RATE;
  const numMelBins = first ? cfg.melBins : (o.numMelBins ?? 128);
  const targetLength = first ? cfg.frames : o.targetLength;
  const mean = o.mean ?? fe?.mean;
  const std = o.std ?? fe?.std;
  if ((mean === undefined) !== (std === undefined)) throw new Error(`${o.input}: normalisation needs both mean and std`);
  const input = await readInput(o, {
    type: fe?.type ?? 'ast',
    sampleRate,
    numMelBins,
    targetLength: targetLength ?? 0,
    ...(mean !== undefined && std !== undefined ? { mean, std } : {}),
  });
  if (cfg.frames === 0) cfg.frames = input.frames;
  if (input.frames !== cfg.frames || input.bins !== cfg.melBins) {
    throw new Error(
      `${o.input}: the input is ${input.frames} frames x ${input.bins} mel bins, the model takes ${cfg.frames} x ${cfg.melBins}`,
    );
  }
  const { gridRows, gridCols } = astGrid(cfg);
  const geometry: PatchGeometry = {
    frames: cfg.frames,
    bins: cfg.melBins,
    gridRows,
    gridCols,
    fstride: cfg.fstride,
    tstride: cfg.tstride,
    patch: 16,
  };

  let model: AudioSpectrogramTransformer;
  if (o.backbone.startsWith('random:')) {
    model = new AudioSpectrogramTransformer(cfg, { seed: o.seed ?? 0 });
  } else {
    const path = o.backbone === 'pretrained' ? backbonePath(cfg.arch) : o.backbone;
    if (!existsSync(path)) {
      throw new Error(
        `--backbone: ${path} does not exist${o.backbone === 'pretrained' ? ` (run loaa pull ${cfg.arch})` : ''} (random:<arch> builds random weights)`,
      );
    }
    model = loadAst(path, cfg, { seed: o.seed ?? 0, ...(o.sourceGrid ? { sourceGrid: o.sourceGrid } : {}) }).model;
  }
  const depth = model.depth;
  const layer = o.layer ?? -1;
  const li = layer < 0 ? depth + layer : layer;
  if (!Number.isInteger(li) || li < 0 || li >= depth)
    throw new Error(`--layer: ${layer} is outside the model's ${depth} blocks (0..${depth - 1}, or -1..-${depth})`);
  model.eval();
  placeModel(model, engine);

  const matrices: AttentionMatrix[] = [];
  const run = (label: string): void => {
    // loading or removing an adapter drops the cast-once low-precision weights
    model.castFrozenWeights(engine.amp.dtype);
    const probs = noGrad(() =>
      scope(() => {
        const x = toDevice(tensor(input.data, [1, input.frames, input.bins]), engine.device);
        const r = autocast(engine.amp.device, engine.amp.dtype, () => model.forward(x, { attention: li === depth - 1 ? 'last' : 'all' }));
        const a = r.attentions[li];
        if (!a) throw new Error('the model recorded no attention');
        return a.select(0, 0).to('float32', 'cpu').contiguous().toFloat32();
      }),
    );
    const L = Math.round(Math.sqrt(probs.length));
    matrices.push({ label, probs, nPre: L - gridRows * gridCols });
  };
  try {
    if (o.backboneRow !== false) run(o.backbone.startsWith('random:') ? 'BACKBONE (RANDOM)' : 'BACKBONE');
    adapterDirs.forEach((dir, i) => {
      loadAdapter(dir, model);
      run(i === adapterDirs.length - 1 && o.compare !== undefined ? `${adapterLabel(dir)} (COMPARE)` : adapterLabel(dir));
      removeAdapter(model);
    });
  } finally {
    model.dispose();
  }
  if (!matrices.length) throw new Error('--no-backbone-row: nothing to draw without an --adapter');
  return {
    fbank: input.data,
    validFrames: input.valid,
    geometry,
    matrices,
    ...(o.compare !== undefined ? { compareIndex: matrices.length - 1 } : {}),
    layer: li,
    depth,
    arch: cfg.arch,
    device: engine.device,
    precision: engine.precision,
  };
}
