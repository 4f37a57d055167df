import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AudioClassifier } from '../../src/api/classifier.js';
import { Classifier } from '../../src/infer/classifier.js';
import { chooseMeasured, ENGINE_CACHE_ENTRIES, engineBeforeMeasuring, engineCacheFile, machineKey } from '../../src/infer/engine_choice.js';
import { activeGemm, GEMM_KERNELS, gemmChoice, gemmKernels, resetGemmChoice } from '../../src/tensor/gemm.js';
import { FP32_TOLERANCE } from '../../src/export/verify.js';
import { INSTALL_ORT_NODE } from '../../src/onnx/runtime.js';
import { command as predict } from '../../src/cli/commands/predict.js';
import { encodeWav } from '../../src/audio/wav.js';
import { startServer } from '../../src/serve/server.js';
import type { ClassifyItem } from '../../src/serve/backend.js';
import { captureOutput } from '../helpers.js';
import { freshDir } from '../models/model_cases.js';
import { exportCase } from '../export/export_cases.js';

const { dir: adapter, backbone } = exportCase('loaa_attn_1x3_s10');
const NAMES = { engine: '--engine', device: '--device', precision: '--precision' };

function wav(dir: string, name: string, f: number): string {
  const sr = 16000;
  const ch = new Float32Array(Math.round(sr * 0.8)).map(
    (_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / sr) + 0.1 * Math.sin((2 * Math.PI * 2.7 * f * i) / sr),
  );
  const p = join(dir, name);
  writeFileSync(p, encodeWav({ sampleRate: sr, channels: [ch] }));
  return p;
}

/** export --verify's bound: |onnx - torch| <= tol * (1 + max |torch logit|). */
function assertClose(onnx: number[], torch: number[], what: string): void {
  const maxLogit = Math.max(...torch.map(Math.abs));
  const diff = Math.max(...onnx.map((v, i) => Math.abs(v - torch[i]!)));
  assert.ok(diff <= FP32_TOLERANCE * (1 + maxLogit), `${what}: max |onnx - torch| ${diff} over the bound`);
  assert.equal(onnx.indexOf(Math.max(...onnx)), torch.indexOf(Math.max(...torch)), `${what}: top-1 differs`);
}

/** Runs `f` with LOAA_HOME (the engine cache) in a fresh folder and LOAA_ORT_MODULE as given. */
async function withEnv<T>(env: { LOAA_HOME: string; LOAA_ORT_MODULE?: string }, f: () => Promise<T>): Promise<T> {
  const saved = { LOAA_HOME: process.env.LOAA_HOME, LOAA_ORT_MODULE: process.env.LOAA_ORT_MODULE };
  process.env.LOAA_HOME = env.LOAA_HOME;
  if (env.LOAA_ORT_MODULE === undefined) delete process.env.LOAA_ORT_MODULE;
  else process.env.LOAA_ORT_MODULE = env.LOAA_ORT_MODULE;
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

test('API: engine onnx and engine torch give the same top-1 and logits within export --verify bound', { timeout: 120_000 }, async () => {
  const d = freshDir('engine-api');
  const files = [wav(d, 'a.wav', 440), wav(d, 'b.wav', 1250), wav(d, 'c.wav', 97)];
  const onnx = await AudioClassifier.fromPretrained(adapter, { backbone, engine: 'onnx' });
  const torch = await AudioClassifier.fromPretrained(adapter, { backbone, engine: 'torch' });
  try {
    assert.equal(onnx.engine, 'onnx');
    assert.equal(torch.engine, 'torch');
    const { readAudio } = await import('../../src/audio/decode.js');
    const items: ClassifyItem[] = [];
    for (const f of files) items.push({ input: { kind: 'audio', samples: (await readAudio(f)).channels[0]!, sampleRate: 16000 }, topK: 3 });
    const a = await onnx.classifyBatchWithLogits(items, 'default');
    const b = await torch.classifyBatchWithLogits(items, 'default');
    a.forEach((r, i) => {
      const t = b[i]!;
      assert.ok(!(r instanceof Error) && !(t instanceof Error));
      assertClose(r.logits, t.logits, files[i]!);
      assert.deepEqual(
        r.top.map((x) => x.label),
        t.top.map((x) => x.label),
      );
    });
  } finally {
    onnx.dispose();
    torch.dispose();
  }
});

test('predict --json (single and batch form): --engine onnx and --engine torch agree within the bound', { timeout: 120_000 }, async () => {
  const d = freshDir('engine-predict');
  const files = [wav(d, 'a.wav', 300), wav(d, 'b.wav', 2000)];
  const run = async (engine: string, extra: string[]) => {
    const { code, out } = await captureOutput(() =>
      predict.run([...files, '--backbone', backbone, '--adapter', adapter, '--json', '--engine', engine, ...extra]),
    );
    assert.equal(code, 0);
    return (JSON.parse(out) as { results: { input: string; logits: number[] }[] }).results;
  };
  // the single form, then the batch form (--batch-size selects it)
  for (const extra of [[], ['--batch-size', '2']]) {
    const o = await run('onnx', extra);
    const t = await run('torch', extra);
    assert.equal(o.length, 2);
    o.forEach((r, i) => {
      assertClose(r.logits, t[i]!.logits, `${r.input} ${extra.join(' ')}`);
    });
  }
});

test('auto measures once per machine and model shape, caches the verdict, and ignores a corrupt cache with a warning', {
  timeout: 120_000,
}, async () => {
  const home = freshDir('engine-home');
  await withEnv({ LOAA_HOME: home }, async () => {
    const clf = Classifier.load(adapter, backbone);
    try {
      const warned: string[] = [];
      const first = await clf.useEngine('auto', { warn: (l) => warned.push(l) });
      assert.equal(warned.length, 0, warned.join('\n'));
      const cache = JSON.parse(readFileSync(engineCacheFile(), 'utf8')) as Record<
        string,
        { engine: string; torchMs: number; onnxMs: number }
      >;
      const [key] = Object.keys(cache);
      assert.ok(key!.startsWith(machineKey()), key);
      // measured against libtorch on this process's GEMM kernel: another kernel is another verdict
      assert.ok(key!.endsWith(`| fp32 GEMM ${activeGemm()}`), key);
      const m = cache[key!]!;
      assert.ok(m.torchMs > 0 && m.onnxMs > 0);
      assert.equal(first, m.engine);
      assert.equal(m.engine, m.onnxMs < m.torchMs ? 'onnx' : 'torch');
      // the cached verdict is used as it is, without measuring again
      for (const forced of ['onnx', 'torch'] as const) {
        writeFileSync(engineCacheFile(), JSON.stringify({ [key!]: { engine: forced, torchMs: 1, onnxMs: 1 } }));
        assert.equal(await clf.useEngine('auto'), forced);
        assert.equal(clf.runtime, forced);
      }
      writeFileSync(engineCacheFile(), '{not json');
      const remeasured = await clf.useEngine('auto', { warn: (l) => warned.push(l) });
      assert.equal(remeasured, clf.runtime);
      assert.equal(warned.length, 1);
      assert.match(warned[0]!, /inference_engine\.json: ignored, measuring again/);
      const again = JSON.parse(readFileSync(engineCacheFile(), 'utf8')) as Record<string, unknown>;
      assert.ok(again[key!], 'the cache is written again after a corrupt one');
    } finally {
      clf.dispose();
    }
  });
});

test('a missing onnxruntime-node: auto falls back to torch with one line, onnx is an Error naming the install command', {
  timeout: 120_000,
}, async () => {
  await withEnv({ LOAA_HOME: freshDir('engine-missing'), LOAA_ORT_MODULE: 'onnxruntime-node-not-installed' }, async () => {
    const clf = Classifier.load(adapter, backbone);
    try {
      const warned: string[] = [];
      assert.equal(await clf.useEngine('auto', { warn: (l) => warned.push(l) }), 'torch');
      assert.equal(warned.length, 1);
      assert.match(warned[0]!, /onnxruntime-node is not installed.*inference runs on libtorch/);
      await assert.rejects(
        clf.useEngine('onnx'),
        (e: Error) => e.message.startsWith('--engine onnx: ') && e.message.includes(INSTALL_ORT_NODE),
      );
      await assert.rejects(
        AudioClassifier.fromPretrained(adapter, { backbone, engine: 'onnx' }),
        /^Error: engine onnx: onnxruntime-node is not installed/,
      );
    } finally {
      clf.dispose();
    }
  });
});

test('onnx is CPU fp32 only: auto picks torch on a GPU or in bf16, onnx is an Error naming the flag', { timeout: 120_000 }, async () => {
  const cuda = { device: 'cuda', precision: 'fp32' as const, amp: { device: 'cuda' as const, dtype: null } };
  assert.equal(engineBeforeMeasuring('auto', cuda, NAMES), 'torch');
  assert.throws(() => engineBeforeMeasuring('onnx', cuda, NAMES), /^Error: --device: cuda: the onnx engine runs on the CPU in fp32 only/);
  const clf = Classifier.load(adapter, backbone, { precision: 'bf16' });
  try {
    assert.equal(await clf.useEngine('auto'), 'torch');
    await assert.rejects(clf.useEngine('onnx'), /^Error: --precision: bf16: the onnx engine runs on the CPU in fp32 only/);
  } finally {
    clf.dispose();
  }
  await assert.rejects(
    AudioClassifier.fromPretrained(adapter, { backbone, precision: 'bf16', engine: 'onnx' }),
    /^Error: precision: bf16: /,
  );
});

test('serve on the onnx engine answers as the torch engine does', { timeout: 120_000 }, async () => {
  const onnx = await AudioClassifier.fromPretrained(adapter, { backbone, engine: 'onnx' });
  const torch = await AudioClassifier.fromPretrained(adapter, { backbone, engine: 'torch' });
  const h = await startServer(onnx, { port: 0, topK: 3 });
  try {
    const ch = new Float32Array(16000).map((_, i) => 0.3 * Math.sin(i * 0.2));
    const bytes = encodeWav({ sampleRate: 16000, channels: [ch] });
    const r = await fetch(`${h.url}/v1/classify`, { method: 'POST', body: bytes });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { top: { label: string; score: number }[] };
    const want = await torch.classify(bytes, { topK: 3 }); // the same 16-bit samples the server decoded
    assert.deepEqual(
      body.top.map((t) => t.label),
      want.map((t) => t.label),
    );
    body.top.forEach((t, i) => {
      assert.ok(Math.abs(t.score - want[i]!.score) < 1e-4, `${t.score} vs ${want[i]!.score}`);
    });
  } finally {
    await h.close();
    onnx.dispose();
    torch.dispose();
  }
});

test('the torch engine in fp32 on the CPU runs the chosen GEMM kernel (LOAA_GEMM forces one)', { timeout: 120_000 }, async () => {
  const avail = gemmKernels();
  const want = GEMM_KERNELS.find((k) => k !== 'torch' && avail[k] === '');
  if (!want) return; // only libtorch's kernel here: nothing to choose
  const saved = process.env.LOAA_GEMM;
  process.env.LOAA_GEMM = want;
  resetGemmChoice();
  try {
    assert.equal(activeGemm(), 'torch');
    const clf = await AudioClassifier.fromPretrained(adapter, { backbone, engine: 'torch' });
    try {
      assert.equal(clf.engine, 'torch');
      assert.equal(activeGemm(), want);
      assert.deepEqual([gemmChoice()?.kernel, gemmChoice()?.source], [want, 'forced']);
    } finally {
      clf.dispose();
    }
  } finally {
    if (saved === undefined) delete process.env.LOAA_GEMM;
    else process.env.LOAA_GEMM = saved;
    resetGemmChoice();
  }
});

test('the engine cache keeps the newest verdicts, up to ENGINE_CACHE_ENTRIES', async () => {
  const file = join(freshDir('engine-bound'), 'inference_engine.json');
  const old = Object.fromEntries(
    Array.from({ length: ENGINE_CACHE_ENTRIES }, (_, i) => [`m | shape ${i}`, { engine: 'torch', torchMs: 1, onnxMs: 2 }]),
  );
  writeFileSync(file, JSON.stringify(old));
  const m = await chooseMeasured('new shape', async () => ({ torchMs: 3, onnxMs: 2 }), { cacheFile: file, warn: assert.fail });
  assert.deepEqual([m.engine, m.cached], ['onnx', false]);
  const keys = Object.keys(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>);
  assert.equal(keys.length, ENGINE_CACHE_ENTRIES);
  assert.deepEqual([keys[0], keys.at(-1)], ['m | shape 1', `${machineKey()} | new shape`]);
});
