#!/usr/bin/env bash
# GPU check, for a machine with an NVIDIA GPU (not run in the session that wrote it: no GPU there).
#   scripts/gpu-check.sh            # uses LOAA_PYTHON if set, else installs the CUDA wheel into .venv-cuda
# 1. builds the addon against that machine's CUDA PyTorch into build-cuda/;
# 2. checks the addon sees the GPU; runs the model-parity cases on cuda:0 in fp32, bf16 and fp16
#    (autocast) against the float32 reference outputs, and a CUDA->CPU checkpoint round trip;
# 3. data parallelism on NCCL (src/bench/dist_check.ts): 2 ranks, each on cuda:(LOCAL_RANK mod GPUs), time
#    an all-reduce of 4 MiB and take 5 data-parallel SGD steps that rank 0 compares with one process's
#    (`nccl: {ok, allreduce_ms, steps_equal_single, ...}`). NCCL >= 2.5 refuses two ranks on one GPU
#    ("Duplicate GPU detected"): with a single GPU the 2-rank attempt's error is recorded and NCCL's
#    path is checked in a native group of one (`nccl.one_rank`);
# 4. times LoAA-style training steps of a ViT-B block stack in loaa and in PyTorch with AMP
#    (torch.autocast) in the same run;
# and prints one JSON object on stdout (logs on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
exec 3>&1 1>&2
export LOAA_TORCH=cuda
node scripts/setup.mjs --build-dir build-cuda
export LOAA_ADDON="$PWD/build-cuda/build/Release/loaa_native.node"
PY="${LOAA_PYTHON:-$PWD/.venv-cuda/bin/python}"
node --input-type=module - "$PY" >&3 <<'JS'
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
const T = await import('./dist/src/tensor/index.js');
const { cases, loadCase, caseInput, expectedOf, maxDiff } = await import('./dist/test/models/model_cases.js');
const { benchEngineNode } = await import('./dist/src/bench/engine.js');
const out = { info: T.engineInfo(), device: null, parity: {}, checkpoint: null, bench: {} };
try {
  out.device = T.resolveDevice('cuda');
} catch (e) {
  out.error = e.message;
  console.log(JSON.stringify(out));
  process.exit(1);
}
const tol = { fp32: 1e-4, bf16: 0.05, fp16: 0.02 };
for (const [precision, dtype] of [['fp32', null], ['bf16', 'bfloat16'], ['fp16', 'float16']]) {
  let worst = 0;
  let failed = [];
  for (const c of cases) {
    const { model } = loadCase(c);
    model.to(out.device);
    const x = caseInput(c);
    const xd = x.to(null, out.device);
    const got = T.noGrad(() => T.scope(() => T.autocast('cuda', dtype, () => model.head.forward(model.features(xd))).toFloat32()));
    const want = expectedOf(c).get('logits');
    if (want) {
      const { diff, scale } = maxDiff(got, want);
      const rel = diff / (1 + scale);
      worst = Math.max(worst, rel);
      if (rel > tol[precision]) failed.push(c.name);
    }
    x.dispose(); xd.dispose(); model.dispose();
  }
  out.parity[precision] = { worst_rel_diff: worst, tolerance: tol[precision], failed };
}
// a CUDA-trained state loads on the CPU
{
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const c = cases[0];
  const a = loadCase(c).model.to(out.device);
  const file = join(mkdtempSync(join(tmpdir(), 'gpu-check-')), 'm.safetensors');
  a.saveSafetensors(file);
  const b = loadCase(c).model;
  b.loadSafetensors(file, { strict: true });
  const same = [...a.namedParameters()].every(([n, p]) => {
    const q = [...b.namedParameters()].find(([m]) => m === n)[1];
    return p.toFloat32().every((v, i) => v === q.toFloat32()[i]);
  });
  out.checkpoint = { cuda_to_cpu_identical: same };
}
// data parallelism on NCCL, in child processes (the launcher starts the ranks; they inherit LOAA_ADDON)
{
  const gpus = T.cudaDeviceCount();
  const check = (nproc) => {
    const r = spawnSync(process.execPath, ['dist/src/bench/dist_check.js', '--backend', 'nccl', '--nproc', String(nproc), '--dist-timeout', '60'], { encoding: 'utf8', timeout: 300_000 });
    try { return JSON.parse(r.stdout.trim().split('\n').pop()); } catch { return { ok: false, error: (r.stderr || r.stdout || String(r.error)).slice(-800) }; }
  };
  const two = check(2);
  out.nccl = { ok: two.ok === true, allreduce_ms: two.allreduce_ms ?? null, steps_equal_single: two.steps_equal_single ?? null, gpus, ranks: two };
  if (gpus < 2) out.nccl.one_rank = check(1);
}
out.bench.loaa = benchEngineNode({ reps: 10, device: out.device });
const py = spawnSync(process.argv[2], ['tools/bench/engine_torch.py', '--reps', '10', '--device', 'cuda'], { encoding: 'utf8' });
try { out.bench.pytorch = JSON.parse(py.stdout.trim().split('\n').pop()); } catch { out.bench.pytorch = { error: py.stderr.slice(-500) }; }
console.log(JSON.stringify(out));
JS
