"""Parity of tools/bench/kaldi_torch.py with torchaudio (kaldi.fbank, functional.resample).

    /usr/bin/python3 tools/bench/fbank_parity.py --reference REF.pt   # torchaudio's outputs (needs torchaudio)
    .venv/bin/python tools/bench/fbank_parity.py --check REF.pt       # ours against them, any torch

Cases: Kaldi's defaults (povey window, dither 0, DC removal, preemphasis 0.97, power spectrum, log
with epsilon, no energy, 23 bins), AST's options (hanning, htk_compat, 128 bins), energy first and
last, a silent clip (the epsilon floor), and the 44.1 -> 16 kHz and 8 -> 16 kHz resampling. --check
prints one JSON object with each case's max |difference| and exits 1 past the tolerance
(features 1e-3 absolute, resampled audio 1e-5).
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kaldi_torch  # noqa: E402

FEATURE_TOL, AUDIO_TOL = 1e-3, 1e-5


def signal(rate, seconds, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(round(rate * seconds)), dtype=torch.float64) / rate
    x = 0.3 * torch.sin(2 * math.pi * 440 * t) + 0.1 * torch.sin(2 * math.pi * 3000 * t)
    return (x + 0.05 * torch.randn(t.shape, generator=g, dtype=torch.float64)).float()[None]


CASES = {
    "kaldi_defaults_16k": (lambda: signal(16000, 1.0, 1), {}),
    "kaldi_defaults_8k_40bins": (lambda: signal(8000, 0.7, 2), dict(sample_frequency=8000, num_mel_bins=40)),
    "ast_16k_128bins": (lambda: signal(16000, 2.0, 3) - signal(16000, 2.0, 3).mean(),
                        dict(htk_compat=True, sample_frequency=16000, use_energy=False, window_type="hanning",
                             num_mel_bins=128, dither=0.0, frame_shift=10)),
    "energy_first_hamming": (lambda: signal(16000, 0.5, 4), dict(use_energy=True, window_type="hamming")),
    "energy_last_htk_blackman": (lambda: signal(16000, 0.5, 5), dict(use_energy=True, htk_compat=True, window_type="blackman")),
    "silence": (lambda: torch.zeros(1, 4000), dict(num_mel_bins=64)),
}
RESAMPLE = {"resample_44k1_to_16k": (44100, 16000, 6), "resample_8k_to_16k": (8000, 16000, 7)}


def reference(path):
    import torchaudio.compliance.kaldi as kaldi
    import torchaudio.functional as AF
    import torchaudio
    out = {"torchaudio": str(torchaudio.__version__), "torch": str(torch.__version__)}
    for name, (make, opts) in CASES.items():
        wav = make()
        out[name] = {"input": wav, "output": kaldi.fbank(wav, **opts)}
    for name, (a, b, seed) in RESAMPLE.items():
        wav = signal(a, 1.0, seed)
        out[name] = {"input": wav, "output": AF.resample(wav, a, b)}
    torch.save(out, path)


def check(path):
    ref = torch.load(path)
    diffs, ok = {}, True
    for name, (_, opts) in CASES.items():
        got = kaldi_torch.fbank(ref[name]["input"], **opts)
        want = ref[name]["output"]
        d = float((got - want).abs().max()) if got.shape == want.shape else float("inf")
        diffs[name] = d
        ok = ok and d <= FEATURE_TOL
    for name, (a, b, _) in RESAMPLE.items():
        got = kaldi_torch.resample(ref[name]["input"], a, b)
        want = ref[name]["output"]
        d = float((got - want).abs().max()) if got.shape == want.shape else float("inf")
        diffs[name] = d
        ok = ok and d <= AUDIO_TOL
    print(json.dumps({"ok": ok, "max_abs_diff": diffs, "reference": {"torch": ref["torch"], "torchaudio": ref["torchaudio"]},
                      "torch": str(torch.__version__), "tolerance": {"features": FEATURE_TOL, "audio": AUDIO_TOL}}))
    return 0 if ok else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference")
    ap.add_argument("--check")
    a = ap.parse_args()
    if a.reference:
        reference(a.reference)
    if a.check:
        sys.exit(check(a.check))
