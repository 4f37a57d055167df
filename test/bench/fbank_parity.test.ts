import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { torchaudioPython, torchPython } from '../../src/bench/python.js';

const script = join(repoRoot, 'tools', 'bench', 'fbank_parity.py');
const audioPython = torchaudioPython();
const benchPython = torchPython();
const hasTorch = existsSync(benchPython) && spawnSync(benchPython, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const skip = !audioPython
  ? 'no Python with torchaudio (Debian: apt-get install python3-torchaudio, or set LOAA_TORCHAUDIO_PYTHON)'
  : !hasTorch
    ? `${benchPython} cannot import torch`
    : false;
if (skip) console.log(`# skip fbank parity: ${skip}`);

test("tools/bench/kaldi_torch.py (plain torch, the bench's PyTorch) matches torchaudio's kaldi.fbank and resample", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'loaa-fbank-parity-'));
  try {
    const ref = join(dir, 'ref.pt');
    const made = spawnSync(audioPython!, [script, '--reference', ref], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const r = spawnSync(benchPython, ['-W', 'ignore', script, '--check', ref], { encoding: 'utf8' });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      ok: boolean;
      max_abs_diff: Record<string, number>;
      tolerance: { features: number; audio: number };
    };
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(out.ok, true);
    const cases = Object.keys(out.max_abs_diff);
    for (const c of ['kaldi_defaults_16k', 'ast_16k_128bins', 'silence', 'resample_44k1_to_16k', 'resample_8k_to_16k'])
      assert.ok(cases.includes(c), c);
    for (const [c, d] of Object.entries(out.max_abs_diff))
      assert.ok(d <= (c.startsWith('resample') ? out.tolerance.audio : out.tolerance.features), `${c}: ${d}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
