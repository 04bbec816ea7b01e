"""Practice listens with Whisper's whole window even where conversations use a shorter one.

The practice verdicts (and the phoneme head) were calibrated on encodings of the full 30-s
window; ``MAUM_WHISPER_WINDOW_S`` (15 s by default) only speeds up conversation turns.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest

from pipeline.pronunciation.scoring import PronunciationScorer
from pipeline.types import Audio, Transcript


class _Listener:
    """A transcriber that records whether each transcription ran inside ``full_window``."""

    def __init__(self) -> None:
        self.full, self.calls = False, []

    @contextmanager
    def full_window(self):
        self.full = True
        try:
            yield
        finally:
            self.full = False

    def transcribe(self, audio: Audio) -> Transcript:
        self.calls.append(self.full)
        return Transcript(text="국물이 맛있어요", confidence=0.9)


def test_the_practice_transcript_is_made_with_the_full_window():
    listener = _Listener()
    scorer = PronunciationScorer(listener, None, stretches=lambda audio: [(0.1, 1.9)])
    t = np.arange(32000) / 16000
    scorer.score(Audio((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000), "국물이 맛있어요")
    assert listener.calls == [True]
    assert listener.full is False  # and only for that call


@pytest.mark.slow
def test_the_acoustic_evidence_encodes_the_whole_window_with_a_15_s_setting(tmp_path, monkeypatch):
    from faster_whisper import WhisperModel

    from pipeline.backends.whisper import WhisperTranscriber
    from pipeline.backends.whisper_evidence import WhisperEvidence
    from pipeline.settings import Settings

    settings = Settings(cache_dir=str(tmp_path), whisper_window_s=15.0)
    transcriber = WhisperTranscriber(settings)
    evidence = WhisperEvidence.for_transcriber(transcriber, settings)
    seen = []
    original = WhisperModel.encode
    monkeypatch.setattr(WhisperModel, "encode", lambda self, f: seen.append(f.shape[-1]) or original(self, f))
    t = np.arange(48000) / 16000
    evidence.encoder_frames(Audio((0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000))
    assert seen == [3000]
    transcriber.model.encode(np.pad(np.ones((80, 300), np.float32), ((0, 0), (0, 2700))))
    assert seen[-1] == 1500  # the same model, outside practice: the conversation's 15-s window
