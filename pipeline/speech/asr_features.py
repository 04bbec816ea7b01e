"""Acoustic features for the CTC recognisers: log-mel, Kaldi-style fbank, MFCC or spectrogram.

One ``FeatureConfig`` describes how frames are made; it is saved inside every DeepSpeech2
checkpoint, so that recognition computes exactly the features the model was trained on.
Frames are 20 ms windows every 10 ms by default (as in DeepSpeech2), from 16 kHz audio.
librosa (numpy) does the work; torchaudio has no CPU build here.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

FEATURE_KINDS = ("logmel", "fbank", "mfcc", "spectrogram")
_LOG_FLOOR = 1e-6


@dataclass(frozen=True)
class FeatureConfig:
    """How audio becomes frames.

    Attributes:
        kind: ``logmel`` (natural log of a Slaney mel power spectrum, Hann window),
            ``fbank`` (Kaldi-like: pre-emphasis, Hamming window, HTK mel, log energies),
            ``mfcc`` (DCT-II of the fbank energies) or ``spectrogram`` (log(1 + |STFT|), as
            DeepSpeech2 used: ``window_ms`` × 8 + 1 bins, 161 for 20 ms).
        sample_rate: Hz of the audio the frames come from.
        window_ms: analysis window (see ``n_fft`` for the FFT size).
        hop_ms: frame step.
        n_mels: mel bands for ``logmel`` and ``fbank`` (and the bands under ``mfcc``).
        n_mfcc: cepstral coefficients kept for ``mfcc``.
        preemphasis: coefficient for ``fbank`` and ``mfcc`` (0 turns it off).
        normalize: per-utterance mean and variance normalisation of every bin.
    """

    kind: str = "logmel"
    sample_rate: int = 16000
    window_ms: float = 20.0
    hop_ms: float = 10.0
    n_mels: int = 80
    n_mfcc: int = 40
    preemphasis: float = 0.97
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {self.kind!r}; valid: {', '.join(FEATURE_KINDS)}")
        if self.hop_ms <= 0 or self.window_ms < self.hop_ms:
            raise ValueError("need 0 < hop_ms <= window_ms")

    @property
    def win_length(self) -> int:
        """Samples per analysis window."""
        return int(round(self.sample_rate * self.window_ms / 1000.0))

    @property
    def hop_length(self) -> int:
        """Samples per frame step."""
        return int(round(self.sample_rate * self.hop_ms / 1000.0))

    @property
    def n_fft(self) -> int:
        """FFT size: the window for ``spectrogram`` (161 bins at 20 ms, as DeepSpeech2), else the next power of two.

        A power of two (as Kaldi does) keeps every low mel band wider than one FFT bin.
        """
        if self.kind == "spectrogram":
            return self.win_length
        return 1 << (self.win_length - 1).bit_length()

    @property
    def n_features(self) -> int:
        """Bins per frame: what ``DeepSpeech2Config.n_features`` must be."""
        if self.kind == "mfcc":
            return self.n_mfcc
        if self.kind == "spectrogram":
            return self.win_length // 2 + 1
        return self.n_mels

    def frames(self, n_samples: int) -> int:
        """Frames for ``n_samples`` samples (centred windows)."""
        return 1 + n_samples // self.hop_length

    def to_dict(self) -> dict[str, Any]:
        """Plain data for checkpoints."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureConfig:
        """Rebuild from ``to_dict`` output."""
        return cls(**dict(data))


@functools.lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int, htk: bool) -> np.ndarray:
    import librosa

    fmin = 20.0 if htk else 0.0  # Kaldi's fbank starts at 20 Hz
    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, htk=htk, fmin=fmin).astype(np.float32)


def extract_features(samples: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Frames of one utterance.

    Args:
        samples: (time,) float32 mono at ``config.sample_rate``.
        config: what to compute.

    Returns:
        (n_features, frames) float32, ``frames = 1 + len(samples) // hop_length``.
    """
    import librosa

    y = np.asarray(samples, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected (time,) mono samples, got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("no samples")
    n_fft = config.n_fft
    kaldi_like = config.kind in ("fbank", "mfcc")
    if kaldi_like and config.preemphasis > 0:
        y = np.append(y[:1], y[1:] - config.preemphasis * y[:-1]).astype(np.float32)
    stft = librosa.stft(
        y,
        n_fft=n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window="hamming" if kaldi_like else "hann",
        center=True,
        pad_mode="constant",
    )
    magnitude = np.abs(stft)
    if config.kind == "spectrogram":
        feats = np.log1p(magnitude)
    else:
        mel = _mel_basis(config.sample_rate, n_fft, config.n_mels, kaldi_like) @ (magnitude**2)
        feats = np.log(np.maximum(mel, _LOG_FLOOR))
        if config.kind == "mfcc":
            import scipy.fft

            feats = scipy.fft.dct(feats, type=2, axis=0, norm="ortho")[: config.n_mfcc]
    feats = feats.astype(np.float32)
    if config.normalize:
        mean = feats.mean(axis=1, keepdims=True, dtype=np.float64)
        std = feats.std(axis=1, keepdims=True, dtype=np.float64)
        feats = ((feats - mean) / np.maximum(std, 1e-3)).astype(np.float32)
    return feats
