"""One ``Protocol`` per pipeline stage, each with a single verb.

Backends are looked up by name in ``pipeline.registry`` and built with a ``Settings``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pipeline.types import Audio, Emotion, HistoryTurn, Reply, Risk, Speech, Transcript


@runtime_checkable
class Transcriber(Protocol):
    """Hears speech and writes what was said (the first stage of a voice turn)."""

    def transcribe(self, audio: Audio) -> Transcript:
        """Speech (16 kHz mono float32) to text; empty text when nothing was said."""
        ...


@runtime_checkable
class EmotionClassifier(Protocol):
    """Tells which of the seven emotions a text carries."""

    def classify(self, text: str) -> Emotion:
        """Text to one of the seven emotion labels with a score for each."""
        ...


@runtime_checkable
class Responder(Protocol):
    """Chooses the reply to the client's words, after risk was assessed."""

    def respond(self, text: str, emotion: Emotion, risk: Risk, history: Sequence[HistoryTurn] = ()) -> Reply:
        """The client's words, feeling, risk and the conversation so far to a reply."""
        ...


@runtime_checkable
class Synthesizer(Protocol):
    """Speaks a reply aloud."""

    def synthesize(self, text: str, *, tone: str = "") -> Speech:
        """Korean text to a WAV file; ``tone`` (see ``reply_tone``) may colour the voice.

        Every synthesizer takes ``tone`` (keyword-only, optional); one that has no tones ignores it.
        """
        ...


def reply_tone(reply_kind: str, emotion_label: str) -> str:
    """The tone a reply is spoken in: ``crisis`` for crisis replies, else the client's emotion label."""
    return "crisis" if reply_kind == "crisis" else emotion_label


def synthesize_in_tone(synthesizer: Synthesizer, text: str, tone: str = "") -> Speech:
    """``synthesizer.synthesize(text, tone=tone)``: every ``Synthesizer`` takes ``tone``."""
    return synthesizer.synthesize(text, tone=tone)


@runtime_checkable
class PhonemeRecognizer(Protocol):
    """Hears phonemes, not words (``MAUM_PHONEME_MODEL``): pronunciation scoring without spelling correction."""

    def recognize_phonemes(self, audio: Audio) -> list[str]:
        """Audio (16 kHz mono float32) → the IPA symbols heard (``ipa.IPA_SYMBOLS``), in order."""
        ...


@runtime_checkable
class AcousticEvidence(Protocol):
    """Says how well a recording supports each syllable of a text read over it (pronunciation scoring)."""

    def syllable_probabilities(self, audio: Audio, spoken: str) -> list[float | None]:
        """Per character of ``spoken``, the probability of that syllable when forced to read it.

        The recogniser reads ``spoken`` over ``audio``; spaces get None.
        """
        ...
