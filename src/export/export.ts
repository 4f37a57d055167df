/**
 * `exportOnnx`: a trained adapter (with its backbone) as one ONNX file. loaa loads the backbone and
 * the adapter (checkpoint conversion, positional-table resizing and the adapter checks live there),
 * then only the model's state dict and geometry cross over to the graph builder.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAst, type AudioSpectrogramTransformer } from '../models/ast.js';
import {
  astConfigFromAdapter,
  loadAdapter,
  readAdapterConfig,
  ADAPTER_CONFIG_FILE,
  type AdapterConfigFile,
  type AdapterConfigJson,
} from '../peft/checkpoint.js';
import { inputToFile } from '../models/input_geometry.js';
import { buildAstGraph, type AstGraphSpec, type StateDict } from './ast_graph.js';
import { encodeOnnx, writeOnnx, type WrittenOnnx } from './onnx_file.js';
import { copyFileGuarded, readInputJson } from '../util/guarded_fs.js';
import { writeFileAtomic } from '../util/fs.js';

export interface ExportOptions {
  /** backbone checkpoint (timm / DeiT / Hugging Face), as `loaa predict --backbone` takes it */
  backbone: string;
  out: string;
  /** input frames (default: the adapter's); another length re-crops the positional table */
  frames?: number;
  batch?: number | 'dynamic';
  precision?: 'fp32' | 'fp16';
  /** see WriteOnnxOptions.externalThreshold */
  externalThreshold?: number;
}

export interface ExportResult extends WrittenOnnx {
  config: AdapterConfigFile;
  metadata: Record<string, string>;
  inputShape: (number | string)[];
}

/** The state dict of a built model as float32 arrays (copies, so the model can be disposed). */
export function stateDictOf(model: AudioSpectrogramTransformer): StateDict {
  const sd: StateDict = new Map();
  for (const [name, p] of model.namedParameters()) sd.set(name, { data: p.toFloat32().slice(), shape: [...p.shape] });
  return sd;
}

/** The graph geometry of a built model with `config`'s PEFT additions. */
export function graphSpecOf(
  model: AudioSpectrogramTransformer,
  config: AdapterConfigFile,
  batch: number | 'dynamic' = 'dynamic',
): AstGraphSpec {
  const c = model.cfg;
  const lora = config.lora && model.blocks.items.some((b) => b.attn.hasLora) ? config.lora : null;
  return {
    embedDim: model.embedDim,
    numHeads: model.arch.numHeads,
    depth: model.depth,
    distilled: model.grid.special === 2,
    patchSize: model.arch.patchSize,
    melBins: c.melBins,
    frames: c.frames,
    fstride: c.fstride,
    tstride: c.tstride,
    numClasses: model.numClasses,
    normEps: model.norm.eps,
    headNormEps: model.head.norm.eps,
    adapters: config.adapters,
    lora,
    prompt: config.prompt ?? null,
    batch,
  };
}

/** Labels, front end and geometry as ONNX metadata_props (strings; JSON where structured). */
export function exportMetadata(config: AdapterConfigFile, frames: number): Record<string, string> {
  const labels = config.labels ?? Array.from({ length: config.num_classes }, (_, i) => String(i));
  const fe = config.frontend ? { ...config.frontend, target_length: frames } : null;
  return {
    'loaa.format': 'loaa-onnx/1',
    'loaa.arch': config.arch,
    'loaa.method': config.method,
    'loaa.input': JSON.stringify(inputToFile({ ...config.input, frames })),
    labels: JSON.stringify(labels),
    ...(fe ? { frontend: JSON.stringify(fe) } : {}),
    'loaa.io': 'input fbank [batch, frames, mel] float32, normalised (x - mean) / (2 std); output logits [batch, classes]',
  };
}

/**
 * An adapter directory with the input length changed to `frames` (a temp copy), for models whose
 * tensors do not depend on it (everything but full fine-tuning's positional table). Caller removes it.
 */
function withFrames(dir: string, config: AdapterConfigFile, frames: number): string {
  if (config.method === 'full')
    throw new Error(`--frames: a full fine-tuning checkpoint's positional table is fixed at ${config.input.frames} frames`);
  const tmp = mkdtempSync(join(tmpdir(), 'loaa-export-'));
  // the adapter's regular files only (a link or node in it is neither followed nor recreated)
  for (const e of readdirSync(dir, { withFileTypes: true }))
    if (e.isFile()) copyFileGuarded(join(dir, e.name), join(tmp, e.name), 'adapter file');
  // the file as it is, every key kept; `tdim` is the file's name for frames
  const raw = readInputJson<AdapterConfigJson>(join(dir, ADAPTER_CONFIG_FILE), { what: 'adapter config' });
  raw.input = { ...raw.input, tdim: frames };
  if (raw.frontend) raw.frontend = { ...raw.frontend, target_length: frames };
  writeFileAtomic(join(tmp, ADAPTER_CONFIG_FILE), JSON.stringify(raw));
  return tmp;
}

/**
 * The backbone: a checkpoint path, or a function that builds the AST for the (possibly re-framed)
 * adapter config, which is how the CLI hands in the backbone recorded in adapter_config.json
 * (src/infer/provenance.ts sits above this layer).
 */
export type BackboneSource = string | ((config: AdapterConfigFile) => AudioSpectrogramTransformer);

/**
 * Loads the backbone + adapter with loaa (the model `--verify` compares against) for `frames` input
 * frames (default the adapter's). Caller disposes the model.
 */
export function loadForExport(
  adapterDir: string,
  backbone: BackboneSource,
  frames?: number,
): { model: AudioSpectrogramTransformer; config: AdapterConfigFile } {
  const config = readAdapterConfig(adapterDir);
  const f = frames ?? config.input.frames;
  const dir = f === config.input.frames ? adapterDir : withFrames(adapterDir, config, f);
  try {
    const cfgF = f === config.input.frames ? config : readAdapterConfig(dir);
    const model = typeof backbone === 'string' ? loadAst(backbone, astConfigFromAdapter(cfgF)).model : backbone(cfgF);
    try {
      loadAdapter(dir, model);
    } catch (e) {
      model.dispose();
      throw e;
    }
    model.eval();
    return { model, config: cfgF };
  } finally {
    if (dir !== adapterDir) rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes the ONNX model of a loaded model. */
export function exportModel(
  model: AudioSpectrogramTransformer,
  config: AdapterConfigFile,
  opts: Omit<ExportOptions, 'backbone' | 'frames'>,
): ExportResult {
  const batch = opts.batch ?? 'dynamic';
  const spec = graphSpecOf(model, config, batch);
  const g = buildAstGraph(stateDictOf(model), spec);
  const metadata = exportMetadata(config, spec.frames);
  const written = writeOnnx(g, opts.out, {
    precision: opts.precision,
    metadata,
    externalThreshold: opts.externalThreshold,
    producerVersion: packageVersion(),
  });
  return { ...written, config, metadata, inputShape: [batch, spec.frames, spec.melBins] };
}

/**
 * The fp32 ONNX model of a loaded model as bytes (inline weights, dynamic batch), for running it in
 * onnxruntime without a file: the inference pipeline's onnx engine.
 */
export function exportModelBytes(model: AudioSpectrogramTransformer, config: AdapterConfigFile): Uint8Array {
  const spec = graphSpecOf(model, config, 'dynamic');
  const g = buildAstGraph(stateDictOf(model), spec);
  return encodeOnnx(g, 'model.onnx.data', {
    metadata: exportMetadata(config, spec.frames),
    externalThreshold: Infinity,
    producerVersion: packageVersion(),
  }).bytes;
}

/** Backbone + adapter directory -> ONNX file. */
export function exportOnnx(adapterDir: string, opts: ExportOptions): ExportResult {
  const { model, config } = loadForExport(adapterDir, opts.backbone, opts.frames);
  try {
    return exportModel(model, config, opts);
  } finally {
    model.dispose();
  }
}

function packageVersion(): string {
  try {
    return readInputJson<{ version: string }>(fileURLToPath(new URL('../../../package.json', import.meta.url)), { what: 'package.json' })
      .version;
  } catch {
    return '';
  }
}
