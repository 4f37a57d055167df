#!/usr/bin/env python3
"""Python PyTorch's timings for the rows src/bench/engine.ts measures (same work, same op order).

    .venv/bin/python tools/bench/engine_torch.py [--reps 10] [--batch 8] [--threads N]

(the bench runs the Python of the addon's libtorch: src/bench/python.ts). Attention goes through
F.scaled_dot_product_attention where torch has it (2.x), as timm runs it, else the composite. The
bf16 rows run under torch.autocast("cpu", dtype=torch.bfloat16).

Rows: matmul 258x768 @ 768x3072 fp32 (ms, GFLOP/s), and a ViT-B block (D 768, 12 heads, MLP 3072,
258 tokens, pre-norm, LayerNorm eps 1e-6, erf GELU, fused qkv, attention as
softmax(q k^T * scale) v) forward + backward per sample at batch 8, weights frozen and the input
requiring grad. Medians after warm-up. `benchEngine` runs this with its own environment
(OMP_NUM_THREADS, OMP_PROC_BIND, OPENBLAS_CORETYPE), so both sides use the same BLAS settings;
torch.set_num_threads is set to --threads (default: the core count).
"""
import argparse
import json
import os
import time

# Started from Node, this process inherits the Node main thread's CPU mask, which OpenMP's
# OMP_PROC_BIND=true has narrowed to that thread's one core: widen it back to every CPU before
# torch (and its OpenMP) starts, or both torch threads would share one core.
if hasattr(os, "sched_setaffinity"):
    try:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    except OSError:
        pass
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

N, D, H, M = 258, 768, 12, 3072
FUSED = hasattr(F, "scaled_dot_product_attention") and os.environ.get("LOAA_ATTENTION") != "composite"


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(D, eps=1e-6)
        self.qkv = torch.nn.Linear(D, 3 * D)
        self.proj = torch.nn.Linear(D, D)
        self.norm2 = torch.nn.LayerNorm(D, eps=1e-6)
        self.fc1 = torch.nn.Linear(D, M)
        self.fc2 = torch.nn.Linear(M, D)
        self.hd = D // H

    def forward(self, x):
        B, n, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(B, n, 3, H, self.hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)
        if FUSED:
            ctx = F.scaled_dot_product_attention(q, k, v, scale=self.hd ** -0.5)
        else:
            attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)).mul_(self.hd ** -0.5), -1)
            ctx = torch.matmul(attn, v)
        h = x + self.proj(ctx.transpose(1, 2).reshape(B, n, d))
        return h + self.fc2(F.gelu(self.fc1(self.norm2(h))))


def median_ms(fn, reps, warm=2):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    m = len(ts) // 2
    return ts[m] if len(ts) % 2 else (ts[m - 1] + ts[m]) / 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    dev = torch.device(args.device)
    amp = "cuda" if dev.type == "cuda" else "cpu"

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()
    torch.set_num_threads(args.threads)
    B, reps = args.batch, args.reps

    a = torch.randn(N, D, generator=torch.Generator().manual_seed(1)).to(dev)
    b = torch.randn(D, M, generator=torch.Generator().manual_seed(2)).to(dev)
    mm = median_ms(lambda: (torch.matmul(a, b), sync()), reps * 5, 5)

    torch.manual_seed(10)
    block = Block().to(dev)
    for p in block.parameters():
        p.requires_grad_(False)
    x = torch.randn(B, N, D, generator=torch.Generator().manual_seed(3)).to(dev).requires_grad_()

    def step():
        block(x).sum().backward()
        sync()
        x.grad = None

    fwd_bwd = median_ms(step, reps, 2)
    with torch.enable_grad():
        fwd = median_ms(lambda: (block(x), sync()), reps, 1)

    def step_bf16():
        with torch.autocast(amp, dtype=torch.bfloat16):
            y = block(x).sum()
        y.backward()
        sync()
        x.grad = None

    fwd_bwd_bf16 = median_ms(step_bf16, reps, 2)

    def mm_bf16():
        with torch.autocast(amp, dtype=torch.bfloat16):
            torch.matmul(a, b)
        sync()

    mm16 = median_ms(mm_bf16, reps * 5, 5)
    print(json.dumps({
        "matmul_258x768x3072_ms": round(mm, 3),
        "matmul_258x768x3072_gflops": round(2 * N * D * M / (mm * 1e6), 1),
        "vit_b_block_fwd_bwd_ms_per_sample": round(fwd_bwd / B, 2),
        "vit_b_block_fwd_ms_per_sample": round(fwd / B, 2),
        "matmul_258x768x3072_bf16_ms": round(mm16, 3),
        "vit_b_block_fwd_bwd_bf16_ms_per_sample": round(fwd_bwd_bf16 / B, 2),
        "torch": torch.__version__,
        "fused_attention": FUSED,
        "batch": B,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_PROC_BIND", "OPENBLAS_CORETYPE")},
        "cpus": CPUS,
    }))


if __name__ == "__main__":
    main()
