#!/usr/bin/python3
"""torchaudio's timings for the rows src/bench/frontend_clips.ts measures (ms per clip, median, one thread).

    /usr/bin/python3 tools/bench/frontend_torchaudio.py [--reps 20]

Rows: frontend_5s_44k1_ms / frontend_1s_16k_ms (resample to 16 kHz with
torchaudio.functional.resample, subtract the mean, kaldi.fbank with AST's options), and the two
stages of the first on their own. An extra row times torchaudio.transforms.Resample, which keeps
its kernel between calls (functional.resample rebuilds it every call).
"""
import json
import time

import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as AF

torch.set_num_threads(1)


def signal(rate, seconds):
    rng = np.random.default_rng(1234)
    t = np.arange(int(round(rate * seconds))) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3000 * t) + 0.05 * rng.standard_normal(t.size)
    return torch.from_numpy(x.astype(np.float32))[None]


def ast_fbank(wav, sr=16000):
    return kaldi.fbank(wav, htk_compat=True, sample_frequency=sr, use_energy=False, window_type='hanning',
                       num_mel_bins=128, dither=0.0, frame_shift=10)


def frontend(wav, sr):
    if sr != 16000:
        wav = AF.resample(wav, sr, 16000)
    wav = wav - wav.mean()
    return ast_fbank(wav)


def timed(fn, reps, warm=3):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return round(ts[len(ts) // 2], 3)


def main(reps=20):
    long = signal(44100, 5)
    short = signal(16000, 1)
    long16 = AF.resample(long, 44100, 16000)
    long16 = long16 - long16.mean()
    cached = torchaudio.transforms.Resample(44100, 16000)
    with torch.inference_mode():
        rows = {
            'frontend_5s_44k1_ms': timed(lambda: frontend(long, 44100), reps),
            'frontend_1s_16k_ms': timed(lambda: frontend(short, 16000), reps * 5),
            'resample_5s_44k1_to_16k_ms': timed(lambda: AF.resample(long, 44100, 16000), reps),
            'fbank_5s_16k_ms': timed(lambda: ast_fbank(long16), reps),
            'resample_5s_44k1_to_16k_cached_kernel_ms': timed(lambda: cached(long), reps),
        }
    rows['torch'] = torch.__version__
    rows['torchaudio'] = torchaudio.__version__
    print(json.dumps(rows))


if __name__ == '__main__':
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=20)
    main(ap.parse_args().reps)
