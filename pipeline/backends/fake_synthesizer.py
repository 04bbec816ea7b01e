"""The fake synthesizer for tests and UI work: no model, no subprocess; a sine tone as long as the text.

Registered as ``fake`` in ``pipeline/registry.py``; a crisis or sad tone sounds lower, so tests can tell.
"""

from __future__ import annotations

import numpy as np

from pipeline.audio import to_wav_bytes
from pipeline.settings import Settings
from pipeline.types import Speech


class FakeSynthesizer:
    """A short 440 Hz tone (392 Hz in a crisis or sad tone), 16 kHz, as long as ~0.05 s per character."""

    name = "fake"
    sample_rate = 16000

    def __init__(self, settings: Settings) -> None:
        pass

    def synthesize(self, text: str, *, tone: str = "") -> Speech:
        """A sine tone as long as the text suggests (lower for a crisis or sad tone), as a WAV."""
        duration_s = min(5.0, 0.2 + 0.05 * len(text))
        t = np.arange(int(duration_s * self.sample_rate)) / self.sample_rate
        hz = 392.0 if tone in ("crisis", "sadness") else 440.0  # lower for a gentle tone, so tests can tell
        samples = (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
        return Speech(wav=to_wav_bytes(samples, self.sample_rate), sample_rate=self.sample_rate, duration_s=duration_s)
