/**
 * From `loaa attention`'s models to the Figure 3 SVG: the rows of one run (one backbone, its
 * adapters) as figure rows, written with writeFileAtomic.
 */
import { readAdapterConfig } from '../peft/checkpoint.js';
import { writeFileAtomic } from '../util/fs.js';
import type { FrameRange, PatchAttention, Upsample } from './attention.js';
import type { AttentionRun } from './attention_models.js';
import { renderFigure3, type Figure3Info, type Figure3Row } from './figure3.js';

export function figure3Rows(r: AttentionRun, rows: PatchAttention[], query: FrameRange): Figure3Row[] {
  const g = r.geometry;
  return rows.map((row) => ({
    label: row.label.toLowerCase().startsWith('backbone') ? `backbone only (${row.label.slice('backbone'.length).trim().replace(/[()]/g, '').toLowerCase() || 'no adapter'})` : row.label,
    note: `${r.arch}, block ${r.layer + 1} of ${r.depth}`,
    map: row.map,
    geometry: g,
    query,
    toSpecial: row.toSpecial,
  }));
}

export function writeFigure3(out: string, r: AttentionRun, rows: PatchAttention[], query: FrameRange, o: { title?: string; upsample?: Upsample; sampleRate?: number; adapters?: string[] } = {}): Figure3Info & { scale: [number, number] } {
  const g = r.geometry;
  // the Hz axis needs the front end's rate: the flag, else the first adapter's front end, else AST's 16 kHz
  const first = o.adapters?.[0];
  const sampleRate = o.sampleRate ?? (first ? readAdapterConfig(first).frontend?.sample_rate : undefined) ?? 16000;
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
