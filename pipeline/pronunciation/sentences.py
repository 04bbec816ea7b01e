"""Graded practice sentences written for Maum (``data/practice_sentences.json``).

Three levels; together they exercise every rule of ``g2p`` (a test checks this).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

_PATH = Path(__file__).resolve().parent / "data" / "practice_sentences.json"


@dataclass(frozen=True)
class PracticeSentence:
    """One sentence to read: ``id`` like ``"2-05"``, its ``text``, and the ``level`` (1–3) of its set."""

    id: str
    text: str
    level: int
    set_id: str


@dataclass(frozen=True)
class PracticeSet:
    """A graded set: ``title`` and ``description`` in Korean, and its sentences."""

    id: str
    level: int
    title: str
    description: str
    sentences: tuple[PracticeSentence, ...]


@functools.cache
def practice_sets() -> tuple[PracticeSet, ...]:
    """Every practice set, easiest first."""
    data = json.loads(_PATH.read_text(encoding="utf-8"))
    sets = []
    for raw in data["sets"]:
        sentences = tuple(PracticeSentence(s["id"], s["text"], int(raw["level"]), raw["id"]) for s in raw["sentences"])
        sets.append(PracticeSet(raw["id"], int(raw["level"]), raw["title"], raw["description"], sentences))
    return tuple(sorted(sets, key=lambda s: s.level))


def find_sentence(sentence_id: str) -> PracticeSentence | None:
    """The practice sentence with this id, or None."""
    for practice_set in practice_sets():
        for sentence in practice_set.sentences:
            if sentence.id == sentence_id:
                return sentence
    return None
