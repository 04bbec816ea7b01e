"""Pronunciation practice views: thin wrappers around ``pipeline.pronunciation``.

The learner is anonymous. The first attempt sets an HttpOnly ``maum_learner`` cookie holding a
random token; attempts are stored under its SHA-256 only, and the history lists only that
learner's attempts. The recording is scored and dropped, never stored: the page replays the
learner's own copy from the browser.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from flask import Response, jsonify, render_template, request

from pipeline.errors import PipelineError
from pipeline.pronunciation.feedback import explain_pronunciation
from pipeline.pronunciation.g2p import pronounce
from pipeline.pronunciation.scoring import MAX_PRACTICE_S, MAX_TARGET_CHARS
from pipeline.pronunciation.sentences import find_sentence, practice_sets
from pipeline.stages import synthesize_in_tone
from pipeline.turn import clean_text
from webapp import ratelimit
from webapp.db import PracticeAttempt, db
from webapp.errors import ApiError
from webapp.extensions import get_pipeline
from webapp.practice import bp
from webapp.validation import check_practice_text, form_fields, refuse_unexpected_fields

LEARNER_COOKIE = "maum_learner"
LEARNER_COOKIE_MAX_AGE_S = 365 * 24 * 3600
HISTORY_LIMIT = 50


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _learner_token() -> tuple[str, bool]:
    """The learner's token from the cookie, or a new one (``True`` when new)."""
    token = request.cookies.get(LEARNER_COOKIE, "")
    if 20 <= len(token) <= 100:
        return token, False
    return secrets.token_urlsafe(24), True


def _remember_learner(response: Response, token: str) -> None:
    response.set_cookie(
        LEARNER_COOKIE, token, max_age=LEARNER_COOKIE_MAX_AGE_S, httponly=True, samesite="Lax",
        secure=request.is_secure, path="/",
    )  # fmt: skip


def _target_text(raw: Any) -> str:
    text = clean_text(check_practice_text(raw, MAX_TARGET_CHARS), MAX_TARGET_CHARS)
    if not pronounce(text).hangul:
        raise ApiError(400, "practice_text_not_korean", "한국어 문장을 적어 주세요.")
    return text


def _pronunciation_json(text: str) -> dict[str, Any]:
    p = pronounce(text)
    return {
        "text": text,
        "pronunciation": p.hangul,
        "ipa": p.ipa,
        "rules": [r.as_dict() for r in p.rules],
        "explanations": explain_pronunciation(p),
    }


@bp.get("/practice")
def index() -> str:
    """The practice page; sentences, scoring and history come through ``/api/practice``."""
    sets = [
        {"id": s.id, "level": s.level, "title": s.title, "description": s.description,
         "sentences": [{"id": x.id, "text": x.text} for x in s.sentences]}
        for s in practice_sets()
    ]  # fmt: skip
    return render_template("practice/index.html", sets=sets, max_seconds=MAX_PRACTICE_S, max_chars=MAX_TARGET_CHARS)


@bp.get("/api/practice/sentences")
def sentences() -> Response:
    """Every graded practice set, each sentence with its standard pronunciation."""
    return jsonify(
        sets=[
            {"id": s.id, "level": s.level, "title": s.title, "description": s.description,
             "sentences": [{"id": x.id, **_pronunciation_json(x.text)} for x in s.sentences]}
            for s in practice_sets()
        ]
    )  # fmt: skip


@bp.post("/api/practice/pronounce")
def pronounce_text() -> Response:
    """JSON ``{"text"}`` → its standard pronunciation, IPA and the rules applied."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "보내신 내용을 읽을 수 없어요. 다시 보내 주시겠어요?")
    refuse_unexpected_fields(body, {"text"})
    return jsonify(_pronunciation_json(_target_text(body.get("text"))))


@bp.post("/api/practice/attempts")
def create_attempt() -> tuple[Response, int]:
    """Multipart ``audio`` + ``text`` (or ``sentence_id``) → the scores and feedback, stored."""
    ratelimit.enforce("practice-ip")
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", detail=f"content type {request.mimetype!r}")
    refuse_unexpected_fields(form_fields(request.form, request.files), {"audio", "text", "sentence_id"})
    sentence_id = request.form.get("sentence_id")
    sentence = find_sentence(sentence_id) if sentence_id is not None else None
    if sentence_id is not None and sentence is None:
        raise ApiError(400, "practice_sentence_unknown", "연습 문장을 찾을 수 없어요. 문장을 다시 골라 주세요.")
    sentence_id = sentence_id or ""
    raw_text = request.form.get("text")
    text = _target_text(raw_text if raw_text is not None else (sentence.text if sentence else None))
    if sentence is not None and text != sentence.text:
        sentence_id = ""  # the learner changed the sentence: it is their own now
    upload = request.files.get("audio")
    if upload is None:
        raise ApiError(400, "audio_missing", "녹음 파일이 오지 않았어요. 다시 녹음해 주시겠어요?")
    result = get_pipeline().score_reading(upload.read(), text)
    data = result.as_dict()

    token, new = _learner_token()
    attempt = PracticeAttempt(
        learner_hash=_hash(token),
        sentence_id=sentence_id,
        text=text,
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
            "timing": data["timing"],
        },
    )
    db.session.add(attempt)
    db.session.commit()
    response = jsonify(
        attempt_id=attempt.id, created_at=attempt.created_at.isoformat(), sentence_id=sentence_id, **data
    )
    if new:
        _remember_learner(response, token)
    return response, 201


@bp.get("/api/practice/attempts")
def list_attempts() -> Response:
    """The learner's latest attempts (oldest first), optionally only those at one ``text``."""
    token = request.cookies.get(LEARNER_COOKIE, "")
    if not token:
        return jsonify(attempts=[])
    query = db.select(PracticeAttempt).where(PracticeAttempt.learner_hash == _hash(token))
    text = request.args.get("text", "").strip()
    if text:
        query = query.where(PracticeAttempt.text == text)
    rows = db.session.scalars(query.order_by(PracticeAttempt.created_at.desc()).limit(HISTORY_LIMIT)).all()
    return jsonify(
        attempts=[
            {"id": a.id, "created_at": a.created_at.isoformat(), "sentence_id": a.sentence_id, "text": a.text,
             "heard_text": a.heard_text, "scores": {"accuracy": a.accuracy, "completeness": a.completeness,
                                                    "fluency": a.fluency, "overall": a.overall}}
            for a in reversed(rows)
        ]
    )  # fmt: skip


@bp.get("/api/practice/speech")
def speech() -> Response:
    """``?text=…`` → the target sentence spoken by the configured synthesizer (WAV)."""
    ratelimit.enforce("practice-ip")
    text = _target_text(request.args.get("text", ""))
    try:
        spoken = synthesize_in_tone(get_pipeline().synthesizer, pronounce(text).spoken or text)
    except PipelineError:
        raise
    except Exception as exc:  # noqa: BLE001 - a synthesizer failure must not become a 500 page
        raise ApiError(503, "synthesis_failed", "지금은 문장을 읽어 드릴 수 없어요.", detail=str(exc)) from exc
    response = Response(spoken.wav, mimetype="audio/wav")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
