/**
 * A small RGBA canvas for the figures loaa draws (attention maps): rectangles, value grids through a
 * colour map, a built-in 5x7 bitmap font for labels (so no font files or system libraries are
 * needed), and PNG encoding through pngjs, written atomically.
 */
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../util/fs.js';
import { colormapTable, type ColormapName } from './colormap.js';
import { readInput } from '../util/guarded_fs.js';

export type Rgb = readonly [number, number, number];
export type Rgba = readonly [number, number, number, number];

export const WHITE: Rgb = [255, 255, 255];
export const BLACK: Rgb = [0, 0, 0];

export class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb | Rgba = WHITE,
  ) {
    if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1 || width * height > 1 << 28) {
      throw new Error(`canvas: bad size ${width}x${height}`);
    }
    this.data = new Uint8Array(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  /** Sets one pixel (ignored outside); `alpha` < 1 blends over what is there. */
  set(x: number, y: number, c: Rgb | Rgba, alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 4;
    const a = alpha * (c.length === 4 ? c[3] / 255 : 1);
    if (a >= 1) {
      this.data[o] = c[0];
      this.data[o + 1] = c[1];
      this.data[o + 2] = c[2];
      this.data[o + 3] = 255;
      return;
    }
    if (a <= 0) return;
    for (let k = 0; k < 3; k++) this.data[o + k] = Math.round(this.data[o + k]! * (1 - a) + c[k]! * a);
    this.data[o + 3] = Math.max(this.data[o + 3]!, Math.round(255 * a));
  }

  get(x: number, y: number): [number, number, number, number] {
    const o = (y * this.width + x) * 4;
    return [this.data[o]!, this.data[o + 1]!, this.data[o + 2]!, this.data[o + 3]!];
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb | Rgba, alpha = 1): void {
    const x0 = Math.max(0, Math.floor(x));
    const y0 = Math.max(0, Math.floor(y));
    const x1 = Math.min(this.width, Math.floor(x + w));
    const y1 = Math.min(this.height, Math.floor(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.set(xx, yy, c, alpha);
  }

  /** A 1-pixel (or `t`-pixel) outline inside the rectangle. */
  strokeRect(x: number, y: number, w: number, h: number, c: Rgb | Rgba, t = 1): void {
    this.fillRect(x, y, w, t, c);
    this.fillRect(x, y + h - t, w, t, c);
    this.fillRect(x, y, t, h, c);
    this.fillRect(x + w - t, y, t, h, c);
  }

  /** Copies `src` with its top-left corner at (x, y). */
  blit(src: Canvas, x: number, y: number): void {
    for (let yy = 0; yy < src.height; yy++) {
      const ty = y + yy;
      if (ty < 0 || ty >= this.height) continue;
      for (let xx = 0; xx < src.width; xx++) {
        const tx = x + xx;
        if (tx < 0 || tx >= this.width) continue;
        const s = (yy * src.width + xx) * 4;
        const d = (ty * this.width + tx) * 4;
        this.data.set(src.data.subarray(s, s + 4), d);
      }
    }
  }

  /** Draws text with the built-in font; returns the width drawn. Lower case is drawn as upper case. */
  text(x: number, y: number, s: string, c: Rgb = BLACK, scale = 1): number {
    let cx = x;
    for (const ch of s) {
      const g = glyph(ch);
      for (let row = 0; row < GLYPH_H; row++) {
        const bits = g[row]!;
        for (let col = 0; col < GLYPH_W; col++) {
          if (bits & (1 << (GLYPH_W - 1 - col))) this.fillRect(cx + col * scale, y + row * scale, scale, scale, c);
        }
      }
      cx += (GLYPH_W + 1) * scale;
    }
    return cx - x;
  }

  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    png.data = Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    return PNG.sync.write(png, { colorType: 6 });
  }

  writePng(path: string): void {
    writeFileAtomic(path, this.toPng());
  }
}

/** Decoded RGBA image (tests, and anything that reads a PNG back). */
export interface Image {
  width: number;
  height: number;
  /** RGBA, row-major */
  data: Uint8Array;
}

export function decodePng(bytes: Uint8Array, source = 'png'): Image {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new Error(`${source}: not a readable PNG: ${(e as Error).message}`);
  }
  return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
}

export function readPng(path: string): Image {
  return decodePng(readInput(path, { what: 'PNG image', maxBytes: 256 * 1024 * 1024 }), path);
}

export const GLYPH_W = 5;
export const GLYPH_H = 7;

/** Width in pixels of `s` drawn at `scale` (one blank column after each glyph). */
export function textWidth(s: string, scale = 1): number {
  return [...s].length * (GLYPH_W + 1) * scale;
}

function glyph(ch: string): readonly number[] {
  return FONT[ch] ?? FONT[ch.toUpperCase()] ?? FONT['?']!;
}

// 5x7 glyphs, one 5-bit row each, most significant bit on the left (the classic HD44780 shapes).
const FONT: Record<string, readonly number[]> = {
  ' ': [0, 0, 0, 0, 0, 0, 0],
  A: [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  B: [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
  C: [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e],
  D: [0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c],
  E: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f],
  F: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
  G: [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f],
  H: [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  I: [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
  J: [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
  K: [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
  L: [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
  M: [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11],
  N: [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
  O: [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
  P: [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
  Q: [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d],
  R: [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
  S: [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
  T: [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
  U: [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
  V: [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
  W: [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a],
  X: [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11],
  Y: [0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04],
  Z: [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
  '0': [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
  '1': [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
  '2': [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
  '3': [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
  '4': [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
  '5': [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
  '6': [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
  '7': [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
  '8': [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
  '9': [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
  '.': [0, 0, 0, 0, 0, 0x0c, 0x0c],
  ',': [0, 0, 0, 0, 0x0c, 0x04, 0x08],
  ':': [0, 0x0c, 0x0c, 0, 0x0c, 0x0c, 0],
  ';': [0, 0x0c, 0x0c, 0, 0x0c, 0x04, 0x08],
  '-': [0, 0, 0, 0x1f, 0, 0, 0],
  '+': [0, 0x04, 0x04, 0x1f, 0x04, 0x04, 0],
  _: [0, 0, 0, 0, 0, 0, 0x1f],
  '/': [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
  '\\': [0, 0x10, 0x08, 0x04, 0x02, 0x01, 0],
  '(': [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
  ')': [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
  '[': [0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e],
  ']': [0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e],
  '%': [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
  '=': [0, 0, 0x1f, 0, 0x1f, 0, 0],
  '#': [0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a],
  '?': [0x0e, 0x11, 0x01, 0x02, 0x04, 0, 0x04],
  '!': [0x04, 0x04, 0x04, 0x04, 0x04, 0, 0x04],
  "'": [0x04, 0x04, 0x08, 0, 0, 0, 0],
  '"': [0x0a, 0x0a, 0, 0, 0, 0, 0],
  '*': [0, 0x04, 0x15, 0x0e, 0x15, 0x04, 0],
  '<': [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02],
  '>': [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
  '|': [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
  '@': [0x0e, 0x11, 0x17, 0x15, 0x17, 0x10, 0x0e],
  '&': [0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d],
  '~': [0, 0, 0x08, 0x15, 0x02, 0, 0],
};

/**
 * Paints a `[rows, cols]` grid of values (row 0 drawn at the *bottom* when `flipY`, so that
 * frequency goes up) into the rectangle (x, y, w, h) through a colour map; `lo..hi` maps to 0..1.
 * `sample(px, py)` may override the lookup to upsample (see attention.ts); by default nearest.
 */
export function drawGrid(
  canvas: Canvas,
  rect: { x: number; y: number; w: number; h: number },
  values: Float32Array | Float64Array,
  rows: number,
  cols: number,
  opts: { colormap: ColormapName; lo: number; hi: number; flipY?: boolean; sample?: (u: number, v: number) => number; alpha?: number },
): void {
  if (values.length !== rows * cols) throw new Error(`drawGrid: ${values.length} values for a ${rows}x${cols} grid`);
  const table = colormapTable(opts.colormap);
  const span = opts.hi - opts.lo;
  for (let py = 0; py < rect.h; py++) {
    // v: continuous row coordinate in [0, rows), measured from the top or the bottom
    const fy = ((py + 0.5) / rect.h) * rows;
    const v = opts.flipY ? rows - fy : fy;
    for (let px = 0; px < rect.w; px++) {
      const u = ((px + 0.5) / rect.w) * cols;
      const val = opts.sample ? opts.sample(u, v) : values[Math.min(rows - 1, Math.floor(v)) * cols + Math.min(cols - 1, Math.floor(u))]!;
      const t = span > 0 ? (val - opts.lo) / span : 0.5;
      const i = Number.isFinite(t) ? Math.max(0, Math.min(255, Math.round(t * 255))) : 0;
      canvas.set(rect.x + px, rect.y + py, [table[3 * i]!, table[3 * i + 1]!, table[3 * i + 2]!], opts.alpha ?? 1);
    }
  }
}

/** A horizontal colour bar with its end values as labels under it. */
export function drawColorbar(
  canvas: Canvas,
  x: number,
  y: number,
  w: number,
  h: number,
  colormap: ColormapName,
  lo: string,
  hi: string,
  caption = '',
): void {
  const table = colormapTable(colormap);
  for (let px = 0; px < w; px++) {
    const i = Math.round((px / Math.max(1, w - 1)) * 255);
    canvas.fillRect(x + px, y, 1, h, [table[3 * i]!, table[3 * i + 1]!, table[3 * i + 2]!]);
  }
  canvas.strokeRect(x - 1, y - 1, w + 2, h + 2, [80, 80, 80]);
  canvas.text(x, y + h + 4, lo);
  canvas.text(x + w - textWidth(hi), y + h + 4, hi);
  if (caption) canvas.text(x + Math.round((w - textWidth(caption)) / 2), y + h + 4, caption);
}
