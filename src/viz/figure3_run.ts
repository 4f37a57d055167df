/**
 * From `loaa attention`'s models to the Figure 3 SVG: the rows of one run (one backbone, its
 * adapters) as figure rows, written with writeFileAtomic.
 */
import { readAdapterConfig } from '../peft/checkpoint.js';
import { writeFileAtomic } from '../util/fs.js';
import type { FrameRange, PatchAttention, Upsample } from './attention.js';
import type { AttentionRun } from './attention_models.js';
import { renderFigure3, type Figure3Info, type Figure3Row } from './figure3.js';
import { SAMPLE_RATE } from '../audio/frontend.js';

export function figure3Rows(r: AttentionRun, rows: PatchAttention[], query: FrameRange): Figure3Row[] {
  const g = r.geometry;
  return rows.map((row) => ({
    label: row.label.toLowerCase().startsWith('backbone')
      ? `backbone only (${row.label.slice('backbone'.length).trim().replace(/[()]/g, '').toLowerCase() || 'no adapter'})`
      : row.label,
    note: `${r.arch}, block ${r.layer + 1} of ${r.depth}`,
    map: row.map,
    geometry: g,
    query,
    toSpecial: row.toSpecial,
  }));
}

export function writeFigure3(
  out: string,
  r: AttentionRun,
  rows: PatchAttention[],
  query: FrameRange,
  o: { title?: string; upsample?: Upsample; sampleRate?: number; adapters?: string[] } = {},
): Figure3Info & { scale: [number, number] } {
  const g = r.geometry;
  // the Hz axis needs the front end's rate: the flag, else the first adapter's front end, else AST's 16 kHz
  const first = o.adapters?.[0];
  const sampleRate = o.sampleRate ?? (first ? readAdapterConfig(first).frontend?.sample_rate : undefined) ?? SAMPLE_RATE;
  const { svg, info } = renderFigure3({
    spec: { data: r.fbank, frames: g.frames, bins: g.bins },
    validFrames: r.validFrames,
    sampleRate,
    rows: figure3Rows(r, rows, query),
    title: o.title ?? `What the model sees: attention of frames ${query[0]}-${query[1]}, block ${r.layer + 1}, mean over heads`,
    ...(o.upsample ? { upsample: o.upsample } : {}),
  });
  writeFileAtomic(out, svg);
  return { ...info, scale: info.scales[0]! };
}

/** One row of a multi-backbone figure: `name=...,backbone=...,adapter=...` (the paper's Figure 3). */
export interface FigureRowSpec {
  name: string;
  /** checkpoint path, `pretrained`, or `random:<arch>` */
  backbone: string;
  adapter?: string;
  /** without an adapter: the architecture of a checkpoint, the input frames, the random seed ... */
  arch?: string;
  targetLength?: number;
  fstride?: number;
  tstride?: number;
  seed?: number;
  depth?: number;
  /** an audio checkpoint's positional grid [f, t] (`source_grid=8x64`) when the checkpoint does not say */
  sourceGrid?: [number, number];
}

const ROW_KEYS: Record<string, 'string' | 'int' | 'grid'> = {
  name: 'string',
  backbone: 'string',
  adapter: 'string',
  arch: 'string',
  target_length: 'int',
  fstride: 'int',
  tstride: 'int',
  seed: 'int',
  depth: 'int',
  source_grid: 'grid',
};

/** `8x64` -> [8, 64] */
export function parseGrid(v: string, where: string): [number, number] {
  const m = /^\s*(\d+)\s*x\s*(\d+)\s*$/i.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1)
    throw new Error(`${where}: expected FxT (positional grid rows x columns, e.g. 8x64), got ${JSON.stringify(v)}`);
  return [Number(m[1]), Number(m[2])];
}

/** Parses `name=ImageNet,backbone=pretrained,adapter=runs/x/best` (commas inside values: quote with "). */
export function parseRowSpec(s: string, where = '--row'): FigureRowSpec {
  const parts = s.match(/(?:[^,"]+|"[^"]*")+/g) ?? [];
  const o: Record<string, string | number> = {};
  for (const p of parts) {
    const m = /^\s*([a-z_-]+)\s*=(.*)$/.exec(p);
    if (!m) throw new Error(`${where} ${s}: expected key=value pairs separated by commas, got ${JSON.stringify(p)}`);
    const key = m[1]!.replace(/-/g, '_');
    const kind = ROW_KEYS[key];
    if (!kind) throw new Error(`${where} ${s}: ${m[1]}: unknown key (known: ${Object.keys(ROW_KEYS).join(', ')})`);
    const v = m[2]!.trim().replace(/^"(.*)"$/, '$1');
    if (kind === 'grid') o[key] = JSON.stringify(parseGrid(v, `${where} ${s}: ${key}`));
    else if (kind === 'int') {
      if (!/^\d+$/.test(v)) throw new Error(`${where} ${s}: ${key}: expected a non-negative integer, got ${JSON.stringify(v)}`);
      o[key] = Number(v);
    } else o[key] = v;
  }
  if (typeof o.name !== 'string' || !o.name) throw new Error(`${where} ${s}: name: missing (the row's label)`);
  if (typeof o.backbone !== 'string' || !o.backbone)
    throw new Error(`${where} ${s}: backbone: missing (a checkpoint, pretrained or random:<arch>)`);
  const { target_length, source_grid, ...rest } = o;
  return {
    ...(rest as unknown as FigureRowSpec),
    ...(target_length !== undefined ? { targetLength: target_length as number } : {}),
    ...(source_grid !== undefined ? { sourceGrid: JSON.parse(source_grid as string) as [number, number] } : {}),
  };
}

/**
 * Runs every row's model (its own backbone and adapter) on one input and renders the figure. The
 * query frames are the same time range in every row (all inputs start at the clip's first frame,
 * 10 ms apart): `frames`, or the first row's highest-energy patch column.
 */
export async function runFigureRows(
  input: string,
  specs: FigureRowSpec[],
  o: {
    layer?: number;
    frames?: FrameRange;
    upsample?: Upsample;
    title?: string;
    sampleRate?: number;
    device?: string;
    precision?: string;
  } = {},
): Promise<{ svg: string; info: Figure3Info; rows: Figure3Row[] }> {
  if (specs.length === 0) throw new Error('--row: at least one row');
  const { runAttentionModels } = await import('./attention_models.js');
  const { highestEnergyRange, patchAttention, queryColumns, queryTokens } = await import('./attention.js');
  const rows: Figure3Row[] = [];
  let first: AttentionRun | undefined;
  let query = o.frames;
  for (const s of specs) {
    const r = await runAttentionModels({
      input,
      backbone: s.backbone,
      adapters: s.adapter ? [s.adapter] : [],
      backboneRow: !s.adapter,
      layer: o.layer ?? -1,
      ...(o.device !== undefined ? { device: o.device } : {}),
      ...(o.precision !== undefined ? { precision: o.precision } : {}),
      ...(s.arch ? { arch: s.arch } : {}),
      ...(s.targetLength ? { targetLength: s.targetLength } : {}),
      ...(s.fstride ? { fstride: s.fstride } : {}),
      ...(s.tstride ? { tstride: s.tstride } : {}),
      ...(s.seed !== undefined ? { seed: s.seed } : {}),
      ...(s.depth ? { depth: s.depth } : {}),
      ...(s.sourceGrid ? { sourceGrid: s.sourceGrid } : {}),
    });
    const g = r.geometry;
    first ??= r;
    query ??= highestEnergyRange(r.fbank, g, r.validFrames);
    if (query[1] > g.frames)
      throw new Error(`--row ${s.name}: query frames ${query[0]}:${query[1]} end after its input's ${g.frames} frames`);
    const pa = patchAttention(r.matrices[r.matrices.length - 1]!, queryTokens(queryColumns(query, g), g), g);
    rows.push({
      label: s.name,
      note: `${s.adapter ? `adapter ${s.adapter.replace(/^.*[\\/](?=[^\\/]+[\\/][^\\/]+$)/, '')}, ` : ''}${r.arch}\nblock ${r.layer + 1} of ${r.depth}`,
      map: pa.map,
      geometry: g,
      query,
      toSpecial: pa.toSpecial,
    });
  }
  const firstAdapter = specs.find((s) => s.adapter)?.adapter;
  const sampleRate = o.sampleRate ?? (firstAdapter ? readAdapterConfig(firstAdapter).frontend?.sample_rate : undefined) ?? SAMPLE_RATE;
  const g0 = first!.geometry;
  const { svg, info } = renderFigure3({
    spec: { data: first!.fbank, frames: g0.frames, bins: g0.bins },
    validFrames: first!.validFrames,
    sampleRate,
    rows,
    title: o.title ?? `What the model sees: attention of frames ${query![0]}-${query![1]}, mean over heads`,
    ...(o.upsample ? { upsample: o.upsample } : {}),
  });
  return { svg, info, rows };
}
