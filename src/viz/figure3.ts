/**
 * The paper's Figure 3 as an SVG: the clip's log-mel spectrogram on top, then one row per model
 * (each its own backbone, adapter and patch grid: an ImageNet backbone's 8x32 grid and an
 * audio-pretrained one's 8x64 grid can share a figure), every panel on the same axes: time in
 * seconds and frequency in Hz (Kaldi mel bin centres), real text, colour bars, the query frames
 * bracketed, and the padding after the clip cropped (or shaded). The heat maps are embedded PNGs
 * (one pixel per frame and mel bin); everything else is vector. rsvg-convert turns it into the
 * README's PNG (docs/paper.md).
 */
import { colorHex, colormapTable, type ColormapName } from './colormap.js';
import { Canvas } from './png.js';
import { escapeXml, niceTicks } from './svg.js';
import { upsampleToInput, type FrameRange, type PatchGeometry, type Upsample } from './attention.js';

export interface Figure3Row {
  /** the row's name (`--row name=...`) */
  label: string;
  /** a second line under the name: backbone, grid, adapter */
  note?: string;
  /** mean attention paid to each patch, [gridRows, gridCols] row-major, frequency row 0 = lowest bins */
  map: Float32Array;
  geometry: PatchGeometry;
  /** the query frames, in this row's input frames */
  query: FrameRange;
  /** share of the queries' attention that went to cls / dist / prompt tokens */
  toSpecial?: number;
}

export interface Figure3Input {
  /** the clip's fbank [frames, bins] row-major (the first row's input, or any with the same frames) */
  spec: { data: Float32Array; frames: number; bins: number };
  /** frames of real audio; the rest is padding */
  validFrames: number;
  sampleRate: number;
  /** frame shift of the front end (AST / Kaldi: 10 ms) */
  frameShiftMs?: number;
  rows: Figure3Row[];
  title?: string;
  /** crop (default): the panels end where the clip ends; shade: draw the padding greyed */
  padding?: 'crop' | 'shade';
  upsample?: Upsample;
  /** 'row' (default): each row's map over its own maximum (grids of different sizes differ in mean
   * attention per patch), from its minimum to its maximum; 'shared': one scale for every row */
  scale?: 'row' | 'shared';
  /** panel size in px (default 640 x 150) */
  panelWidth?: number;
  panelHeight?: number;
}

/** Kaldi's mel bin centre frequencies (low 20 Hz, high = Nyquist; mel = 1127 ln(1 + f/700)). */
export function melBinCentresHz(bins: number, sampleRate: number, lowHz = 20, highHz = sampleRate / 2): number[] {
  const mel = (f: number): number => 1127 * Math.log(1 + f / 700);
  const inv = (m: number): number => 700 * (Math.exp(m / 1127) - 1);
  const lo = mel(lowHz);
  const delta = (mel(highHz) - lo) / (bins + 1);
  return Array.from({ length: bins }, (_, i) => inv(lo + (i + 1) * delta));
}

/** Frequency ticks (Hz) inside the bins' range, as a 1-2-5 sequence; each with its bin coordinate. */
export function hzTicks(centres: number[]): { hz: number; bin: number }[] {
  const top = centres[centres.length - 1]!;
  const bottom = centres[0]!;
  const out: { hz: number; bin: number }[] = [];
  for (const hz of [100, 200, 500, 1000, 2000, 4000, 8000, 16000]) {
    if (hz < bottom || hz > top) continue;
    // fractional bin by linear interpolation between centres
    let i = 0;
    while (i < centres.length - 1 && centres[i + 1]! < hz) i++;
    const a = centres[i]!;
    const b = centres[Math.min(i + 1, centres.length - 1)]!;
    out.push({ hz, bin: i + (b > a ? (hz - a) / (b - a) : 0) });
  }
  return out;
}

function hzLabel(hz: number): string {
  return hz >= 1000 ? `${hz / 1000} kHz` : `${hz} Hz`;
}

/** The heat map's pixels: [rows, cols] (row 0 at the bottom) at `k` x `k` pixels per cell, so that
 * viewers that smooth scaled images (rsvg ignores image-rendering) keep the cell edges sharp. */
export function heatmapCanvas(
  values: Float32Array,
  rows: number,
  cols: number,
  lo: number,
  hi: number,
  cmap: ColormapName,
  shadeFrom = cols,
  k = 1,
): Canvas {
  const c = new Canvas(Math.max(1, cols * k), Math.max(1, rows * k));
  const table = colormapTable(cmap);
  const span = hi - lo;
  for (let r = 0; r < rows; r++) {
    for (let x = 0; x < cols; x++) {
      const v = values[r * cols + x]!;
      const t = span > 0 ? (v - lo) / span : 0.5;
      const i = Number.isFinite(t) ? Math.max(0, Math.min(255, Math.round(t * 255))) : 0;
      let rgb: [number, number, number] = [table[3 * i]!, table[3 * i + 1]!, table[3 * i + 2]!];
      if (x >= shadeFrom) rgb = rgb.map((q) => Math.round(q * 0.35 + 200 * 0.65)) as [number, number, number];
      c.fillRect(x * k, (rows - 1 - r) * k, k, k, rgb);
    }
  }
  return c;
}

/** A heat map to draw: `values` [rows, cols] coloured over [lo, hi]; columns from `shadeFrom` on are padding (shaded). */
interface Heatmap {
  values: Float32Array;
  rows: number;
  cols: number;
  lo: number;
  hi: number;
  cmap: ColormapName;
  shadeFrom: number;
}

/** The map as an SVG `<image>` of w x h at (x, y), its PNG at up to 8 pixels a cell (see heatmapCanvas). */
function heatmapImage(m: Heatmap, x: number, y: number, w: number, h: number): string {
  const k = Math.max(1, Math.min(8, Math.ceil(Math.max(w / m.cols, h / m.rows))));
  const png = heatmapCanvas(m.values, m.rows, m.cols, m.lo, m.hi, m.cmap, m.shadeFrom, k).toPng().toString('base64');
  return `<image x="${x}" y="${y}" width="${w}" height="${h}" preserveAspectRatio="none" href="data:image/png;base64,${png}"/>`;
}

/** The [bins, frames] values restricted to the first `keep` frames. */
function cropFrames(v: Float32Array, bins: number, frames: number, keep: number): Float32Array {
  if (keep >= frames) return v;
  const out = new Float32Array(bins * keep);
  for (let f = 0; f < bins; f++) out.set(v.subarray(f * frames, f * frames + keep), f * keep);
  return out;
}

function minMax(v: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return hi > lo ? [lo, hi] : [lo, lo + 1e-12];
}

function fmtNum(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 0.01 && a < 1000 ? x.toPrecision(3).replace(/\.?0+$/, '') : x.toExponential(1);
}

/** A vertical colour bar as SVG (gradient stops from the colour map). */
function colourBar(id: string, x: number, y: number, h: number, cmap: ColormapName, top: string, bottom: string, caption: string): string {
  const stops = Array.from({ length: 11 }, (_, k) => `<stop offset="${k * 10}%" stop-color="${colorHex(cmap, 1 - k / 10)}"/>`).join('');
  return [
    `<defs><linearGradient id="${id}" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>`,
    `<rect x="${x}" y="${y}" width="12" height="${h}" fill="url(#${id})" stroke="#555" stroke-width="0.5"/>`,
    `<text x="${x + 16}" y="${y + 4}" class="tick" dominant-baseline="middle">${escapeXml(top)}</text>`,
    `<text x="${x + 16}" y="${y + h - 2}" class="tick" dominant-baseline="middle">${escapeXml(bottom)}</text>`,
    `<text transform="translate(${x + 48},${y + h / 2}) rotate(90)" class="axis" text-anchor="middle">${escapeXml(caption)}</text>`,
  ].join('\n');
}

export interface Figure3Info {
  width: number;
  height: number;
  /** frames shown (the clip's, when cropped) */
  frames: number;
  /** per row, the colour scale of its map */
  scales: [number, number][];
  panels: { label: string; x: number; y: number; w: number; h: number }[];
}

/** Renders the figure; returns the SVG text and where things are (tests look at them). */
export function renderFigure3(input: Figure3Input): { svg: string; info: Figure3Info } {
  const { spec, rows } = input;
  if (rows.length === 0) throw new Error('figure: no rows to draw');
  const T = spec.frames;
  const F = spec.bins;
  if (spec.data.length !== T * F) throw new Error(`figure: spectrogram has ${spec.data.length} values, expected ${T}x${F}`);
  const valid = Math.max(1, Math.min(T, Math.round(input.validFrames)));
  const crop = (input.padding ?? 'crop') === 'crop';
  const shown = crop ? valid : T;
  const hop = (input.frameShiftMs ?? 10) / 1000;
  const pw = input.panelWidth ?? 640;
  const ph = input.panelHeight ?? 150;
  const left = 230;
  const axisW = 62;
  const top = input.title ? 40 : 14;
  const gap = 34;
  const barX = left + axisW + pw + 18;
  const width = barX + 110;
  const height = top + (rows.length + 1) * (ph + gap) + 30;
  const x0 = left + axisW;
  const centres = melBinCentresHz(F, input.sampleRate);
  const yTicks = hzTicks(centres);
  const seconds = shown * hop;
  const xTicks = niceTicks(0, seconds, 6).filter((s) => s >= 0 && s <= seconds + 1e-9);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
  );
  out.push(
    '<style>text{fill:#111} .title{font-size:16px;font-weight:bold} .row{font-size:13px;font-weight:bold} .note{font-size:11px;fill:#444} .tick{font-size:10px;fill:#333} .axis{font-size:11px;fill:#333} image{image-rendering:pixelated}</style>',
  );
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  if (input.title) out.push(`<text x="14" y="24" class="title">${escapeXml(input.title)}</text>`);

  const axes = (y: number, xlabel: boolean): void => {
    out.push(`<rect x="${x0}" y="${y}" width="${pw}" height="${ph}" fill="none" stroke="#444" stroke-width="0.8"/>`);
    let last = Infinity;
    for (const t of yTicks) {
      const yy = y + ph - ((t.bin + 0.5) / F) * ph;
      // ticks closer than a label's height (100 and 200 Hz on a short panel) keep the lower one only
      if (last - yy < 12) continue;
      last = yy;
      out.push(`<line x1="${x0 - 4}" y1="${yy.toFixed(1)}" x2="${x0}" y2="${yy.toFixed(1)}" stroke="#444"/>`);
      out.push(
        `<text x="${x0 - 6}" y="${yy.toFixed(1)}" class="tick" text-anchor="end" dominant-baseline="middle">${hzLabel(t.hz)}</text>`,
      );
    }
    for (const s of xTicks) {
      const xx = x0 + (s / hop / shown) * pw;
      out.push(`<line x1="${xx.toFixed(1)}" y1="${y + ph}" x2="${xx.toFixed(1)}" y2="${y + ph + 4}" stroke="#444"/>`);
      out.push(`<text x="${xx.toFixed(1)}" y="${y + ph + 14}" class="tick" text-anchor="middle">${fmtNum(Number(s.toFixed(3)))}</text>`);
    }
    if (xlabel) out.push(`<text x="${x0 + pw / 2}" y="${y + ph + 27}" class="axis" text-anchor="middle">time (s)</text>`);
  };
  const bracket = (y: number, q: FrameRange, rowFrames: number): void => {
    // the query frames in this row's input; frames past the shown range are clipped
    const a = Math.max(0, Math.min(shown, q[0]));
    const b = Math.max(0, Math.min(shown, q[1], rowFrames));
    if (b <= a) return;
    const xa = x0 + (a / shown) * pw;
    const xb = x0 + (b / shown) * pw;
    out.push(
      `<rect x="${xa.toFixed(1)}" y="${y}" width="${(xb - xa).toFixed(1)}" height="${ph}" fill="none" stroke="#fff" stroke-width="1.5" stroke-dasharray="4 3"/>`,
    );
    out.push(
      `<path d="M${xa.toFixed(1)} ${y - 6} V${y - 1} H${xb.toFixed(1)} V${y - 6}" fill="none" stroke="#d62728" stroke-width="1.5"/>`,
    );
  };

  // the spectrogram
  let y = top;
  const specFT = new Float32Array(F * T);
  for (let t = 0; t < T; t++) for (let f = 0; f < F; f++) specFT[f * T + t] = spec.data[t * F + f]!;
  const [slo, shi] = minMax(cropFrames(specFT, F, T, valid));
  out.push(`<text x="14" y="${y + 16}" class="row">log-mel spectrogram</text>`);
  out.push(`<text x="14" y="${y + 32}" class="note">${escapeXml(`${(valid * hop).toFixed(2)} s of audio, ${F} mel bins`)}</text>`);
  if (!crop && valid < T)
    out.push(`<text x="14" y="${y + 46}" class="note">${escapeXml(`padding to ${(T * hop).toFixed(2)} s shaded`)}</text>`);
  out.push(
    heatmapImage(
      { values: cropFrames(specFT, F, T, shown), rows: F, cols: shown, lo: slo, hi: shi, cmap: 'magma', shadeFrom: valid },
      x0,
      y,
      pw,
      ph,
    ),
  );
  axes(y, false);
  bracket(y, rows[0]!.query, T);
  out.push(colourBar('cb-spec', barX, y, ph, 'magma', fmtNum(shi), fmtNum(slo), 'log-mel'));
  y += ph + gap;

  const maps = rows.map((r) => {
    const g = r.geometry;
    if (r.map.length !== g.gridRows * g.gridCols)
      throw new Error(`${r.label}: attention map has ${r.map.length} values, expected ${g.gridRows}x${g.gridCols}`);
    if (g.bins !== F) throw new Error(`${r.label}: ${g.bins} mel bins, the spectrogram has ${F}`);
    const up = upsampleToInput(r.map, g, input.upsample ?? 'nearest');
    // rows whose input is shorter than the shown frames are padded with NaN (drawn as the lowest colour)
    const keep = Math.min(shown, g.frames);
    const c = cropFrames(up, F, g.frames, keep);
    if (keep === shown) return c;
    const full = new Float32Array(F * shown).fill(NaN);
    for (let f = 0; f < F; f++) full.set(c.subarray(f * keep, (f + 1) * keep), f * shown);
    return full;
  });
  const finite = (v: Float32Array): Float32Array => v.filter((x) => Number.isFinite(x));
  const shared = minMax(Float32Array.from(maps.flatMap((m) => [...finite(m)])));
  // per row: its own min..max, so that a nearly uniform map still shows where it leans
  const scales = maps.map((m) => ((input.scale ?? 'row') === 'shared' ? shared : minMax(finite(m))));
  const panels: Figure3Info['panels'] = [];
  rows.forEach((r, i) => {
    out.push(`<text x="14" y="${y + 16}" class="row">${escapeXml(r.label)}</text>`);
    let ny = y + 32;
    for (const line of (r.note ?? '').split('\n').filter(Boolean)) {
      out.push(`<text x="14" y="${ny}" class="note">${escapeXml(line)}</text>`);
      ny += 14;
    }
    const g = r.geometry;
    out.push(
      `<text x="14" y="${ny}" class="note">${escapeXml(`${g.gridRows}x${g.gridCols} patches, query frames ${r.query[0]}-${r.query[1]}`)}</text>`,
    );
    if (r.toSpecial !== undefined)
      out.push(`<text x="14" y="${ny + 14}" class="note">${escapeXml(`${(100 * r.toSpecial).toFixed(1)}% to cls/dist tokens`)}</text>`);
    const [lo, hi] = scales[i]!;
    const shadeFrom = crop ? shown : Math.min(valid, g.frames);
    out.push(heatmapImage({ values: maps[i]!, rows: F, cols: shown, lo, hi, cmap: 'viridis', shadeFrom }, x0, y, pw, ph));
    axes(y, i === rows.length - 1);
    bracket(y, r.query, g.frames);
    panels.push({ label: r.label, x: x0, y, w: pw, h: ph });
    if ((input.scale ?? 'row') === 'row' || i === 0) {
      out.push(
        colourBar(
          `cb-${i}`,
          barX,
          y,
          ph,
          'viridis',
          (input.scale ?? 'row') === 'row' ? `row max ${fmtNum(hi)}` : fmtNum(hi),
          (input.scale ?? 'row') === 'row' ? `row min ${fmtNum(lo)}` : fmtNum(lo),
          'attention',
        ),
      );
    }
    y += ph + gap;
  });
  // the frequency axis label, once, beside the first panel
  out.push(
    `<text transform="translate(${left + 10},${top + ph / 2}) rotate(-90)" class="axis" text-anchor="middle">frequency (mel scale)</text>`,
  );
  out.push('</svg>');
  return { svg: `${out.join('\n')}\n`, info: { width, height, frames: shown, scales, panels } };
}
