"""Pronunciation practice views: parse the request, call ``attempts``, serialise the answer.

The service (``webapp/practice/attempts.py``) chooses the target sentence, has the pipeline score
the reading (``Pipeline.score_reading``) and stores the attempt; failures are domain errors that
``webapp/errors.py`` turns into HTTP. Here live only the request's shape and the anonymous
learner's HttpOnly ``maum_learner`` cookie (a random token; attempts are stored under its
SHA-256 only, and the history lists only that learner's attempts). The recording is scored and
dropped, never stored: the page replays the learner's own copy from the browser.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, render_template, request

from webapp import ratelimit
from webapp.errors import ApiError
from webapp.extensions import get_pipeline
from webapp.practice import attempts, bp
from webapp.validation import check_practice_text, form_fields, refuse_unexpected_fields

LEARNER_COOKIE = "maum_learner"
LEARNER_COOKIE_MAX_AGE_S = 365 * 24 * 3600


def _learner_token() -> tuple[str, bool]:
    """The learner's token from the cookie, or a new one (``True`` when new)."""
    token = request.cookies.get(LEARNER_COOKIE, "")
    if 20 <= len(token) <= 100:
        return token, False
    return attempts.new_learner_token(), True


def _remember_learner(response: Response, token: str) -> None:
    response.set_cookie(
        LEARNER_COOKIE, token, max_age=LEARNER_COOKIE_MAX_AGE_S, httponly=True, samesite="Lax",
        secure=request.is_secure, path="/",
    )  # fmt: skip


def _target_text(raw: Any) -> str:
    return attempts.target_text(get_pipeline(), check_practice_text(raw, attempts.MAX_TARGET_CHARS))


@bp.get("/practice")
def index() -> str:
    """The practice page; sentences, scoring and history come through ``/api/practice``."""
    sets = [
        {"id": s.id, "level": s.level, "title": s.title, "description": s.description,
         "sentences": [{"id": x.id, "text": x.text} for x in s.sentences]}
        for s in attempts.practice_sets()
    ]  # fmt: skip
    return render_template(
        "practice/index.html", sets=sets, max_seconds=attempts.MAX_PRACTICE_S, max_chars=attempts.MAX_TARGET_CHARS
    )


@bp.get("/api/practice/sentences")
def sentences() -> Response:
    """Every graded practice set, each sentence with its standard pronunciation."""
    pipe = get_pipeline()
    return jsonify(
        sets=[
            {"id": s.id, "level": s.level, "title": s.title, "description": s.description,
             "sentences": [{"id": x.id, **attempts.describe_pronunciation(pipe, x.text)} for x in s.sentences]}
            for s in attempts.practice_sets()
        ]
    )  # fmt: skip


@bp.post("/api/practice/pronounce")
def pronounce_text() -> Response:
    """JSON ``{"text"}`` → its standard pronunciation, IPA and the rules applied."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "보내신 내용을 읽을 수 없어요. 다시 보내 주시겠어요?")
    refuse_unexpected_fields(body, {"text"})
    return jsonify(attempts.describe_pronunciation(get_pipeline(), _target_text(body.get("text"))))


@bp.post("/api/practice/attempts")
def create_attempt() -> tuple[Response, int]:
    """Multipart ``audio`` + ``text`` (or ``sentence_id``) → the scores and feedback, stored."""
    ratelimit.enforce("practice-ip")
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", detail=f"content type {request.mimetype!r}")
    refuse_unexpected_fields(form_fields(request.form, request.files), {"audio", "text", "sentence_id"})
    sentence = attempts.practice_sentence(request.form.get("sentence_id"))
    raw_text = request.form.get("text")
    text = check_practice_text(
        raw_text if raw_text is not None else (sentence.text if sentence else None), attempts.MAX_TARGET_CHARS
    )
    target = attempts.choose_target(get_pipeline(), text, sentence)
    upload = request.files.get("audio")
    if upload is None:
        raise ApiError(400, "audio_missing", "녹음 파일이 오지 않았어요. 다시 녹음해 주시겠어요?")
    token, new = _learner_token()
    attempt, result = attempts.record_attempt(get_pipeline(), token, upload.read(), target)
    response = jsonify(
        attempt_id=attempt.id, created_at=attempt.created_at.isoformat(), sentence_id=target.sentence_id,
        **result.as_dict(),
    )  # fmt: skip
    if new:
        _remember_learner(response, token)
    return response, 201


@bp.get("/api/practice/attempts")
def list_attempts() -> Response:
    """The learner's latest attempts (oldest first), optionally only those at one ``text``."""
    token = request.cookies.get(LEARNER_COOKIE, "")
    if not token:
        return jsonify(attempts=[])
    rows = attempts.attempts_of(token, request.args.get("text", "").strip())
    return jsonify(
        attempts=[
            {"id": a.id, "created_at": a.created_at.isoformat(), "sentence_id": a.sentence_id, "text": a.text,
             "heard_text": a.heard_text, "scores": {"accuracy": a.accuracy, "completeness": a.completeness,
                                                    "fluency": a.fluency, "overall": a.overall}}
            for a in rows
        ]
    )  # fmt: skip


@bp.get("/api/practice/speech")
def speech() -> Response:
    """``?text=…`` → the target sentence spoken by the configured synthesizer (WAV)."""
    ratelimit.enforce("practice-ip")
    text = _target_text(request.args.get("text", ""))
    response = Response(attempts.speak_target(get_pipeline(), text), mimetype="audio/wav")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
