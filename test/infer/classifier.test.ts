import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { noGrad, randn, tensor } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';
import { AudioSpectrogramTransformer, type AstConfig } from '../../src/models/ast.js';
import { applyPeft } from '../../src/peft/methods.js';
import { readAdapterConfig, saveAdapter, type FrontendConfig } from '../../src/peft/checkpoint.js';
import { encodeWav } from '../../src/audio/wav.js';
import { readAudio } from '../../src/audio/decode.js';
import { resample } from '../../src/audio/resample.js';
import { epicLogMel } from '../../src/audio/epic.js';
import { normalize } from '../../src/audio/frontend.js';
import { Classifier, topK } from '../../src/infer/classifier.js';
import { frontendSpec, featuresOfFile } from '../../src/infer/features.js';
import { freshDir } from '../models/model_cases.js';

const CFG: AstConfig = { arch: 'deit_tiny_patch16_224', numClasses: 3, melBins: 32, frames: 48, fstride: 16, tstride: 16, depth: 1 };
const EPIC: FrontendConfig = { type: 'epic', sample_rate: 24000, num_mel_bins: 32, target_length: 48, mean: -4, std: 3 };

function trainedModel(): AudioSpectrogramTransformer {
  const m = new AudioSpectrogramTransformer(CFG, { seed: 5 });
  applyPeft(m, { method: 'loaa' }, { seed: 5 });
  noGrad(() => {
    let i = 0;
    for (const [, p] of m.trainableParameters()) p.copy_(p.add(randn(p.shape, { seed: 11 + i++ }).mul(0.2)));
  });
  return m;
}

test('an EPIC-SOUNDS adapter keeps its front end through save and load, and classifies through the EPIC log-mel', async () => {
  const dir = freshDir('epic-adapter');
  const src = trainedModel();
  const wavRate = 16000;
  const wave = Float32Array.from(
    { length: wavRate / 2 },
    (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / wavRate) + 0.05 * Math.sin(i * 0.37),
  );
  const wav = join(dir, 'clip.wav');
  writeFileSync(wav, encodeWav({ sampleRate: wavRate, channels: [wave] }));
  try {
    saveAdapter(join(dir, 'adapter'), src, undefined, { labels: ['a', 'b', 'c'], frontend: EPIC });
    assert.equal(readAdapterConfig(join(dir, 'adapter')).frontend?.type, 'epic');
    // what the trained model says on the EPIC features, computed here step by step
    const decoded = (await readAudio(wav)).channels[0]!; // 16-bit, as the classifier reads it
    const x = normalize(epicLogMel(resample(decoded, wavRate, 24000), { sampleRate: 24000, numMelBins: 32, numFrames: 48 }), -4, 3);
    const want = noGrad(() =>
      scope(() =>
        src
          .eval()
          .forward(tensor(x.data, [1, 48, 32]))
          .toArray(),
      ),
    );
    const clf = Classifier.onModel(new AudioSpectrogramTransformer(CFG, { seed: 5 }), join(dir, 'adapter'));
    try {
      assert.equal(clf.frontend?.type, 'epic');
      const got = await clf.classifyFile(wav, 2);
      assert.equal(got.logits.length, 3);
      got.logits.forEach((v, i) => {
        assert.ok(Math.abs(v - want[i]!) < 1e-4, `logit ${i}: ${v} vs ${want[i]}`);
      });
      // within the logits' bound: the classifier computes fp32 on the CPU through the GEMM kernel chosen
      // for this machine, the reference above through libtorch's own
      const wantTop = topK(want, ['a', 'b', 'c'], 2);
      assert.deepEqual(
        got.top.map((t) => t.label),
        wantTop.map((t) => t.label),
      );
      got.top.forEach((t, i) => {
        assert.ok(Math.abs(t.score - wantTop[i]!.score) < 1e-5, `score ${i}: ${t.score} vs ${wantTop[i]!.score}`);
      });
      // the AST front end would have fed other features: the type is what makes the difference
      const ast = await featuresOfFile(wav, frontendSpec({ ...EPIC, type: undefined, sample_rate: 16000 }));
      assert.ok(ast.data.some((v, i) => Math.abs(v - x.data[i]!) > 1e-3));
    } finally {
      clf.dispose();
    }
  } finally {
    src.dispose();
  }
});

test('topK: softmax probabilities best first, ties to the lower class', () => {
  const t = topK([1, 3, 3, -1], ['w', 'x', 'y', 'z'], 3);
  assert.deepEqual(
    t.map((e) => e.label),
    ['x', 'y', 'w'],
  );
  const z = Math.exp(1) + 2 * Math.exp(3) + Math.exp(-1);
  assert.ok(Math.abs(t[0]!.score - Math.exp(3) / z) < 1e-12);
});
