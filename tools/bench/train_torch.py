"""The PyTorch side of `loaa bench --only training` (src/bench/train.ts does the same work in loaa):
end-to-end LoAA training throughput on the paper's backbone geometry, data loading included.

    .venv/bin/python tools/bench/train_torch.py CLIPS_DIR [--batch 8] [--warmup 1] [--steps 3] [--workers 2]

Runs on the project's PyTorch 2.13, which has no torchaudio here: the WAV is read with the wave
module, resampling and the Kaldi fbank are tools/bench/kaldi_torch.py (torchaudio's semantics in
plain torch ops, parity-tested), and SpecAugment's masks follow torchaudio's FrequencyMasking /
TimeMasking. CLIPS_DIR holds 16-bit PCM WAV files (any depth). Each step: a batch from a torch
DataLoader whose workers load the WAV, resample to 16 kHz, subtract the mean, take AST's Kaldi
fbank, pad to 512 frames, apply SpecAugment (24 bins, 96 frames) and normalise with ESC-50's
statistics; then forward, cross-entropy, backward and an Adam step of the trainable tensors (LoAA
attn 1x3 + ffn 3x1, r=36, and the head) of deit_base_distilled_patch16_384 as an AST (stride 16,
random weights). Prints one JSON object.
"""
import argparse, glob, json, os, sys, time, wave

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
sys.path.insert(0, HERE)
import torch  # noqa: E402
import kaldi_torch  # noqa: E402
import rows_torch  # noqa: E402,F401  (SDPA attention in the reference model, as timm runs it)
from reference_model import AST, AdapterSpec, Peft  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("clips")
p.add_argument("--batch", type=int, default=8)
p.add_argument("--warmup", type=int, default=1)
p.add_argument("--steps", type=int, default=3)
p.add_argument("--workers", type=int, default=2)
p.add_argument("--classes", type=int, default=50)
a = p.parse_args()

MEAN, STD, FRAMES = -6.6268077, 5.358466, 512


def load_wav(path):
    """[1, time] float32 in [-1, 1) (torchaudio.load's scaling of 16-bit PCM), and the rate."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: {8 * w.getsampwidth()}-bit WAV; the bench writes 16-bit PCM")
        ch, sr, raw = w.getnchannels(), w.getframerate(), w.readframes(w.getnframes())
    x = torch.frombuffer(bytearray(raw), dtype=torch.int16).to(torch.float32) / 32768.0
    return x.reshape(-1, ch).t().mean(0, keepdim=True), sr


def mask_(spec, param, axis):
    """torchaudio's FrequencyMasking / TimeMasking on one [1, freq, time] spectrogram (iid_masks False)."""
    value = torch.rand(1) * param
    start = torch.rand(1) * (spec.shape[axis] - value)
    a, b = int(start), int(start + value)
    idx = [slice(None)] * spec.dim()
    idx[axis] = slice(a, b)
    spec[tuple(idx)] = 0
    return spec


class Clips(torch.utils.data.Dataset):
    def __init__(self, files):
        self.files = files
        self.resamplers = {}

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        wav, sr = load_wav(self.files[i])
        if sr != 16000:
            if sr not in self.resamplers:  # the kernel once per rate, as torchaudio.transforms.Resample keeps it
                self.resamplers[sr] = kaldi_torch.Resampler(sr, 16000)
            wav = self.resamplers[sr](wav)
        wav = wav - wav.mean()
        fb = kaldi_torch.ast_fbank(wav)
        n = fb.shape[0]
        fb = torch.nn.functional.pad(fb, (0, 0, 0, FRAMES - n)) if n < FRAMES else fb[:FRAMES]
        spec = fb.t().unsqueeze(0)
        fb = mask_(mask_(spec, 24, 1), 96, 2).squeeze(0).t()
        fb = (fb - MEAN) / (STD * 2)
        return fb, i % a.classes


files = sorted(glob.glob(os.path.join(a.clips, "**", "*.wav"), recursive=True))
if not files:
    sys.exit(f"{a.clips}: no WAV files")
torch.set_num_threads(os.cpu_count() or 1)
torch.manual_seed(0)
loader = torch.utils.data.DataLoader(Clips(files), batch_size=a.batch, shuffle=True, drop_last=True,
                                     num_workers=a.workers, persistent_workers=a.workers > 0)
peft = Peft(method="loaa", adapters=[AdapterSpec("attn", (1, 3), 36), AdapterSpec("ffn", (3, 1), 36)])
model = AST("deit_base_distilled_patch16_384", a.classes, fdim=128, tdim=FRAMES, fstride=16, tstride=16, peft=peft)
with torch.no_grad():
    for name, t in model.named_parameters():
        if "adapter.up" not in name:
            torch.nn.init.normal_(t, std=0.02)
trainable = []
for name, t in model.named_parameters():
    t.requires_grad_(model.is_trainable(name))
    if t.requires_grad:
        trainable.append(t)
opt = torch.optim.Adam(trainable, lr=5e-4, betas=(0.95, 0.999), weight_decay=5e-7)
model.train()


def batches():
    while True:
        for b in loader:
            yield b


it = batches()
times, waits = [], []
for step in range(a.warmup + a.steps):
    t0 = time.perf_counter()
    x, y = next(it)
    t1 = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    t2 = time.perf_counter()
    if step >= a.warmup:
        times.append(t2 - t0)
        waits.append(t1 - t0)
total = sum(times)
print(json.dumps({"samplesPerSec": round(a.batch * len(times) / total, 3), "msPerStep": round(1000 * total / len(times), 1),
                  "dataWaitMsPerStep": round(1000 * sum(waits) / len(waits), 1), "steps": len(times), "batch": a.batch,
                  "threads": torch.get_num_threads(), "workers": a.workers, "torch": torch.__version__}))
