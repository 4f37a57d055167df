/**
 * "What the model sees" (the paper's Figure 3): the attention that the patch tokens of one time range
 * pay to every token, averaged over heads and over those query tokens, laid over the patch grid of
 * the mel spectrogram. Pure arithmetic and drawing here (no tensors); attention_models.ts runs the
 * models and hands over the probability matrices.
 *
 * Geometry (docs/adapter-format.md section 1): the input fbank is [T frames, F mel bins]; patch token
 * (f, t) has index `nPre + f * gridCols + t` and covers bins [f*fs, f*fs+16) and frames [t*ts, t*ts+16).
 */
import { Canvas, drawColorbar, drawGrid, textWidth, type Rgb } from './png.js';

export interface PatchGeometry {
  frames: number;
  bins: number;
  gridRows: number;
  gridCols: number;
  fstride: number;
  tstride: number;
  patch: number;
}

/** One model's attention at the chosen layer for one input, heads already averaged. */
export interface AttentionMatrix {
  label: string;
  /** [L, L] row-major: row = query token, column = key token */
  probs: Float32Array;
  /** tokens in front of the patch grid (cls, dist, prompts) */
  nPre: number;
}

export type Upsample = 'nearest' | 'bilinear';

/** Frame range [a, b) (half-open). */
export type FrameRange = [number, number];

/**
 * The default query range: the 16 frames of one patch column with the highest mean log-mel energy,
 * among the columns that lie inside the `valid` (unpadded) frames.
 */
export function highestEnergyRange(fbank: Float32Array, g: PatchGeometry, valid = g.frames): FrameRange {
  const perFrame = new Float64Array(g.frames);
  for (let t = 0; t < g.frames; t++) {
    let s = 0;
    for (let f = 0; f < g.bins; f++) s += fbank[t * g.bins + f]!;
    perFrame[t] = s / g.bins;
  }
  let best = 0;
  let bestE = -Infinity;
  for (let c = 0; c < g.gridCols; c++) {
    const a = c * g.tstride;
    const b = Math.min(a + g.patch, g.frames);
    // columns that start in the padding only when nothing else exists
    if (a >= valid && c > 0) break;
    let s = 0;
    for (let t = a; t < Math.min(b, Math.max(valid, a + 1)); t++) s += perFrame[t]!;
    const e = s / Math.max(1, Math.min(b, Math.max(valid, a + 1)) - a);
    if (e > bestE) {
      bestE = e;
      best = c;
    }
  }
  return [best * g.tstride, Math.min(best * g.tstride + g.patch, g.frames)];
}

/**
 * Time columns whose patches lie (at least half a patch, or half the range when it is shorter) in
 * [a, b); if none does, the column overlapping most.
 */
export function queryColumns(range: FrameRange, g: PatchGeometry): number[] {
  const [a, b] = range;
  const need = Math.min(g.patch, b - a) / 2;
  const cols: number[] = [];
  let bestCol = -1;
  let bestOv = 0;
  for (let c = 0; c < g.gridCols; c++) {
    const s = c * g.tstride;
    const ov = Math.min(b, s + g.patch) - Math.max(a, s);
    if (ov >= need && ov > 0) cols.push(c);
    if (ov > bestOv) {
      bestOv = ov;
      bestCol = c;
    }
  }
  if (!cols.length && bestCol >= 0) cols.push(bestCol);
  if (!cols.length)
    throw new Error(`--frames: ${a}:${b} overlaps no patch (patches cover frames 0..${(g.gridCols - 1) * g.tstride + g.patch})`);
  return cols;
}

/** Patch-token indices (within the grid, without nPre) of every frequency row of `cols`. */
export function queryTokens(cols: number[], g: PatchGeometry): number[] {
  const out: number[] = [];
  for (let f = 0; f < g.gridRows; f++) for (const c of cols) out.push(f * g.gridCols + c);
  return out;
}

export interface PatchAttention {
  label: string;
  /** mean attention paid to each patch token, [gridRows, gridCols] row-major (row = frequency, bottom row 0) */
  map: Float32Array;
  /** attention paid to the tokens in front (cls, dist, prompts), averaged over the queries */
  toSpecial: number;
}

/** Averages the query rows of one attention matrix. */
export function patchAttention(m: AttentionMatrix, queries: number[], g: PatchGeometry): PatchAttention {
  const nP = g.gridRows * g.gridCols;
  const L = m.nPre + nP;
  if (m.probs.length !== L * L)
    throw new Error(
      `${m.label}: attention has ${m.probs.length} values, expected ${L}x${L} (${m.nPre} + ${g.gridRows}x${g.gridCols} tokens)`,
    );
  const map = new Float32Array(nP);
  let special = 0;
  for (const q of queries) {
    const row = (m.nPre + q) * L;
    for (let k = 0; k < m.nPre; k++) special += m.probs[row + k]!;
    for (let k = 0; k < nP; k++) map[k] += m.probs[row + m.nPre + k]!;
  }
  for (let k = 0; k < nP; k++) map[k] /= queries.length;
  return { label: m.label, map, toSpecial: special / queries.length };
}

/**
 * The patch map at every (bin, frame) of the input: `[bins, frames]` row-major, bin 0 first.
 * Nearest: the patch whose centre is closest; bilinear: interpolated between patch centres
 * (clamped at the edges). With stride 16 "nearest" is exactly the 16x16 patch areas.
 */
export function upsampleToInput(map: Float32Array, g: PatchGeometry, mode: Upsample = 'nearest'): Float32Array {
  const out = new Float32Array(g.bins * g.frames);
  const half = g.patch / 2;
  const coord = (x: number, stride: number, n: number): [number, number, number] => {
    const u = Math.max(0, Math.min(n - 1, (x + 0.5 - half) / stride));
    const i0 = Math.floor(u);
    const i1 = Math.min(n - 1, i0 + 1);
    return [i0, i1, u - i0];
  };
  const tc = Array.from({ length: g.frames }, (_, t) => coord(t, g.tstride, g.gridCols));
  for (let f = 0; f < g.bins; f++) {
    const [f0, f1, wf] = coord(f, g.fstride, g.gridRows);
    for (let t = 0; t < g.frames; t++) {
      const [t0, t1, wt] = tc[t]!;
      let v: number;
      if (mode === 'nearest') {
        v = map[(wf < 0.5 ? f0 : f1) * g.gridCols + (wt < 0.5 ? t0 : t1)]!;
      } else {
        const a = map[f0 * g.gridCols + t0]! * (1 - wt) + map[f0 * g.gridCols + t1]! * wt;
        const b = map[f1 * g.gridCols + t0]! * (1 - wt) + map[f1 * g.gridCols + t1]! * wt;
        v = a * (1 - wf) + b * wf;
      }
      out[f * g.frames + t] = v;
    }
  }
  return out;
}

/** [T, F] row-major -> [F, T] row-major. */
export function transposeSpec(fbank: Float32Array, frames: number, bins: number): Float32Array {
  const out = new Float32Array(frames * bins);
  for (let t = 0; t < frames; t++) for (let f = 0; f < bins; f++) out[f * frames + t] = fbank[t * bins + f]!;
  return out;
}

function range(v: Float32Array, lo = Infinity, hi = -Infinity): [number, number] {
  for (const x of v) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

/** Short number for labels (the bitmap font has digits, '.', '-', 'E'). */
export function fmt(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 0.01 && a < 1000) return x.toPrecision(3).replace(/\.?0+$/, '');
  return x.toExponential(2);
}

export interface FigureOptions {
  title?: string;
  upsample?: Upsample;
  /** a difference panel (row minus this row's map) is drawn beside every other row */
  compareIndex?: number;
  /** frames before padding (the padding is shaded and left out of the spectrogram's colour range) */
  validFrames?: number;
  /** horizontal / vertical pixels per frame / mel bin (default: chosen from the input size) */
  sx?: number;
  sy?: number;
}

export interface FigureInfo {
  width: number;
  height: number;
  /** the shared colour scale of the attention panels */
  scale: [number, number];
  /** the symmetric scale of the difference panels, when drawn */
  diffScale?: [number, number];
  /** the attention panels' rectangles per row (tests look inside them) */
  panels: { label: string; x: number; y: number; w: number; h: number }[];
}

const GREY: Rgb = [90, 90, 90];
const MARK: Rgb = [255, 255, 255];

/**
 * The figure: a top row with the spectrogram (magma, frequency up, time right, the query frames
 * bracketed), then one row per model: its attention map (viridis, one colour scale for all rows),
 * the same over the spectrogram in grey, and, with `compareIndex`, the difference to that row
 * (RdBu, symmetric). Colour bars at the bottom.
 */
export function renderAttentionFigure(
  spec: { data: Float32Array; frames: number; bins: number },
  g: PatchGeometry,
  rows: PatchAttention[],
  query: FrameRange,
  opts: FigureOptions = {},
): { canvas: Canvas; info: FigureInfo } {
  const T = spec.frames;
  const F = spec.bins;
  const sx = opts.sx ?? Math.max(1, Math.min(8, Math.round(512 / T)));
  const sy = opts.sy ?? Math.max(1, Math.min(8, Math.round(256 / F)));
  const pw = T * sx;
  const ph = F * sy;
  const mode = opts.upsample ?? 'nearest';
  const specFT = transposeSpec(spec.data, T, F);
  const maps = rows.map((r) => upsampleToInput(r.map, g, mode));
  let [alo, ahi] = [Infinity, -Infinity];
  for (const m of maps) [alo, ahi] = range(m, alo, ahi);
  if (!(ahi > alo)) ahi = alo + 1e-12;
  const ci = opts.compareIndex;
  const diffs = ci === undefined ? null : maps.map((m) => m.map((v, i) => v - maps[ci]![i]!));
  let dmax = 0;
  if (diffs) for (const d of diffs) for (const v of d) dmax = Math.max(dmax, Math.abs(v));
  if (diffs && dmax <= 1e-9) dmax = 1e-9;

  const pad = 10;
  const labelW = Math.max(90, ...rows.map((r) => textWidth(r.label) + 12), textWidth('SPECTROGRAM') + 12);
  const cols = diffs ? 3 : 2;
  const titleH = 22;
  const headH = 14;
  const width = pad + labelW + cols * (pw + pad);
  const height = titleH + (ph + pad) + headH + rows.length * (ph + pad) + pad;
  const c = new Canvas(width, height);
  c.text(pad, 6, opts.title ?? 'attention', [0, 0, 0], 1);
  const valid = Math.max(1, Math.min(T, opts.validFrames ?? T));
  // the spectrogram's colour range comes from the real frames: padding would stretch it
  let [slo, shi] = [Infinity, -Infinity];
  for (let f = 0; f < F; f++) [slo, shi] = range(specFT.subarray(f * T, f * T + valid), slo, shi);
  if (!(shi > slo)) shi = slo + 1e-6;

  const markQuery = (x: number, y: number): void => {
    const xa = x + query[0] * sx;
    const xb = x + query[1] * sx - 1;
    for (let yy = y; yy < y + ph; yy += 4) {
      c.fillRect(xa, yy, 1, 2, MARK);
      c.fillRect(xb, yy, 1, 2, MARK);
    }
    c.fillRect(xa, y, xb - xa + 1, 2, MARK);
  };
  const shadePadding = (x: number, y: number): void => {
    if (valid < T) c.fillRect(x + valid * sx, y, (T - valid) * sx, ph, [200, 200, 200], 0.6);
  };

  let y = titleH;
  // row 0: the spectrogram, and the colour bars beside it
  c.text(pad, y + 4, 'SPECTROGRAM');
  c.text(pad, y + 16, `${T} FRAMES`, GREY);
  c.text(pad, y + 28, `${F} MEL BINS`, GREY);
  if (valid < T) c.text(pad, y + 40, `PADDED FROM ${valid}`, GREY);
  const x0 = pad + labelW;
  drawGrid(c, { x: x0, y, w: pw, h: ph }, specFT, F, T, { colormap: 'magma', lo: slo, hi: shi, flipY: true });
  shadePadding(x0, y);
  markQuery(x0, y);
  c.strokeRect(x0 - 1, y - 1, pw + 2, ph + 2, GREY);
  const barX = x0 + pw + pad + 4;
  const barW = Math.min(pw - 8, 240);
  c.text(barX, y + 4, 'ATTENTION (ALL ROWS)', GREY);
  drawColorbar(c, barX, y + 16, barW, 10, 'viridis', fmt(alo), fmt(ahi));
  c.text(barX, y + 48, 'LOG-MEL', GREY);
  drawColorbar(c, barX, y + 60, barW, 10, 'magma', fmt(slo), fmt(shi));
  if (diffs) {
    c.text(barX, y + 92, `DIFFERENCE TO ${rows[ci!]!.label}`.slice(0, Math.floor(barW / 6)), GREY);
    drawColorbar(c, barX, y + 104, barW, 10, 'rdbu', fmt(-dmax), fmt(dmax));
  }
  y += ph + pad;
  const heads = ['ATTENTION', 'OVER SPECTROGRAM', ...(diffs ? [`MINUS ${rows[ci!]!.label}`] : [])];
  heads.forEach((h, i) => {
    c.text(x0 + i * (pw + pad), y, h.slice(0, Math.floor(pw / 6)), GREY);
  });
  y += headH;

  const panels: FigureInfo['panels'] = [];
  rows.forEach((r, i) => {
    c.text(pad, y + 4, r.label);
    c.text(pad, y + 16, `SPECIAL ${(100 * r.toSpecial).toFixed(1)}%`, GREY);
    drawGrid(c, { x: x0, y, w: pw, h: ph }, maps[i]!, F, T, { colormap: 'viridis', lo: alo, hi: ahi, flipY: true });
    markQuery(x0, y);
    c.strokeRect(x0 - 1, y - 1, pw + 2, ph + 2, GREY);
    panels.push({ label: r.label, x: x0, y, w: pw, h: ph });
    const x1 = x0 + pw + pad;
    drawGrid(c, { x: x1, y, w: pw, h: ph }, specFT, F, T, { colormap: 'magma', lo: slo, hi: shi, flipY: true });
    // grey the spectrogram so that the attention colours read on top
    c.fillRect(x1, y, pw, ph, [128, 128, 128], 0.55);
    drawGrid(c, { x: x1, y, w: pw, h: ph }, maps[i]!, F, T, { colormap: 'viridis', lo: alo, hi: ahi, flipY: true, alpha: 0.6 });
    shadePadding(x1, y);
    markQuery(x1, y);
    c.strokeRect(x1 - 1, y - 1, pw + 2, ph + 2, GREY);
    if (diffs) {
      const x2 = x1 + pw + pad;
      drawGrid(c, { x: x2, y, w: pw, h: ph }, diffs[i]!, F, T, { colormap: 'rdbu', lo: -dmax, hi: dmax, flipY: true });
      // e.g. block 0 with parallel adapters: its attention is computed before any adapter acts
      if (i !== ci && dmax <= 1e-9) c.text(x2 + 6, y + 6, 'NO DIFFERENCE', GREY);
      c.strokeRect(x2 - 1, y - 1, pw + 2, ph + 2, GREY);
    }
    y += ph + pad;
  });

  return {
    canvas: c,
    info: { width, height, scale: [alo, ahi], ...(diffs ? { diffScale: [-dmax, dmax] as [number, number] } : {}), panels },
  };
}
