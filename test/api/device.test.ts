import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { AudioClassifier, type Device, type Precision } from '../../src/api/classifier.js';
import { readSafetensors, rawFromFloat32, rawToFloat32, writeSafetensors } from '../../src/io/safetensors.js';
import { cpuAutocastLimitation } from '../../src/tensor/autocast.js';
import { cudaAvailable } from '../../src/tensor/device.js';
import type { ClassifyItem } from '../../src/serve/backend.js';
import { adapterDir, backbonePath, caseNamed, freshDir } from '../models/model_cases.js';

const C = caseNamed('loaa_attn_1x3_s10');
/** The documented mixed-precision tolerance (README, "Mixed precision"; test/models/low_precision.test.ts). */
const BF16_TOL = 0.05;
const backbone = backbonePath(C.backbone);

function items(): ClassifyItem[] {
  const sr = 16000;
  return [220, 523, 1200].map((f) => ({
    input: {
      kind: 'audio',
      sampleRate: sr,
      samples: new Float32Array(Math.round(0.8 * sr)).map(
        (_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / sr) + 0.05 * Math.sin((2 * Math.PI * 5 * f * i) / sr),
      ),
    },
    topK: 3,
  }));
}

async function logitsOf(clf: AudioClassifier, adapter = clf.activeAdapter): Promise<number[][]> {
  return (await clf.classifyBatchWithLogits(items(), adapter)).map((r) => {
    if (r instanceof Error) throw r;
    return r.logits;
  });
}

function maxDiff(a: number[][], b: number[][]): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  a.forEach((row, i) => {
    for (const [j, v] of row.entries()) {
      diff = Math.max(diff, Math.abs(v - b[i][j]));
      scale = Math.max(scale, Math.abs(b[i][j]));
    }
  });
  return { diff, scale };
}

/** The fixture adapter with its head scaled, so it answers differently. */
function otherAdapter(): string {
  const src = adapterDir(C)!;
  const d = freshDir('device-other');
  copyFileSync(join(src, 'adapter_config.json'), join(d, 'adapter_config.json'));
  const out: Record<string, ReturnType<typeof rawFromFloat32>> = {};
  for (const [name, raw] of readSafetensors(join(src, 'adapter_model.safetensors')).tensors) {
    const x = rawToFloat32(raw);
    if (name === 'head.fc.weight')
      x.forEach((v, i) => {
        x[i] = 1.5 * v;
      });
    out[name] = rawFromFloat32(x, raw.shape);
  }
  writeSafetensors(join(d, 'adapter_model.safetensors'), out);
  return d;
}

test('fromPretrained: bad device or precision values, and cuda without a GPU, are one-line errors', async (t) => {
  // the types refuse these words; the casts stand for JavaScript callers and user input, which the run-time check still catches
  await assert.rejects(
    AudioClassifier.fromPretrained(adapterDir(C)!, { backbone, device: 'tpu' as string as Device }),
    /^Error: device: expected cpu, cuda, cuda:N or auto, not "tpu"$/,
  );
  await assert.rejects(
    AudioClassifier.fromPretrained(adapterDir(C)!, { backbone, precision: 'int8' as string as Precision }),
    /^Error: precision: expected fp32, bf16, fp16 or auto, not "int8"$/,
  );
  if (cudaAvailable()) return t.skip('a CUDA device is visible: the no-GPU error cannot be shown here');
  await assert.rejects(AudioClassifier.fromPretrained(adapterDir(C)!, { backbone, device: 'cuda' }), (e: Error) => {
    assert.match(e.message, /^device: cuda requested but /);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  const auto = await AudioClassifier.fromPretrained(adapterDir(C)!, { backbone, device: 'auto' });
  try {
    assert.equal(auto.device, 'cpu');
  } finally {
    auto.dispose();
  }
});

for (const precision of ['bf16', 'fp16'] as const) {
  test(`${precision} logits are within the documented ${BF16_TOL} x (1 + max |fp32|) of fp32, also after switching adapters`, async (t) => {
    if (precision === 'fp16' && cpuAutocastLimitation()) return t.skip(`fp16 on the CPU: ${cpuAutocastLimitation()}`);
    const device = cudaAvailable() ? 'cuda' : 'cpu';
    const ref = await AudioClassifier.fromPretrained(adapterDir(C)!, { backbone });
    const low = await AudioClassifier.fromPretrained(adapterDir(C)!, { backbone, device, precision });
    try {
      assert.equal(ref.precision, 'fp32');
      assert.equal(low.precision, precision);
      assert.equal(low.device, device === 'cuda' ? 'cuda:0' : 'cpu');
      const want = await logitsOf(ref);
      const got = await logitsOf(low);
      const { diff, scale } = maxDiff(got, want);
      console.log(`# ${precision} on ${device}: max |logit - fp32| ${diff.toExponential(2)} (max |fp32 logit| ${scale.toFixed(3)})`);
      assert.ok(diff <= BF16_TOL * (1 + scale), `${precision} differs by ${diff}`);
      assert.ok(diff > 0, `${precision} should differ from fp32 somewhere (is autocast on?)`);
      // a second adapter on the low-precision backbone answers as its own low-precision classifier
      const other = otherAdapter();
      low.addAdapter('other', other);
      low.useAdapter('other');
      const alone = await AudioClassifier.fromPretrained(other, { backbone, device, precision });
      try {
        assert.deepEqual(await logitsOf(low, 'other'), await logitsOf(alone));
      } finally {
        alone.dispose();
      }
      low.useAdapter('default');
      assert.deepEqual(await logitsOf(low, 'default'), got);
      const first = items()[0].input as { samples: Float32Array; sampleRate: number };
      const top = await low.classify({ samples: first.samples, sampleRate: first.sampleRate }, { topK: 2 });
      assert.equal(top.length, 2);
    } finally {
      ref.dispose();
      low.dispose();
    }
  });
}
