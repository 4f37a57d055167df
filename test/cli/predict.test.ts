import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { command } from '../../src/cli/commands/predict.js';
import { UsageError } from '../../src/cli/command.js';
import { rawFromFloat32, rawToFloat32, writeSafetensors } from '../../src/io/safetensors.js';
import { encodeWav } from '../../src/audio/wav.js';
import { readAudio } from '../../src/audio/decode.js';
import { astFeatures } from '../../src/audio/frontend.js';
import { noGrad, tensor } from '../../src/tensor/functional.js';
import { scope } from '../../src/tensor/scope.js';
import { loadAst } from '../../src/models/ast.js';
import { astConfigFromAdapter, loadAdapter, readAdapterConfig } from '../../src/peft/checkpoint.js';
import { adapterDir, backbonePath, caseInputRaw, caseNamed, expectedOf, freshDir, maxDiff } from '../models/model_cases.js';
import { captureOutput } from '../helpers.js';

function run(argv: string[]): Promise<{ code: number; out: string }> {
  return captureOutput(() => command.run(argv));
}

const C = caseNamed('loaa_attn_1x3_s10');
const backbone = backbonePath(C.backbone);
const adapter = adapterDir(C)!;

interface Result {
  input: string;
  logits: number[];
  top: { label: string; score: number; p?: number }[];
}

test("predict --features: the logits are the PyTorch reference's; top-k sorted with labels and probabilities", async () => {
  const dir = freshDir('predict-features');
  const batch = caseInputRaw(C); // [2, T, F]
  const both = join(dir, 'both.safetensors');
  writeSafetensors(both, { fbank: batch });
  const x = rawToFloat32(batch);
  const one = join(dir, 'one.safetensors');
  const per = C.tdim * C.fdim;
  writeSafetensors(one, { fbank: rawFromFloat32(x.slice(per, 2 * per), [C.tdim, C.fdim]) });
  const { code, out } = await run([
    '--features',
    both,
    '--features',
    one,
    '--backbone',
    backbone,
    '--adapter',
    adapter,
    '--top-k',
    '3',
    '--json',
  ]);
  assert.equal(code, 0);
  const { results } = JSON.parse(out) as { results: Result[] };
  assert.deepEqual(
    results.map((r) => r.input),
    [`${both}[0]`, `${both}[1]`, one],
  );
  const want = expectedOf(C).get('logits')!;
  const got = Float32Array.from(results.slice(0, 2).flatMap((r) => r.logits));
  const { diff, scale } = maxDiff(got, want);
  assert.ok(diff <= 1e-4 * (1 + scale), `logits differ by ${diff}`);
  assert.ok(maxDiff(results[2].logits, results[1].logits).diff < 1e-5);
  const labels = readAdapterConfig(adapter).labels!;
  for (const r of results) {
    assert.equal(r.top.length, 3);
    const best = r.logits.indexOf(Math.max(...r.logits));
    assert.equal(r.top[0].label, labels[best]);
    assert.ok(r.top[0].score >= r.top[1].score && r.top[1].score >= r.top[2].score);
    const z = r.logits.reduce((s, v) => s + Math.exp(v), 0);
    assert.ok(Math.abs(r.top[0].score - Math.exp(r.logits[best]) / z) < 1e-6);
    // "p", the key before "score", stays readable (documented in docs/inference.md)
    assert.ok(r.top.every((t) => t.p === t.score));
  }
  // text output: one block per input
  const text = await run(['--features', one, '--backbone', backbone, '--adapter', adapter, '--top-k', '2']);
  assert.match(text.out, new RegExp(`^${one.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n {3}1\\. class\\d  0\\.\\d{4}\\n {3}2\\. `));
});

test("predict <audio>: the adapter config's front end, then the model", async () => {
  const dir = freshDir('predict-audio');
  const wav = join(dir, 'tone.wav');
  const sr = 22050;
  const n = Math.round(sr * 0.8);
  const ch = new Float32Array(n).map(
    (_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / sr) + 0.1 * Math.sin((2 * Math.PI * 1250 * i) / sr),
  );
  writeFileSync(wav, encodeWav({ sampleRate: sr, channels: [ch] }));
  const { code, out } = await run([wav, '--backbone', backbone, '--adapter', adapter, '--json']);
  assert.equal(code, 0);
  const [r] = (JSON.parse(out) as { results: Result[] }).results;
  assert.equal(r.input, wav);
  assert.equal(r.top.length, 5);
  // the same computed by hand
  const cfg = readAdapterConfig(adapter);
  const fe = cfg.frontend!;
  const spec = astFeatures(await readAudio(wav), {
    sampleRate: fe.sample_rate,
    numMelBins: fe.num_mel_bins,
    targetLength: fe.target_length,
    mean: fe.mean,
    std: fe.std,
  });
  const model = loadAst(backbone, astConfigFromAdapter(cfg)).model;
  try {
    loadAdapter(adapter, model);
    const want = noGrad(() =>
      scope(() =>
        model
          .eval()
          .forward(tensor(spec.data, [1, spec.frames, spec.bins]))
          .toFloat32(),
      ),
    );
    assert.ok(maxDiff(r.logits, want).diff < 1e-5);
  } finally {
    model.dispose();
  }
});

test('predict: errors name the argument or file', async () => {
  const dir = freshDir('predict-errors');
  const wrong = join(dir, 'wrong.safetensors');
  writeSafetensors(wrong, { fbank: rawFromFloat32(new Float32Array(50 * 128), [50, 128]) });
  const noFrontend = freshDir('nofrontend');
  const cfg = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
  delete cfg.frontend;
  writeFileSync(join(noFrontend, 'adapter_config.json'), JSON.stringify(cfg));
  copyFileSync(join(adapter, 'adapter_model.safetensors'), join(noFrontend, 'adapter_model.safetensors'));
  const cases: [string[], RegExp][] = [
    [['--features', wrong, '--adapter', adapter], /^--backbone: missing/],
    [['--features', wrong, '--backbone', backbone], /^--adapter: missing/],
    [['--backbone', backbone, '--adapter', adapter], /^<audio>: no input/],
    [
      ['--features', wrong, '--backbone', backbone, '--adapter', adapter],
      new RegExp(`^${wrong.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: fbank is \\[50, 128\\], the adapter's model takes \\[100, 128\\]`),
    ],
    [['--features', wrong, '--backbone', backbone, '--adapter', join(dir, 'none')], /none: not an adapter directory/],
    [['--features', join(dir, 'missing.safetensors'), '--backbone', backbone, '--adapter', adapter], /missing\.safetensors: cannot read/],
    [['x.wav', '--backbone', backbone, '--adapter', noFrontend], /adapter_config\.json: frontend: missing/],
    [['--features', wrong, '--backbone', backbone, '--adapter', adapter, '--top-k', '0'], /^--top-k: expected a positive integer/],
    [['--features', wrong, '--backbone', join(dir, 'nope.pth'), '--adapter', adapter, '--bogus'], /^--bogus: unknown option/],
  ];
  for (const [argv, re] of cases) {
    await assert.rejects(run(argv), (e: Error) => e instanceof UsageError && re.test(e.message), `${argv.join(' ')}`);
  }
  // the wrong backbone for the adapter
  const one = join(dir, 'ok.safetensors');
  writeSafetensors(one, { fbank: rawFromFloat32(new Float32Array(100 * 128), [100, 128]) });
  await assert.rejects(
    run(['--features', one, '--backbone', backbonePath('deit_tiny_patch16_224_depth2'), '--adapter', adapter]),
    /deit_tiny_patch16_224_depth2\.safetensors: this checkpoint is .*not deit_tiny_distilled_patch16_224/,
  );
});
