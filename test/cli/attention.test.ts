import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { rawFromFloat32, writeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { readPng } from '../../src/viz/png.js';
import { loaa as loaaCli } from '../helpers.js';
import { cpuAutocastLimitation } from '../../src/tensor/autocast.js';
import { cudaAvailable } from '../../src/tensor/device.js';

const dir = mkdtempSync(join(tmpdir(), 'loaa-attn-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ARCH = 'deit_tiny_patch16_224';
const D = 192;
const DEPTH = 2;
const FRAMES = 128;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** An adapter directory in the documented format (docs/adapter-format.md section 2), with non-zero Up. */
function writeAdapter(path: string, seed: number, kernel: [number, number]): void {
  const r = 8;
  const C = 3;
  const rand = rng(seed);
  const t = (shape: number[], scale: number): RawTensor =>
    rawFromFloat32(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand() * scale),
      shape,
    );
  const tensors: Record<string, RawTensor> = {};
  for (let i = 0; i < DEPTH; i++) {
    tensors[`blocks.${i}.attn_adapter.down.weight`] = t([r, D, ...kernel], 0.5);
    tensors[`blocks.${i}.attn_adapter.up.weight`] = t([D, r, ...kernel], 0.5);
  }
  tensors['head.norm.weight'] = rawFromFloat32(new Float32Array(D).fill(1), [D]);
  tensors['head.norm.bias'] = rawFromFloat32(new Float32Array(D), [D]);
  tensors['head.fc.weight'] = t([C, D], 0.1);
  tensors['head.fc.bias'] = rawFromFloat32(new Float32Array(C), [C]);
  mkdirSync(path, { recursive: true });
  writeSafetensors(join(path, 'adapter_model.safetensors'), tensors);
  writeFileSync(
    join(path, 'adapter_config.json'),
    JSON.stringify({
      format: 'loaa-adapter/1',
      arch: ARCH,
      method: 'loaa',
      adapters: [{ position: 'attn', kernel, bottleneck: r, bias: false, scale: 1.0 }],
      input: { fdim: 128, tdim: FRAMES, fstride: 16, tstride: 16 },
      num_classes: C,
      labels: ['a', 'b', 'c'],
      frontend: { sample_rate: 16000, num_mel_bins: 128, target_length: FRAMES, mean: -6.6268077, std: 5.358466 },
      depth: DEPTH,
    }),
  );
}

/** A 1.2 s chirp with a loud burst in the middle, as 16-bit PCM WAV. */
function writeWav(path: string): void {
  const sr = 16000;
  const n = Math.round(1.2 * sr);
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + 2 * n, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(sr, 24);
  b.writeUInt32LE(2 * sr, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) {
    const t = i / sr;
    const amp = t > 0.5 && t < 0.7 ? 0.8 : 0.05;
    b.writeInt16LE(Math.round(32767 * amp * Math.sin(2 * Math.PI * (200 + 1500 * t) * t)), 44 + 2 * i);
  }
  writeFileSync(path, b);
}

const loaa = (args: string[]) => loaaCli(args, { env: { LOAA_NUM_THREADS: '1' } });

const wav = join(dir, 'chirp.wav');
writeWav(wav);
const adapterA = join(dir, 'loaa_t', 'best');
const adapterB = join(dir, 'loaa_f');
writeAdapter(adapterA, 1, [1, 3]);
writeAdapter(adapterB, 2, [3, 1]);

interface Summary {
  out: string;
  size: [number, number];
  frames: [number, number];
  layer: number;
  scale: [number, number];
  rows: { label: string; to_special: number }[];
  panels: { label: string; x: number; y: number; w: number; h: number }[];
}

test('loaa attention: random backbone vs the same with a random adapter, one row each, decoded PNG', () => {
  const out = join(dir, 'map.png');
  const r = loaa(['attention', wav, '--backbone', `random:${ARCH}`, '--adapter', adapterA, '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Summary;
  assert.equal(r.stdout.trim().split('\n').length, 1);
  assert.deepEqual(
    s.rows.map((x) => x.label),
    ['BACKBONE (RANDOM)', 'loaa_t/best'],
  );
  assert.equal(s.layer, DEPTH - 1);
  // the loud burst (0.5-0.7 s = frames ~50-70) holds the query column
  assert.ok(s.frames[0] >= 32 && s.frames[1] <= 80, `query frames ${s.frames}`);
  const img = readPng(out);
  assert.deepEqual([img.width, img.height], s.size);
  assert.equal(s.panels.length, 2);
  const [p0, p1] = s.panels as [Summary['panels'][0], Summary['panels'][0]];
  assert.equal(p0.w, FRAMES * 4); // 4 px per frame for 128 frames
  assert.equal(p0.h, 128 * 2);
  let differ = 0;
  let nonWhite = 0;
  for (let y = 0; y < p0.h; y++) {
    for (let x = 0; x < p0.w; x++) {
      const a = ((p0.y + y) * img.width + p0.x + x) * 4;
      const b = ((p1.y + y) * img.width + p1.x + x) * 4;
      if (img.data[a] !== img.data[b] || img.data[a + 1] !== img.data[b + 1] || img.data[a + 2] !== img.data[b + 2]) differ++;
      if (img.data[a] !== 255 || img.data[a + 1] !== 255 || img.data[a + 2] !== 255) nonWhite++;
    }
  }
  assert.ok(differ > 0.3 * p0.w * p0.h, `only ${differ} of ${p0.w * p0.h} attention pixels differ between the rows`);
  assert.ok(nonWhite > 0.9 * p0.w * p0.h, 'the attention panel is painted');
});

test('loaa attention: several adapters, --compare, --no-backbone-row, --layer, --frames, bilinear', () => {
  const out = join(dir, 'cmp.png');
  const r = loaa([
    'attention',
    wav,
    '--backbone',
    `random:${ARCH}`,
    '--adapter',
    adapterA,
    '--compare',
    adapterB,
    '--no-backbone-row',
    '--layer',
    '1',
    '--frames',
    '0:16',
    '--upsample',
    'bilinear',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Summary & { diff_scale: [number, number] };
  assert.deepEqual(
    s.rows.map((x) => x.label),
    ['loaa_t/best', 'loaa_f (COMPARE)'],
  );
  assert.equal(s.layer, 1);
  assert.deepEqual(s.frames, [0, 16]);
  assert.ok(s.diff_scale[1] > 1e-6, 'the two adapters attend differently');
  const img = readPng(out);
  assert.deepEqual([img.width, img.height], s.size);
});

test('loaa attention: errors name the argument', () => {
  let r = loaa(['attention', wav, '--backbone', `random:${ARCH}`, '--adapter', adapterA]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--out: missing/);
  r = loaa(['attention', wav, '--backbone', `random:${ARCH}`, '--adapter', adapterA, '--layer', '7', '--out', join(dir, 'x.png')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--layer: 7 is outside the model's 2 blocks/);
  r = loaa(['attention', wav, '--backbone', `random:${ARCH}`, '--adapter', join(dir, 'nope'), '--out', join(dir, 'x.png')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /nope: not an adapter directory/);
  r = loaa(['attention', wav, '--backbone', `random:${ARCH}`, '--frames', '9', '--out', join(dir, 'x.png')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--frames: expected A:B/);
});

test('loaa attention --device/--precision: in --help, bf16 maps within 2% of the fp32 peak, a missing GPU is one line', async (t) => {
  const help = loaa(['attention', '--help']);
  assert.equal(help.status, 0, help.stderr);
  for (const f of ['--device D', '--precision P', 'bf16']) assert.ok(help.stdout.includes(f), f);
  if (!cudaAvailable()) {
    const r = loaa(['attention', wav, '--backbone', `random:${ARCH}`, '--device', 'cuda', '--out', join(dir, 'x.png')]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /--device: cuda requested but /);
  }
  const why = cpuAutocastLimitation();
  if (why) return t.skip(`bf16 autocast: ${why}`);
  const out = join(dir, 'bf16.png');
  const cli = loaa([
    'attention',
    wav,
    '--backbone',
    `random:${ARCH}`,
    '--adapter',
    adapterA,
    '--precision',
    'bf16',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(cli.status, 0, cli.stderr);
  const s = JSON.parse(cli.stdout) as Summary & { device: string; precision: string };
  assert.deepEqual([s.device, s.precision], ['cpu', 'bf16']);
  // the same maps in-process, fp32 against bf16: the documented tolerance (src/cli/commands/attention.ts)
  const { runAttentionModels } = await import('../../src/viz/attention_models.js');
  const { highestEnergyRange, patchAttention, queryColumns, queryTokens } = await import('../../src/viz/attention.js');
  const opts = { input: wav, backbone: `random:${ARCH}`, adapters: [adapterA] };
  const f32 = await runAttentionModels({ ...opts, precision: 'fp32' });
  const b16 = await runAttentionModels({ ...opts, precision: 'bf16' });
  assert.equal(b16.precision, 'bf16');
  const g = f32.geometry;
  const tokens = queryTokens(queryColumns(highestEnergyRange(f32.fbank, g, f32.validFrames), g), g);
  assert.equal(b16.matrices.length, 2);
  f32.matrices.forEach((m, i) => {
    const a = patchAttention(m, tokens, g).map;
    const b = patchAttention(b16.matrices[i]!, tokens, g).map;
    let diff = 0;
    let peak = 0;
    for (let k = 0; k < a.length; k++) {
      diff = Math.max(diff, Math.abs(a[k]! - b[k]!));
      peak = Math.max(peak, a[k]!);
    }
    assert.ok(diff > 0, `${m.label}: bf16 ran (the maps differ in the last bits)`);
    assert.ok(diff <= 0.02 * peak, `${m.label}: bf16 map off by ${diff}, peak ${peak}`);
  });
});
