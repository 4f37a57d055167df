import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePng } from '../../src/viz/png.js';
import { heatmapCanvas, hzTicks, melBinCentresHz, renderFigure3, type Figure3Row } from '../../src/viz/figure3.js';
import type { PatchGeometry } from '../../src/viz/attention.js';

test('mel bin centres: increasing, inside (20 Hz, Nyquist), equally spaced on the mel scale', () => {
  for (const [bins, sr] of [
    [128, 16000],
    [128, 24000],
    [64, 8000],
  ] as const) {
    const c = melBinCentresHz(bins, sr);
    assert.equal(c.length, bins);
    assert.ok(c[0]! > 20 && c[bins - 1]! < sr / 2, `${bins} ${sr}`);
    const mel = c.map((f) => 1127 * Math.log(1 + f / 700));
    const d = mel.slice(1).map((m, i) => m - mel[i]!);
    for (const x of d) assert.ok(Math.abs(x - d[0]!) < 1e-6 && x > 0);
  }
  const ticks = hzTicks(melBinCentresHz(128, 16000));
  assert.deepEqual(
    ticks.map((t) => t.hz),
    [100, 200, 500, 1000, 2000, 4000],
  );
  for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i]!.bin > ticks[i - 1]!.bin);
});

/** one hot patch (f, t) in an otherwise flat map */
function hotMap(g: PatchGeometry, f: number, t: number): Float32Array {
  const m = new Float32Array(g.gridRows * g.gridCols).fill(0.01);
  m[f * g.gridCols + t] = 1;
  return m;
}

function imagesOf(svg: string): ReturnType<typeof decodePng>[] {
  return [...svg.matchAll(/href="data:image\/png;base64,([^"]+)"/g)].map((m) => decodePng(Buffer.from(m[1]!, 'base64')));
}

/** the x range (as fractions of the image width) of the brightest pixels in the row at height fraction v */
function hotSpan(img: ReturnType<typeof decodePng>, v: number): [number, number] {
  const y = Math.min(img.height - 1, Math.floor(v * img.height));
  const lum = (x: number): number => {
    const o = (y * img.width + x) * 4;
    return img.data[o]! + img.data[o + 1]! + img.data[o + 2]!;
  };
  let best = -1;
  for (let x = 0; x < img.width; x++) best = Math.max(best, lum(x));
  const xs = [...Array(img.width).keys()].filter((x) => lum(x) === best);
  return [xs[0]! / img.width, (xs[xs.length - 1]! + 1) / img.width];
}

test('rows with different patch grids share the time axis; padding is cropped; text and axes are real SVG text', () => {
  const bins = 128;
  const spec = { data: new Float32Array(256 * bins).map((_, i) => Math.sin(i / 7)), frames: 256, bins };
  // an ImageNet-style row: 8x15 patches over 256 frames; an audio-pretrained one: input of 512 frames, 8x31 patches
  const gA: PatchGeometry = { frames: 256, bins, gridRows: 8, gridCols: 15, fstride: 16, tstride: 16, patch: 16 } as PatchGeometry;
  const gB: PatchGeometry = { frames: 512, bins, gridRows: 8, gridCols: 31, fstride: 16, tstride: 16, patch: 16 } as PatchGeometry;
  const rows: Figure3Row[] = [
    { label: 'ImageNet backbone', map: hotMap(gA, 2, 3), geometry: gA, query: [48, 64] },
    { label: 'audio-pretrained backbone', note: '16x16 patches', map: hotMap(gB, 2, 3), geometry: gB, query: [48, 64] },
  ];
  const valid = 160;
  const { svg, info } = renderFigure3({ spec, validFrames: valid, sampleRate: 16000, rows, title: 'Figure 3' });
  assert.equal(info.frames, valid);
  assert.equal(info.panels.length, 2);
  for (const s of [
    'Figure 3',
    'ImageNet backbone',
    'audio-pretrained backbone',
    'time (s)',
    '4 kHz',
    '500 Hz',
    'log-mel',
    '8x31 patches, query frames 48-64',
  ]) {
    assert.ok(svg.includes(`>${s}`), `missing text ${s}`);
  }
  // the last time tick is inside the 1.6 s of audio, none in the padding
  const ticks = [...svg.matchAll(/class="tick" text-anchor="middle">([0-9.]+)</g)].map((m) => Number(m[1]));
  assert.ok(ticks.length >= 3 && Math.max(...ticks) <= valid / 100 + 1e-9, String(ticks));
  const imgs = imagesOf(svg);
  assert.equal(imgs.length, 3); // spectrogram + two rows
  // patch column 3 covers frames 48-64 of 160 shown, frequency row 2 = bins 32-48 (from the bottom)
  const v = 1 - 40 / bins;
  for (const img of imgs.slice(1)) {
    const [a, b] = hotSpan(img, v);
    assert.ok(Math.abs(a - 48 / valid) < 0.01 && Math.abs(b - 64 / valid) < 0.01, `${a} ${b}`);
  }
  // shading instead of cropping keeps every frame
  const shaded = renderFigure3({ spec, validFrames: valid, sampleRate: 16000, rows, padding: 'shade' });
  assert.equal(shaded.info.frames, 256);
  assert.ok(shaded.svg.includes('padding to 2.56 s shaded'));
});

test('heat map cells are k x k pixel blocks with the lowest row at the bottom', () => {
  const c = heatmapCanvas(Float32Array.from([0, 1, 1, 0]), 2, 2, 0, 1, 'viridis', 2, 3);
  assert.equal(c.width, 6);
  assert.equal(c.height, 6);
  // value (row 0, col 1) = 1 sits bottom-right: pixels x 3..5, y 3..5 share its colour
  const hot = c.get(4, 4);
  assert.deepEqual(c.get(3, 3), hot);
  assert.deepEqual(c.get(1, 1), hot); // (row 1, col 0) = 1, top-left
  assert.notDeepEqual(c.get(4, 1), hot);
  assert.throws(
    () => renderFigure3({ spec: { data: new Float32Array(4), frames: 2, bins: 2 }, validFrames: 2, sampleRate: 16000, rows: [] }),
    /no rows/,
  );
});
