/**
 * Multi-view evaluation (data.window.test_views, `loaa eval --views N`): a clip's logits are the
 * mean of its N windows' logits, each window's computed here on its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { tempDir } from '../helpers.js';
import { encodeWav } from '../../src/audio/wav.js';
import { Rng } from '../../src/audio/rng.js';
import { epicLogMel } from '../../src/audio/epic.js';
import { DataLoader, type FrontendSpec } from '../../src/data/loader.js';
import { windowRange, type WindowSpec } from '../../src/data/window.js';
import type { ClipRef } from '../../src/data/types.js';
import { AudioSpectrogramTransformer } from '../../src/models/ast.js';
import { noGrad, tensor } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';
import { evaluateSplit } from '../../src/train/eval_split.js';
import { averageViews } from '../../src/train/views.js';

const RATE = 24000;
const FE: FrontendSpec = { type: 'epic', sampleRate: RATE, numMelBins: 32, targetLength: 400 };
const C = 3;

test("5-view evaluation: each clip scores the mean of its 5 windows' logits; loss and metrics follow", async () => {
  const dir = tempDir('views');
  const rng = new Rng(3);
  const clips: ClipRef[] = [];
  const waves: Float32Array[] = [];
  for (let k = 0; k < 3; k++) {
    const s = new Float32Array(Math.round((3 + k) * RATE));
    for (let i = 0; i < s.length; i++) s[i] = (rng.uniform() - 0.5) * (0.1 + Math.sin((i / RATE) * (k + 1)) ** 2);
    const path = join(dir, `${k}.wav`);
    writeFileSync(path, encodeWav({ sampleRate: RATE, channels: [s] }, 'float32'));
    clips.push({ id: `c${k}`, path, label: k });
    waves.push(s);
  }
  const model = new AudioSpectrogramTransformer(
    { arch: 'deit_tiny_distilled_patch16_224', numClasses: C, melBins: 32, frames: 400, fstride: 16, tstride: 16, depth: 1 },
    { seed: 2 },
  );
  try {
    model.eval();
    const w: WindowSpec = { seconds: 1.999, position: 'start', views: 5 };
    const loader = new DataLoader({ clips, numClasses: C, frontend: FE, batchSize: 4, window: w });
    assert.equal(loader.samplesPerEpoch, 15);
    const r = await evaluateSplit(model, loader, clips, { loss: 'ce', numClasses: C });
    assert.equal(r.n, 3);
    assert.deepEqual(r.ids, ['c0', 'c1', 'c2']);
    let loss = 0;
    let correct = 0;
    clips.forEach((clip, i) => {
      const mean = new Float64Array(C);
      const single: number[][] = [];
      for (let v = 0; v < 5; v++) {
        const [s, e] = windowRange(waves[i]!.length, RATE, w, { seed: 0, view: v });
        const spec = epicLogMel(waves[i]!.subarray(s, e), { sampleRate: RATE, numMelBins: 32, numFrames: 400 });
        const lg = noGrad(() => scope(() => Array.from(model.forward(tensor(spec.data, [1, 400, 32])).data<'float32'>())));
        single.push(lg);
        lg.forEach((x, j) => {
          mean[j] += x / 5;
        });
      }
      // the views differ (else the test would not tell a mean from one view)
      assert.notDeepEqual(single[0], single[4]);
      for (let j = 0; j < C; j++)
        assert.ok(Math.abs(r.logits[i * C + j]! - mean[j]!) < 1e-5, `clip ${i} class ${j}: ${r.logits[i * C + j]} vs ${mean[j]}`);
      const lse = Math.log(mean.reduce((a, x) => a + Math.exp(x), 0));
      loss += lse - mean[clip.label as number]!;
      if (mean.indexOf(Math.max(...mean)) === clip.label) correct++;
    });
    assert.ok(Math.abs(r.loss - loss / 3) < 1e-5, `loss ${r.loss} vs ${loss / 3}`);
    assert.equal(r.report!.top1, correct / 3);
  } finally {
    model.dispose();
  }
});

test('averageViews: consecutive rows per clip; bce loss from the averaged logits; shape errors', () => {
  const rows = {
    numClasses: 2,
    logits: new Float32Array([1, -1, 3, 1, 0, 0, 2, 2]),
    targets: new Float32Array([1, 0, 1, 0, 0, 1, 0, 1]),
    labels: new Int32Array([0, 0, 1, 1]),
    lossSum: 99,
    soft: false,
  };
  const a = averageViews(rows, 2, 'bce');
  assert.deepEqual(Array.from(a.logits), [2, 0, 1, 1]);
  assert.deepEqual(Array.from(a.labels), [0, 1]);
  const bce = (z: number, t: number): number => Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z)));
  const want = (bce(2, 1) + bce(0, 0)) / 2 + (bce(1, 0) + bce(1, 1)) / 2;
  assert.ok(Math.abs(a.lossSum - want) < 1e-9);
  assert.equal(averageViews(rows, 1, 'ce'), rows);
  assert.throws(() => averageViews(rows, 3, 'ce'), /not 3 per clip/);
});
