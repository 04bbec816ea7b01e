"""Noise made in code and mixed into speech at a chosen signal-to-noise ratio.

Used by the recogniser evaluation (clean speech against the same speech in noise) and by
noise augmentation in training. No noise recordings are needed:

- ``white``: Gaussian white noise.
- ``pink``: 1/f noise, more energy in the low frequencies like room and traffic noise.
- ``babble``: several talkers at once, made from other utterances played backwards (so no
  words can be recognised in it) at random offsets, each at the same level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NOISE_KINDS = ("white", "pink", "babble")


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) float32 Gaussian noise with unit variance."""
    return rng.standard_normal(n).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) float32 noise with power falling as 1/f, unit variance."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return (noise / (noise.std() + 1e-12)).astype(np.float32)


def babble_noise(n: int, talkers: Sequence[np.ndarray], rng: np.random.Generator, n_talkers: int = 6) -> np.ndarray:
    """(n,) float32 babble: ``n_talkers`` reversed utterances from ``talkers``, each looped to ``n`` samples.

    Raises:
        ValueError: ``talkers`` is empty or holds only silence.
    """
    voices = [np.asarray(t, dtype=np.float32) for t in talkers if len(t) and np.any(t)]
    if not voices:
        raise ValueError("babble needs at least one utterance with sound")
    out = np.zeros(n, dtype=np.float32)
    for _ in range(n_talkers):
        voice = voices[int(rng.integers(len(voices)))][::-1]
        voice = voice / (np.sqrt(np.mean(voice.astype(np.float64) ** 2)) + 1e-12)
        looped = np.resize(voice, n + len(voice))
        start = int(rng.integers(len(voice)))
        out += looped[start : start + n]
    return (out / (out.std() + 1e-12)).astype(np.float32)


def make_noise(
    kind: str, n: int, rng: np.random.Generator, talkers: Sequence[np.ndarray] = (), n_talkers: int = 6
) -> np.ndarray:
    """(n,) float32 unit-variance noise of ``kind`` (``white``, ``pink`` or ``babble``)."""
    if kind == "white":
        return white_noise(n, rng)
    if kind == "pink":
        return pink_noise(n, rng)
    if kind == "babble":
        return babble_noise(n, talkers, rng, n_talkers)
    raise ValueError(f"unknown noise {kind!r}; valid: {', '.join(NOISE_KINDS)}")


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Speech plus ``noise`` scaled so that speech power / noise power is ``snr_db`` decibels.

    Power is the mean square over the whole recording. The noise is looped or cut to the
    speech's length; the mix is clipped to [-1, 1].

    Args:
        speech: (time,) float32 in [-1, 1].
        noise: (time',) float32, any level.
        snr_db: wanted signal-to-noise ratio in dB.

    Returns:
        (time,) float32.
    """
    speech = np.asarray(speech, dtype=np.float32)
    noise = np.resize(np.asarray(noise, dtype=np.float32), len(speech))
    p_speech = float(np.mean(speech.astype(np.float64) ** 2))
    p_noise = float(np.mean(noise.astype(np.float64) ** 2))
    if p_speech == 0.0 or p_noise == 0.0:
        return speech.copy()
    scale = np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0)))
    return np.clip(speech + scale * noise, -1.0, 1.0).astype(np.float32)
