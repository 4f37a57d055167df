"""Kaldi fbank and torchaudio's sinc resampling in plain torch ops, for the PyTorch side of
`loaa bench` on the project's PyTorch 2.13 (.venv), which has no torchaudio.

Both follow torchaudio 0.13 step by step (torchaudio.compliance.kaldi.fbank,
torchaudio.functional.resample with sinc_interp_hann), in the same op order and dtypes, so the
features match torchaudio's to float rounding; tools/bench/fbank_parity.py checks that against
Debian's torchaudio. Only what the bench and AST use is here: snip_edges=True, no VTLN, no dither.
"""
import math

import torch

EPSILON = torch.finfo(torch.float).eps  # torchaudio's _get_epsilon for float32


def _window(kind: str, size: int, blackman_coeff: float, dtype) -> torch.Tensor:
    if kind == "hanning":
        return torch.hann_window(size, periodic=False, dtype=dtype)
    if kind == "hamming":
        return torch.hamming_window(size, periodic=False, alpha=0.54, beta=0.46, dtype=dtype)
    if kind == "povey":
        # a Hann window raised to 0.85 (Kaldi's default): it does not go to zero at the ends
        return torch.hann_window(size, periodic=False, dtype=dtype).pow(0.85)
    if kind == "rectangular":
        return torch.ones(size, dtype=dtype)
    if kind == "blackman":
        a = 2 * math.pi / (size - 1)
        n = torch.arange(size, dtype=dtype)
        return blackman_coeff - 0.5 * torch.cos(a * n) + (0.5 - blackman_coeff) * torch.cos(2 * a * n)
    raise ValueError(f"window_type: unknown window {kind!r}")


def _log_energy(frames: torch.Tensor, energy_floor: float) -> torch.Tensor:
    e = torch.max(frames.pow(2).sum(1), torch.tensor(EPSILON, dtype=frames.dtype)).log()
    if energy_floor == 0.0:
        return e
    return torch.max(e, torch.tensor(math.log(energy_floor), dtype=frames.dtype))


def _mel(freq):
    return 1127.0 * (1.0 + freq / 700.0).log()


def mel_banks(num_bins: int, padded: int, sample_frequency: float, low_freq: float, high_freq: float) -> torch.Tensor:
    """[num_bins, padded // 2] triangular filters on the mel scale (Kaldi's, without VTLN)."""
    nyquist = 0.5 * sample_frequency
    if high_freq <= 0.0:
        high_freq += nyquist
    bin_width = sample_frequency / padded
    mel_low = 1127.0 * math.log(1.0 + low_freq / 700.0)
    mel_high = 1127.0 * math.log(1.0 + high_freq / 700.0)
    delta = (mel_high - mel_low) / (num_bins + 1)
    b = torch.arange(num_bins).unsqueeze(1)
    left = mel_low + b * delta
    center = mel_low + (b + 1.0) * delta
    right = mel_low + (b + 2.0) * delta
    mel = _mel(bin_width * torch.arange(padded / 2)).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    return torch.max(torch.zeros(1), torch.min(up, down))


def fbank(waveform: torch.Tensor, *, blackman_coeff=0.42, channel=-1, dither=0.0, energy_floor=1.0, frame_length=25.0,
          frame_shift=10.0, high_freq=0.0, htk_compat=False, low_freq=20.0, num_mel_bins=23,
          preemphasis_coefficient=0.97, raw_energy=True, remove_dc_offset=True, round_to_power_of_two=True,
          sample_frequency=16000.0, snip_edges=True, subtract_mean=False, use_energy=False, use_log_fbank=True,
          use_power=True, window_type="povey") -> torch.Tensor:
    """[frames, num_mel_bins (+1 with use_energy)] log mel filterbank energies of a [channels, time] waveform."""
    if dither != 0.0:
        raise ValueError("dither: only 0 is supported (the bench compares deterministic features)")
    if not snip_edges:
        raise ValueError("snip_edges: only True is supported")
    dtype = waveform.dtype
    wav = waveform[max(channel, 0), :]
    shift = int(sample_frequency * frame_shift * 0.001)
    size = int(sample_frequency * frame_length * 0.001)
    padded = 1 << (size - 1).bit_length() if round_to_power_of_two else size
    if wav.numel() < size:
        return torch.empty(0, dtype=dtype)
    n = 1 + (wav.numel() - size) // shift
    frames = wav.as_strided((n, size), (shift * wav.stride(0), wav.stride(0)))
    if remove_dc_offset:
        frames = frames - frames.mean(dim=1).unsqueeze(1)
    if raw_energy:
        log_energy = _log_energy(frames, energy_floor)
    if preemphasis_coefficient != 0.0:
        prev = torch.nn.functional.pad(frames.unsqueeze(0), (1, 0), mode="replicate").squeeze(0)
        frames = frames - preemphasis_coefficient * prev[:, :-1]
    frames = frames * _window(window_type, size, blackman_coeff, dtype).unsqueeze(0)
    if padded != size:
        frames = torch.nn.functional.pad(frames.unsqueeze(0), (0, padded - size), mode="constant", value=0).squeeze(0)
    if not raw_energy:
        log_energy = _log_energy(frames, energy_floor)
    spectrum = torch.fft.rfft(frames).abs()
    if use_power:
        spectrum = spectrum.pow(2.0)
    banks = mel_banks(num_mel_bins, padded, sample_frequency, low_freq, high_freq).to(dtype=dtype)
    banks = torch.nn.functional.pad(banks, (0, 1), mode="constant", value=0)  # the Nyquist bin gets no weight
    mel = torch.mm(spectrum, banks.T)
    if use_log_fbank:
        mel = torch.max(mel, torch.tensor(EPSILON, dtype=dtype)).log()
    if use_energy:
        e = log_energy.unsqueeze(1)
        mel = torch.cat((mel, e), dim=1) if htk_compat else torch.cat((e, mel), dim=1)
    if subtract_mean:
        mel = mel - mel.mean(dim=0).unsqueeze(0)
    return mel


def _sinc_kernel(orig: int, new: int, width_zeros: int, rolloff: float, dtype):
    base = min(orig, new) * rolloff
    width = math.ceil(width_zeros * orig / base)
    idx = torch.arange(-width, width + orig, dtype=dtype)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=dtype)[:, None, None] / new + idx
    t *= base
    t = t.clamp_(-width_zeros, width_zeros)
    window = torch.cos(t * math.pi / width_zeros / 2) ** 2
    t *= math.pi
    kernels = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernels *= window * (base / orig)
    return kernels, width


class Resampler:
    """torchaudio.functional.resample(x, orig, new) (sinc_interp_hann, 6 zero crossings, rolloff 0.99)
    with its kernel built once, as torchaudio.transforms.Resample keeps it."""

    def __init__(self, orig_freq: int, new_freq: int, lowpass_filter_width: int = 6, rolloff: float = 0.99,
                 dtype=torch.float32):
        g = math.gcd(int(orig_freq), int(new_freq))
        self.orig, self.new = int(orig_freq) // g, int(new_freq) // g
        self.kernel, self.width = _sinc_kernel(self.orig, self.new, lowpass_filter_width, rolloff, dtype)

    def __call__(self, waveform: torch.Tensor) -> torch.Tensor:
        if self.orig == self.new:
            return waveform
        shape = waveform.size()
        wav = waveform.reshape(-1, shape[-1])
        count, length = wav.shape
        wav = torch.nn.functional.pad(wav, (self.width, self.width + self.orig))
        out = torch.nn.functional.conv1d(wav[:, None], self.kernel, stride=self.orig)
        out = out.transpose(1, 2).reshape(count, -1)[..., : int(math.ceil(self.new * length / self.orig))]
        return out.view(shape[:-1] + out.shape[-1:])


def resample(waveform: torch.Tensor, orig_freq: int, new_freq: int) -> torch.Tensor:
    """torchaudio.functional.resample with its defaults (the kernel is rebuilt every call, as there)."""
    return Resampler(orig_freq, new_freq, dtype=waveform.dtype)(waveform)


def ast_fbank(waveform: torch.Tensor, sample_frequency: int = 16000, num_mel_bins: int = 128) -> torch.Tensor:
    """The AST recipe's features of a [1, time] 16-kHz waveform (mean already removed)."""
    return fbank(waveform, htk_compat=True, sample_frequency=sample_frequency, use_energy=False,
                 window_type="hanning", num_mel_bins=num_mel_bins, dither=0.0, frame_shift=10)
