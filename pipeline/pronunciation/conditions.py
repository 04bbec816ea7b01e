"""Listening conditions the pronunciation verdicts are measured and trained under.

The benchmark (``benchmarks/pronunciation_bench.py``) scores each clip clean and under a telephone
band and/or white noise; the phoneme head's training (``training/train_phoneme_head.py``) uses the
same conditions, so both read from here.
"""

from __future__ import annotations

import numpy as np


def degrade(samples: np.ndarray, condition: str, seed: int) -> np.ndarray:
    """Telephone band (300–3400 Hz through 8 kHz) and/or white noise at 10–20 dB SNR, 16 kHz out."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    x = samples.astype(np.float64)
    rng = np.random.default_rng(seed)
    if "noisy" in condition:
        snr_db = float(rng.uniform(10.0, 20.0))
        frame = 400
        energies = [float(np.mean(x[i : i + frame] ** 2)) for i in range(0, len(x) - frame, frame)] or [1e-8]
        speech_power = float(np.mean(sorted(energies)[len(energies) // 2 :]))  # louder half: speech
        x = x + rng.standard_normal(len(x)) * np.sqrt(speech_power / 10 ** (snr_db / 10))
    if condition.startswith("tel"):
        narrow = resample_poly(x, 1, 2)
        sos = butter(6, [300, 3400], btype="bandpass", fs=8000, output="sos")
        x = resample_poly(sosfiltfilt(sos, narrow), 2, 1)
    peak = float(np.max(np.abs(x))) or 1.0
    return (x / max(peak, 1.0)).astype(np.float32)
