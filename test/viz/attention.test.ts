import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  highestEnergyRange,
  patchAttention,
  queryColumns,
  queryTokens,
  renderAttentionFigure,
  upsampleToInput,
  type PatchGeometry,
} from '../../src/viz/attention.js';

// 64 frames x 32 bins, stride 16: a 2 x 4 patch grid
const G: PatchGeometry = { frames: 64, bins: 32, gridRows: 2, gridCols: 4, fstride: 16, tstride: 16, patch: 16 };

test('query range: the loudest patch column among the real frames; columns overlapping a range', () => {
  const fb = new Float32Array(G.frames * G.bins).fill(-10);
  for (let t = 32; t < 48; t++) for (let f = 0; f < G.bins; f++) fb[t * G.bins + f] = 2; // column 2 is loud
  assert.deepEqual(highestEnergyRange(fb, G), [32, 48]);
  // column 2 lies in the padding: the loudest column before it wins
  for (let t = 0; t < 16; t++) fb[t * G.bins] = 0;
  assert.deepEqual(highestEnergyRange(fb, G, 30), [0, 16]);

  assert.deepEqual(queryColumns([32, 48], G), [2]);
  assert.deepEqual(queryColumns([24, 56], G), [1, 2, 3]); // 8 frames of 1 and of 3: half a patch each
  assert.deepEqual(queryColumns([20, 30], G), [1]); // 10 frames in column 1 >= half of the range
  assert.deepEqual(queryColumns([14, 17], G), [0]); // 2 of the 3 frames lie in column 0
  assert.throws(() => queryColumns([200, 210], G), /--frames: 200:210 overlaps no patch/);
  assert.deepEqual(queryTokens([2], G), [2, 6]); // f * gridCols + t, both frequency rows
});

test('patchAttention: averages the query rows, separates the special tokens', () => {
  const nPre = 2;
  const L = nPre + 8;
  const probs = new Float32Array(L * L);
  // query token 2 (row nPre+2) looks at patch 5 and the cls token; query 6 at patch 7
  probs[(nPre + 2) * L + nPre + 5] = 0.75;
  probs[(nPre + 2) * L + 0] = 0.25;
  probs[(nPre + 6) * L + nPre + 7] = 1;
  const r = patchAttention({ label: 'm', probs, nPre }, [2, 6], G);
  assert.equal(r.toSpecial, 0.125);
  assert.deepEqual([...r.map], [0, 0, 0, 0, 0, 0.375, 0, 0.5]);
  assert.throws(
    () => patchAttention({ label: 'bad', probs: new Float32Array(10), nPre }, [0], G),
    /bad: attention has 10 values, expected 10x10/,
  );
});

test('upsampling: nearest gives the 16x16 patch areas, bilinear interpolates between centres', () => {
  const map = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]); // row 0 (low bins) = 0..3, row 1 = 4..7
  const near = upsampleToInput(map, G, 'nearest');
  const at = (a: Float32Array, bin: number, frame: number) => a[bin * G.frames + frame]!;
  for (const [bin, frame, want] of [
    [0, 0, 0],
    [15, 15, 0],
    [0, 16, 1],
    [15, 63, 3],
    [16, 0, 4],
    [31, 40, 6],
  ] as const) {
    assert.equal(at(near, bin, frame), want, `bin ${bin}, frame ${frame}`);
  }
  const bil = upsampleToInput(map, G, 'bilinear');
  assert.equal(at(bil, 0, 0), 0); // clamped before the first centre
  assert.ok(Math.abs(at(bil, 0, 16) - (0.5 / 16 + 0.5)) < 1e-6); // frame 16 lies between centres 7.5 and 23.5
  assert.ok(at(bil, 0, 20) > at(bil, 0, 16) && at(bil, 0, 20) < 1);
});

test('figure: one shared colour scale, a difference panel with --compare', () => {
  const spec = { data: new Float32Array(G.frames * G.bins).map((_, i) => Math.sin(i)), frames: G.frames, bins: G.bins };
  const a = { label: 'A', map: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]).map((x) => x / 28), toSpecial: 0 };
  const b = { label: 'B', map: new Float32Array(8).fill(1 / 8), toSpecial: 0 };
  const { canvas, info } = renderAttentionFigure(spec, G, [a, b], [16, 32], { compareIndex: 1, sx: 2, sy: 2 });
  assert.equal(canvas.width, info.width);
  assert.deepEqual(info.scale, [0, 7 / 28]);
  assert.ok(info.diffScale && Math.abs(info.diffScale[1] - (7 / 28 - 1 / 8)) < 1e-6);
  assert.equal(info.panels.length, 2);
  const p = info.panels[1]!;
  assert.equal(p.w, 128);
  assert.equal(p.h, 64);
  // B is uniform: its panel is one colour away from the query marks
  assert.deepEqual(canvas.get(p.x + 100, p.y + 10), canvas.get(p.x + 120, p.y + 60));
});
