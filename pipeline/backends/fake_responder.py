"""The fake responder for tests and UI work: no model; a numbered acknowledgement, crisis text at high risk.

Registered as ``fake`` in ``pipeline/registry.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.settings import Settings
from pipeline.types import Emotion, HistoryTurn, Reply, Risk


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
