"""The PyTorch side of `loaa bench`'s table (src/bench/rows.ts), on the Python whose libtorch the addon
uses (src/bench/python.ts: the project's .venv, PyTorch 2.13).

    .venv/bin/python tools/bench/rows_torch.py --serve [--threads N]
        reads one JSON request a line on stdin, answers one JSON line on stdout; models are built once
        and kept between rounds, so each round times only the work:
        {"op": "step", "precision": "fp32"|"bf16"|"fp16", "batch": 8, "steps": 1, "device": "cpu", "warmup": true} -> {"ms": [...]}
        {"op": "infer", "stride": 16, "batch": 1, "reps": 3, "precision": "fp32", "device": "cpu"} -> {"ms": [...]}
        {"op": "probe", "clips": 64, "epochs": 10, "batch": 8}            -> {"ms": total}
    .venv/bin/python tools/bench/rows_torch.py --rss [--batch 8] [--steps 2] [--precision fp32]
        the training step alone in this process; prints {"peakRssMiB": ...}

The model is tools/fixtures/reference_model.py's AST (deit_base_distilled_patch16_384, 512 frames,
random weights) with attention through F.scaled_dot_product_attention, as timm runs it. The LoAA
step: attn 1x3 + ffn 3x1, r36, cross-entropy, backward, Adam; bf16 and fp16 are torch.autocast on
the request's device around forward and loss, backward outside it; fp16 also scales the loss with
torch.amp.GradScaler (PyTorch's AMP recipe). On CUDA each timed piece ends with a synchronize, as
loaa's side waits for its queue. The linear probe is PyTorch's plain loop (CPU, fp32): the frozen
backbone runs every batch of every epoch.
"""
import argparse
import json
import os
import resource
import sys
import time

# Started from Node with OMP_PROC_BIND, this process inherits the main thread's one-core mask: widen it
if hasattr(os, "sched_setaffinity"):
    try:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    except OSError:
        pass

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import reference_model as ref  # noqa: E402

ARCH, FRAMES, BINS = "deit_base_distilled_patch16_384", 512, 128


def sdpa_forward(self, x):
    """timm's Attention with fused_attn: the reference's composite replaced by SDPA (same maths)."""
    B, N, C = x.shape
    qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    x = F.scaled_dot_product_attention(q, k, v)
    return self.proj(x.transpose(1, 2).reshape(B, N, C))


if hasattr(F, "scaled_dot_product_attention"):
    ref.Attention.forward = sdpa_forward


def build(peft, classes, frames, stride):
    torch.manual_seed(0)
    model = ref.AST(ARCH, classes, fdim=BINS, tdim=frames, fstride=stride, tstride=stride, peft=peft)
    with torch.no_grad():
        for name, t in model.named_parameters():
            if "adapter.up" not in name:
                torch.nn.init.normal_(t, std=0.02)
    trainable = []
    for name, t in model.named_parameters():
        t.requires_grad_(model.is_trainable(name))
        if t.requires_grad:
            trainable.append(t)
    return model, trainable


DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device, precision):
    dtype = DTYPES.get(precision)
    kind = torch.device(device).type
    return torch.autocast(kind, dtype=dtype) if dtype is not None else torch.autocast(kind, enabled=False)


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


LOAA = ref.Peft(method="loaa", adapters=[ref.AdapterSpec("attn", (1, 3), 36), ref.AdapterSpec("ffn", (3, 1), 36)])


class Step:
    def __init__(self, batch, device="cpu"):
        self.device = device
        self.model, params = build(LOAA, 50, FRAMES, 16)
        self.model.to(device).train()
        self.opt = torch.optim.Adam(params, lr=1e-4)  # Module.to moves the same Parameter objects
        g = torch.Generator().manual_seed(3)
        self.x = torch.randn(batch, FRAMES, BINS, generator=g).to(device)
        self.y = torch.randint(0, 50, (batch,), generator=g).to(device)
        self.scaler = None
        self.warm = set()

    def run(self, precision):
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        with autocast(self.device, precision):
            loss = F.cross_entropy(self.model(self.x), self.y)
        if precision == "fp16":
            if self.scaler is None:
                self.scaler = torch.amp.GradScaler(torch.device(self.device).type)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            loss.backward()
            self.opt.step()
        sync(self.device)
        return 1000 * (time.perf_counter() - t0)

    def timed(self, precision, steps, warmup=True):
        if warmup and precision not in self.warm:  # the first step of a precision pays for allocation and autocast's casts
            self.run(precision)
            self.warm.add(precision)
        return [self.run(precision) for _ in range(steps)]


class Server:
    def __init__(self):
        self.cache = {}
        self.warm = set()

    def get(self, key, make):
        if key not in self.cache:
            self.cache.clear()  # one model at a time: the rows run in order, each for all its rounds
            self.warm.clear()
            self.cache[key] = make()
        return self.cache[key]

    def step(self, q):
        device = q.get("device", "cpu")
        s = self.get(("step", q["batch"], device), lambda: Step(q["batch"], device))
        return {"ms": s.timed(q["precision"], q.get("steps", 1), q.get("warmup", True))}

    def infer(self, q):
        device = q.get("device", "cpu")

        def make():
            model, _ = build(ref.Peft(method="linear"), 50, FRAMES, q["stride"])
            return model.to(device).eval()
        model = self.get(("infer", q["stride"], device), make)
        x = torch.randn(q["batch"], FRAMES, BINS, generator=torch.Generator().manual_seed(1)).to(device)
        out = []
        with torch.no_grad(), autocast(device, q.get("precision", "fp32")):
            key = (q["stride"], q["batch"], q.get("precision"))
            if key not in self.warm:  # loaa's side warms once per row too
                model(x)
                sync(device)
                self.warm.add(key)
            for _ in range(q.get("reps", 1)):
                t0 = time.perf_counter()
                model(x)
                sync(device)
                out.append(1000 * (time.perf_counter() - t0))
        return {"ms": out}

    def probe(self, q):
        frames = q.get("frames", 100)

        def make():
            model, params = build(ref.Peft(method="linear"), 10, frames, 16)
            g = torch.Generator().manual_seed(5)
            return model, params, torch.randn(q["clips"], frames, BINS, generator=g), torch.randint(0, 10, (q["clips"],), generator=g)
        model, params, clips, labels = self.get(("probe", q["clips"], frames), make)
        model.eval()  # no dropout in the reference; eval as loaa's probe runs
        opt = torch.optim.Adam(params, lr=1e-3)
        t0 = time.perf_counter()
        for _ in range(q["epochs"]):
            for s in range(0, q["clips"], q["batch"]):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(clips[s:s + q["batch"]]), labels[s:s + q["batch"]]).backward()
                opt.step()
        return {"ms": 1000 * (time.perf_counter() - t0)}

    def handle(self, q):
        op = q.get("op")
        if op not in ("step", "infer", "probe"):
            raise ValueError(f"op: unknown request {op!r}")
        return getattr(self, op)(q)


def serve():
    server = Server()
    print(json.dumps({"ready": True, "torch": str(torch.__version__), "threads": torch.get_num_threads(),
                      "sdpa": hasattr(F, "scaled_dot_product_attention"), "cuda": torch.cuda.device_count()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = server.handle(json.loads(line))
        except Exception as e:  # the bench reports it in the row and goes on
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


def rss(a):
    s = Step(a.batch)
    s.timed(a.precision, a.steps)  # CPU: host memory is what this row measures
    # VmHWM, not ru_maxrss: the latter survives exec and reports the spawning process's size
    with open("/proc/self/status") as f:
        hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    print(json.dumps({"peakRssMiB": round(hwm / 1024), "torch": str(torch.__version__)}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--rss", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads or os.cpu_count() or 1)
    if a.rss:
        rss(a)
    else:
        serve()
