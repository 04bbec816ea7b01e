"""One ``Protocol`` per pipeline stage, each with a single verb.

Backends are looked up by name in ``pipeline.registry`` and built with a ``Settings``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pipeline.types import Audio, Emotion, HistoryTurn, Reply, Risk, Speech, Transcript


@runtime_checkable
class Transcriber(Protocol):
    def transcribe(self, audio: Audio) -> Transcript:
        """Speech (16 kHz mono float32) to text; empty text when nothing was said."""
        ...


@runtime_checkable
class EmotionClassifier(Protocol):
    def classify(self, text: str) -> Emotion:
        """Text to one of the seven emotion labels with a score for each."""
        ...


@runtime_checkable
class Responder(Protocol):
    def respond(self, text: str, emotion: Emotion, risk: Risk, history: Sequence[HistoryTurn] = ()) -> Reply:
        """The client's words, feeling, risk and the conversation so far to a reply."""
        ...


@runtime_checkable
class Synthesizer(Protocol):
    def synthesize(self, text: str, *, tone: str = "") -> Speech:
        """Korean text to a WAV file; ``tone`` (see ``reply_tone``) may colour the voice.

        ``tone`` is keyword-only and optional: a backend may ignore it, and older backends
        that take only ``text`` are still called through ``synthesize_in_tone``.
        """
        ...


def reply_tone(reply_kind: str, emotion_label: str) -> str:
    """The tone a reply is spoken in: ``crisis`` for crisis replies, else the client's emotion label."""
    return "crisis" if reply_kind == "crisis" else emotion_label


def synthesize_in_tone(synthesizer: Synthesizer, text: str, tone: str = "") -> Speech:
    """``synthesizer.synthesize(text, tone=tone)``, or without ``tone`` for a backend that takes only text."""
    try:
        params = inspect.signature(synthesizer.synthesize).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        params = {}
    takes_tone = "tone" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return synthesizer.synthesize(text, tone=tone) if takes_tone else synthesizer.synthesize(text)
