#!/usr/bin/python3
"""The PyTorch side of `loaa bench` training (src/bench/train.ts does the same work in loaa):
end-to-end LoAA training throughput on the paper's backbone geometry, data loading included.

    /usr/bin/python3 tools/bench/train_torch.py CLIPS_DIR [--batch 8] [--warmup 1] [--steps 3] [--workers 2]

CLIPS_DIR holds WAV files (any depth). Each step: a batch from a torch DataLoader whose workers
load the WAV (torchaudio), resample to 16 kHz, subtract the mean, take AST's Kaldi fbank, pad to
512 frames, apply SpecAugment (FrequencyMasking 24, TimeMasking 96) and normalise with ESC-50's
statistics; then forward, cross-entropy, backward and an Adam step of the trainable tensors (LoAA
attn 1x3 + ffn 3x1, r=36, and the head) of deit_base_distilled_patch16_384 as an AST (stride 16,
random weights). Prints one JSON object.
"""
import argparse, glob, json, os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
import torch  # noqa: E402
import torchaudio  # noqa: E402
import torchaudio.compliance.kaldi as kaldi  # noqa: E402
import torchaudio.functional as AF  # noqa: E402
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


class Clips(torch.utils.data.Dataset):
    def __init__(self, files):
        self.files = files
        self.freqm = torchaudio.transforms.FrequencyMasking(24)
        self.timem = torchaudio.transforms.TimeMasking(96)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        wav, sr = torchaudio.load(self.files[i])
        wav = wav.mean(0, keepdim=True)
        if sr != 16000:
            wav = AF.resample(wav, sr, 16000)
        wav = wav - wav.mean()
        fb = kaldi.fbank(wav, htk_compat=True, sample_frequency=16000, use_energy=False, window_type="hanning",
                         num_mel_bins=128, dither=0.0, frame_shift=10)
        n = fb.shape[0]
        fb = torch.nn.functional.pad(fb, (0, 0, 0, FRAMES - n)) if n < FRAMES else fb[:FRAMES]
        fb = self.timem(self.freqm(fb.t().unsqueeze(0))).squeeze(0).t()
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
