import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { colorAt, colorHex, colormapTable, COLORMAP_NAMES } from '../../src/viz/colormap.js';
import { Canvas, decodePng, drawGrid, readPng, textWidth } from '../../src/viz/png.js';

test('colour maps: 256 entries, matplotlib end points, monotone lightness for viridis/magma', () => {
  for (const name of COLORMAP_NAMES) assert.equal(colormapTable(name).length, 768);
  assert.equal(colorHex('viridis', 0), '#440154');
  assert.equal(colorHex('viridis', 1), '#fde725');
  assert.equal(colorHex('magma', 0), '#000004');
  assert.equal(colorHex('magma', 1), '#fcfdbf');
  // diverging map: white-ish in the middle, blue low, red high
  const [r0, , b0] = colorAt('rdbu', 0);
  const [r1, , b1] = colorAt('rdbu', 1);
  assert.ok(b0 > r0 && r1 > b1);
  assert.ok(colorAt('rdbu', 0.5).every((c) => c > 230));
  for (const name of ['viridis', 'magma'] as const) {
    const luma = (v: number) => {
      const [r, g, b] = colorAt(name, v);
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    for (let i = 1; i <= 16; i++) assert.ok(luma(i / 16) > luma((i - 1) / 16), `${name} lightness rises at ${i}/16`);
  }
  assert.deepEqual(colorAt('viridis', -3), colorAt('viridis', 0));
  assert.deepEqual(colorAt('viridis', 7), colorAt('viridis', 1));
  assert.deepEqual(colorAt('viridis', NaN), colorAt('viridis', 0));
});

test('canvas: rectangles, blending, text, PNG round trip written atomically', () => {
  const c = new Canvas(40, 20);
  assert.deepEqual(c.get(0, 0), [255, 255, 255, 255]);
  c.fillRect(2, 3, 4, 5, [10, 20, 30]);
  assert.deepEqual(c.get(2, 3), [10, 20, 30, 255]);
  assert.deepEqual(c.get(5, 7), [10, 20, 30, 255]);
  assert.deepEqual(c.get(6, 7), [255, 255, 255, 255]);
  c.fillRect(30, 0, 2, 2, [0, 0, 0], 0.5);
  assert.deepEqual(c.get(30, 0).slice(0, 3), [128, 128, 128]);
  const w = c.text(8, 10, 'Ab1', [0, 0, 0]);
  assert.equal(w, textWidth('Ab1'));
  let dark = 0;
  for (let y = 10; y < 17; y++) for (let x = 8; x < 8 + w; x++) if (c.get(x, y)[0] === 0) dark++;
  assert.ok(dark > 20, `text drew ${dark} pixels`);

  const dir = mkdtempSync(join(tmpdir(), 'loaa-png-'));
  try {
    const file = join(dir, 'sub', 'x.png');
    c.writePng(file);
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['x.png']);
    const img = readPng(file);
    assert.equal(img.width, 40);
    assert.equal(img.height, 20);
    assert.deepEqual([...img.data], [...c.data]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => decodePng(new Uint8Array([1, 2, 3]), 'bad.png'), /bad\.png: not a readable PNG/);
  assert.throws(() => new Canvas(0, 5), /canvas: bad size/);
});

test('drawGrid: row 0 at the bottom with flipY, values through the colour map', () => {
  const c = new Canvas(4, 4);
  // 2x2 grid: row 0 = [0, 1], row 1 = [1, 0]
  drawGrid(c, { x: 0, y: 0, w: 4, h: 4 }, new Float32Array([0, 1, 1, 0]), 2, 2, { colormap: 'viridis', lo: 0, hi: 1, flipY: true });
  const low = [...colorAt('viridis', 0), 255];
  const high = [...colorAt('viridis', 1), 255];
  assert.deepEqual(c.get(0, 3), low); // bottom-left = row 0, col 0
  assert.deepEqual(c.get(3, 3), high);
  assert.deepEqual(c.get(0, 0), high); // top-left = row 1, col 0
  assert.throws(
    () => drawGrid(c, { x: 0, y: 0, w: 1, h: 1 }, new Float32Array(3), 2, 2, { colormap: 'viridis', lo: 0, hi: 1 }),
    /3 values for a 2x2 grid/,
  );
});
