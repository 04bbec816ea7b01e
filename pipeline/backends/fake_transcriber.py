"""The fake transcriber for tests and UI work: no model; hears one fixed sentence in any sound.

Like every fake backend (``fake_*.py``, registered as ``fake`` in ``pipeline/registry.py``) it
behaves like the real one in shape and failure modes, so the web app and the command line can be
exercised end to end in milliseconds.
"""

from __future__ import annotations

from pipeline.audio import loudest_dbfs
from pipeline.settings import Settings
from pipeline.types import Audio, Segment, Transcript


class FakeTranscriber:
    """Hears one fixed sentence when there is sound, nothing when it is quieter than ``silence_dbfs``."""

    name = "fake"
    text = "오늘 좀 우울해요"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def transcribe(self, audio: Audio) -> Transcript:
        """The configured text for any audio with sound in it; empty text for silence."""
        if loudest_dbfs(audio.samples, audio.sample_rate) < self.settings.silence_dbfs:
            return Transcript(text="", confidence=0.0)
        return Transcript(text=self.text, segments=(Segment(0.0, audio.duration_s, self.text),), confidence=1.0)
