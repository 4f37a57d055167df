/** Adapter arguments: a run directory means its best/; attention takes the recorded backbone as predict does (issue 24). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { adapterDirOf, recordedBackboneFlag } from '../../src/cli/adapter_args.js';
import { encodeWav } from '../../src/audio/wav.js';
import { fileProvenance, recordBackbone } from '../../src/infer/provenance.js';
import { readAdapterConfig } from '../../src/peft/checkpoint.js';
import { adapterDir, backbonePath, caseNamed } from '../models/model_cases.js';

const LOAA = join(repoRoot, 'bin', 'loaa.js');
const SHA = 'a'.repeat(64);

function withConfig(backbone: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-args-'));
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ backbone }));
  return dir;
}

test('adapterDirOf: a run directory stands for best/; an adapter directory or anything else is kept', () => {
  const run = mkdtempSync(join(tmpdir(), 'loaa-run-'));
  try {
    mkdirSync(join(run, 'best'));
    assert.equal(adapterDirOf(run), run, 'no best/adapter_config.json: kept (the loader names what is missing)');
    writeFileSync(join(run, 'best', 'adapter_config.json'), '{}');
    assert.equal(adapterDirOf(run), join(run, 'best'));
    assert.equal(adapterDirOf(join(run, 'best')), join(run, 'best'));
    assert.equal(adapterDirOf('/no/such/dir'), '/no/such/dir');
  } finally {
    rmSync(run, { recursive: true, force: true });
  }
});

test('recordedBackboneFlag: random -> random:<arch> with its seed, file -> the path, pull -> pretrained, none -> null', () => {
  const dirs = [
    withConfig({ arch: 'deit_tiny_patch16_224', source: 'random', seed: 7, sha256: SHA }),
    withConfig({ arch: 'deit_tiny_patch16_224', source: 'file:/ckpt/model.safetensors', sha256: SHA }),
    withConfig({ arch: 'deit_base_patch16_384', source: 'pull:deit_base_patch16_384', sha256: SHA }),
  ];
  const none = mkdtempSync(join(tmpdir(), 'loaa-args-'));
  writeFileSync(join(none, 'adapter_config.json'), '{}');
  try {
    assert.deepEqual(dirs.map(recordedBackboneFlag), [
      { backbone: 'random:deit_tiny_patch16_224', seed: 7 },
      { backbone: '/ckpt/model.safetensors' },
      { backbone: 'pretrained' },
    ]);
    assert.equal(recordedBackboneFlag(none), null);
  } finally {
    for (const d of [...dirs, none]) rmSync(d, { recursive: true, force: true });
  }
});

test('predict and attention on a run directory with a recorded backbone: no --backbone, same answers as the explicit form', () => {
  const C = caseNamed('loaa_attn_1x3_s10');
  const work = mkdtempSync(join(tmpdir(), 'loaa-rundir-'));
  try {
    const run = join(work, 'run');
    cpSync(adapterDir(C)!, join(run, 'best'), { recursive: true });
    recordBackbone(join(run, 'best'), fileProvenance(readAdapterConfig(join(run, 'best')).arch, backbonePath(C.backbone)));
    const wav = join(work, 'clip.wav');
    writeFileSync(
      wav,
      encodeWav({ sampleRate: 16000, channels: [new Float32Array(16000).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000))] }),
    );
    const loaa = (...args: string[]) => {
      const r = spawnSync(process.execPath, [LOAA, ...args], { encoding: 'utf8' });
      assert.equal(r.status, 0, `loaa ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const viaRun = JSON.parse(loaa('predict', wav, '--adapter', run, '--jsonl').trim());
    const explicit = JSON.parse(loaa('predict', wav, '--adapter', join(run, 'best'), '--backbone', backbonePath(C.backbone), '--json')) as {
      results: { top: { label: string; p: number }[] }[];
    };
    assert.deepEqual(
      viaRun.top.map((x: { label: string }) => x.label),
      explicit.results[0]!.top.map((x) => x.label),
    );

    loaa('attention', wav, '--adapter', run, '--out', join(work, 'recorded.png'));
    loaa('attention', wav, '--adapter', join(run, 'best'), '--backbone', backbonePath(C.backbone), '--out', join(work, 'explicit.png'));
    assert.deepEqual(
      readFileSync(join(work, 'recorded.png')),
      readFileSync(join(work, 'explicit.png')),
      'the recorded backbone is the one --backbone names',
    );

    const help = loaa('predict', '--help');
    assert.match(help, /--adapter <adapter or run dir> \[--backbone <checkpoint>\]/, "predict's help shows --backbone as optional");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
