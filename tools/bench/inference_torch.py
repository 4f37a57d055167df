"""The PyTorch side of `loaa bench` inference: the reference AST (tools/fixtures/reference_model.py),
same configuration as src/bench/inference_child.ts. argv: stride batch; prints one JSON row."""
import json, os, resource, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
import torch  # noqa: E402
from reference_model import AST  # noqa: E402

stride, batch = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(os.cpu_count() or 1)
torch.manual_seed(0)
model = AST("deit_base_distilled_patch16_384", 50, fdim=128, tdim=512, fstride=stride, tstride=stride).eval()
for p in model.parameters():
    torch.nn.init.normal_(p, std=0.02)
x = torch.randn(batch, 512, 128)
with torch.no_grad():
    model(x)
    times = []
    for _ in range(6 if batch == 1 else 3):
        t0 = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - t0) * 1000)
times.sort()
ms = times[len(times) // 2]
print(json.dumps({"stride": stride, "batch": batch, "clipsPerSec": round(batch * 1000 / ms, 2), "msPerBatch": round(ms, 1),
                  "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
