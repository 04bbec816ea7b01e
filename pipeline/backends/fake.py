"""Tiny deterministic backends for tests and UI work: no models, no subprocesses.

They behave like the real ones in shape and failure modes, so the web app and the command
line can be exercised end to end in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.audio import loudest_dbfs, to_wav_bytes
from pipeline.settings import Settings
from pipeline.types import EMOTION_LABELS, Audio, Emotion, HistoryTurn, Reply, Risk, Segment, Speech, Transcript

# Words that steer the fake classifier, so tests can ask for an emotion by saying it.
_FAKE_CUES = {
    "fear": ("무서", "불안", "걱정"),
    "surprise": ("놀랐", "깜짝"),
    "anger": ("화가", "짜증"),
    "sadness": ("슬퍼", "우울", "외로"),
    "happiness": ("기뻐", "행복", "좋아"),
    "disgust": ("역겨", "더러"),
}


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


class FakeClassifier:
    """Picks the emotion whose cue word appears in the text, else neutral."""

    name = "fake"

    def __init__(self, settings: Settings) -> None:
        pass

    def classify(self, text: str) -> Emotion:
        """The first emotion whose cue word appears in ``text`` (``neutral`` otherwise), scored 0.7."""
        label = next((lab for lab, cues in _FAKE_CUES.items() if any(c in text for c in cues)), "neutral")
        scores = {lab: (0.7 if lab == label else 0.05) for lab in EMOTION_LABELS}
        return Emotion(label=label, scores=scores)


class FakeResponder:
    """Echoes the emotion and the turn number; crisis text for high risk."""

    name = "fake"

    def __init__(self, settings: Settings) -> None:
        pass

    def respond(self, text: str, emotion: Emotion, risk: Risk, history: Sequence[HistoryTurn] = ()) -> Reply:
        """A numbered acknowledgement, or a crisis reply with 109 at high risk."""
        if risk.level == "high":
            return Reply(text="지금 많이 힘드시군요. 109에 전화해 주세요.", kind="crisis", reply_id="fake-crisis")
        n = len(history) + 1
        return Reply(text=f"{n}번째 이야기 잘 들었어요.", kind="empathy", reply_id=f"fake-{emotion.label}-{n}")


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
