"""Pronunciation practice attempts: the target sentence, scoring a reading, storing it, the history.

Shaped like ``conversations.py``: web-framework-free apart from the database session, so a view
only parses the request, calls one function here and serialises what comes back. The scoring is
the pipeline's own verb (``Pipeline.score_reading``: decode, hear, align, rate), as a voice turn
is ``Pipeline.run_recording``; the pronunciation and the spoken target are ``Pipeline`` verbs too,
so this service reaches the pipeline only through ``pipeline.turn`` (contract
``practice-through-pipeline``). Failures are domain errors (``webapp/domain_errors.py``);
``webapp/errors.py`` maps them to HTTP.

The learner is anonymous: attempts are stored under the SHA-256 of a random token the browser
keeps (the view sets it as a cookie), never the token itself. The recording is scored and
dropped, never stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pipeline.errors import PipelineError
from pipeline.turn import (
    MAX_PRACTICE_S,
    MAX_TARGET_CHARS,
    Pipeline,
    PracticeSentence,
    PronunciationScore,
    clean_text,
    explain_pronunciation,
    find_sentence,
    practice_sets,
)
from webapp.db import PracticeAttempt, db
from webapp.domain_errors import PracticeSentenceUnknown, PracticeTextNotKorean, SpeechUnavailable

__all__ = [
    "HISTORY_LIMIT",
    "MAX_PRACTICE_S",
    "MAX_TARGET_CHARS",
    "Target",
    "attempts_of",
    "choose_target",
    "describe_pronunciation",
    "hash_learner",
    "new_learner_token",
    "practice_sentence",
    "practice_sets",
    "record_attempt",
    "speak_target",
    "target_text",
]

#: Most attempts the history returns.
HISTORY_LIMIT = 50


@dataclass(frozen=True)
class Target:
    """The sentence a learner reads: its text, and the practice sentence it is (``""`` when their own)."""

    text: str
    sentence_id: str = ""


def new_learner_token() -> str:
    """Make a fresh anonymous learner token (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def hash_learner(token: str) -> str:
    """Return the sha256 hex digest stored in place of a learner token."""
    return hashlib.sha256(token.encode()).hexdigest()


def target_text(pipe: Pipeline, text: str) -> str:
    """A practice sentence as typed, normalised (NFC, single spaces) and checked to hold Korean.

    Raises:
        PracticeTextNotKorean: nothing in it can be read in Korean.
        EmptyTextError, TextTooLongError: nothing left, or more than ``MAX_TARGET_CHARS``.
    """
    text = clean_text(text, MAX_TARGET_CHARS)
    if not pipe.pronounce(text).hangul:
        raise PracticeTextNotKorean(f"no Hangul in {text[:40]!r}")
    return text


def practice_sentence(sentence_id: str | None) -> PracticeSentence | None:
    """The practice sentence ``sentence_id`` names; None when no id was sent.

    Raises:
        PracticeSentenceUnknown: the id names no practice sentence.
    """
    if sentence_id is None:
        return None
    sentence = find_sentence(sentence_id)
    if sentence is None:
        raise PracticeSentenceUnknown(f"sentence {sentence_id!r}")
    return sentence


def choose_target(pipe: Pipeline, text: str, sentence: PracticeSentence | None) -> Target:
    """The sentence an attempt reads: ``text`` (normalised, see ``target_text``), from ``sentence`` or not.

    When the learner changed the practice sentence's text, it is their own sentence now (no id).

    Raises:
        PracticeTextNotKorean, EmptyTextError, TextTooLongError: see ``target_text``.
    """
    chosen = target_text(pipe, text)
    same = sentence is not None and chosen == sentence.text
    return Target(chosen, sentence.id if same and sentence is not None else "")


def describe_pronunciation(pipe: Pipeline, text: str) -> dict[str, Any]:
    """A sentence's standard pronunciation, IPA, the rules applied and their Korean explanations."""
    p = pipe.pronounce(text)
    return {
        "text": text,
        "pronunciation": p.hangul,
        "ipa": p.ipa,
        "rules": [r.as_dict() for r in p.rules],
        "explanations": explain_pronunciation(p),
    }


def record_attempt(
    pipe: Pipeline, learner_token: str, recording: bytes, target: Target
) -> tuple[PracticeAttempt, PronunciationScore]:
    """Score a reading of ``target`` and store the attempt under the learner's hash.

    Args:
        pipe: the app's pipeline (its scorer, on its own transcriber).
        learner_token: the learner's anonymous token (only its hash is stored).
        recording: the upload exactly as received, in any supported container; not stored.
        target: the sentence read (``choose_target``).

    Returns:
        The stored attempt and the full result the learner gets back.

    Raises:
        AudioError: the recording is empty, undecodable, silent, too short or too long.
        BackendError: the speech recogniser could not load or run.
    """
    result = pipe.score_reading(recording, target.text)
    attempt = PracticeAttempt(
        learner_hash=hash_learner(learner_token),
        sentence_id=target.sentence_id,
        text=target.text,
        heard_text=result.heard_text,
        accuracy=result.accuracy,
        completeness=result.completeness,
        fluency=result.fluency,
        overall=result.overall,
        source=result.source,
        result={
            "syllables": [
                {"index": s.index, "spelled": s.spelled, "expected": s.expected, "heard": s.heard, "rating": s.rating}
                for s in result.syllables
            ],
            "timing": result.as_dict()["timing"],
        },
    )
    db.session.add(attempt)
    db.session.commit()
    return attempt, result


def attempts_of(learner_token: str, text: str = "") -> list[PracticeAttempt]:
    """The learner's latest ``HISTORY_LIMIT`` attempts, oldest first; only those at ``text`` when given."""
    query = sa.select(PracticeAttempt).where(PracticeAttempt.learner_hash == hash_learner(learner_token))
    if text:
        query = query.where(PracticeAttempt.text == text)
    rows = db.session.scalars(query.order_by(PracticeAttempt.created_at.desc()).limit(HISTORY_LIMIT)).all()
    return list(reversed(rows))


def speak_target(pipe: Pipeline, text: str) -> bytes:
    """The target sentence spoken by the configured synthesizer, as WAV bytes (read as pronounced).

    Raises:
        PipelineError: the synthesizer refused the text (its own code).
        SpeechUnavailable: the synthesizer failed in any other way.
    """
    try:
        return pipe.speak_reading(text).wav
    except PipelineError:
        raise
    except Exception as exc:  # noqa: BLE001 - a synthesizer failure must not become a 500 page
        raise SpeechUnavailable(str(exc)) from exc
