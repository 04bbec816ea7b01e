"""API views: parse the request, run the pipeline, store, answer JSON.

A conversation is opened by the token returned when it was created, sent back either as
``Authorization: Bearer <token>`` or in the HttpOnly ``maum_token`` cookie scoped to that
conversation's path. Without a token the answer is 401; with a token that does not open the
conversation it is 404, as for an id that does not exist.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from flask import Response, current_app, jsonify, request, send_file, url_for

from pipeline.turn import Pipeline
from pipeline.voice import reply_sentences, spoken_text
from webapp.api import bp
from webapp.conversations import find_conversation, history_of, record_turn, start_conversation
from webapp.db import Conversation, Turn, db
from webapp.errors import ApiError
from webapp.reply_audio import speak_clip, start_reply_audio
from webapp.storage import AudioStore, mimetype_for

TOKEN_COOKIE = "maum_token"


def _pipeline() -> Pipeline:
    return current_app.extensions["maum.pipeline"]


def _store() -> AudioStore:
    return current_app.extensions["maum.audio_store"]


def _request_token() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = request.cookies.get(TOKEN_COOKIE, "")
    if token:
        return token
    raise ApiError(401, "unauthorized", detail="no token")


def _open_conversation(conversation_id: str) -> Conversation:
    token = _request_token()
    conversation = find_conversation(conversation_id, token)
    if conversation is None:
        raise ApiError(404, "not_found", detail="unknown conversation or wrong token")
    return conversation


def _read_turn_input() -> tuple[str, Any]:
    """``("audio", bytes)`` from a multipart upload or ``("text", str)`` from JSON."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("audio")
        if upload is None:
            raise ApiError(400, "audio_missing", "녹음 파일이 오지 않았어요. 다시 녹음해 주시겠어요?")
        return "audio", upload.read()
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "보내신 내용을 읽을 수 없어요. 다시 보내 주시겠어요?")
        text = body.get("text")
        if not isinstance(text, str):
            raise ApiError(400, "text_invalid", "하고 싶은 말을 글로 적어 보내 주시겠어요?")
        return "text", text
    raise ApiError(415, "unsupported_media_type", detail=f"content type {request.mimetype!r}")


def _turn_json(turn: Turn) -> dict[str, Any]:
    audio_url = (
        url_for(".turn_audio", conversation_id=turn.conversation_id, turn_id=turn.id, which="reply")
        if turn.reply_audio_path
        else None
    )
    clips = [
        {
            "text": text,
            "url": url_for(".turn_reply_clip", conversation_id=turn.conversation_id, turn_id=turn.id, n=n),
        }
        for n, text in enumerate(turn.reply_clips or [])
    ]
    return {
        "turn_id": turn.id,
        "transcript": turn.user_text,
        "emotion": {"label": turn.emotion_label, "scores": turn.emotion_scores},
        "risk": {"level": turn.risk_level, "reasons": turn.risk_reasons},
        "reply": {
            "text": turn.reply_text,
            "kind": turn.reply_kind,
            "audio_url": audio_url,
            "audio_missing": turn.reply_audio_missing,
            "clips": clips,
        },
        "timings_ms": turn.timings_ms,
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI 3.1 description, ``webapp/api/openapi.json`` (kept true by tests/test_openapi.py)."""
    return json.loads(resources.files("webapp.api").joinpath("openapi.json").read_text(encoding="utf-8"))


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.post("/conversations")
def create_conversation() -> tuple[Response, int]:
    conversation, token = start_conversation()
    response = jsonify(id=conversation.id, token=token)
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        path=f"{request.script_root}{bp.url_prefix}/conversations/{conversation.id}",
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )
    response.headers["Cache-Control"] = "no-store"
    return response, 201


@bp.post("/conversations/<conversation_id>/turns")
def create_turn(conversation_id: str) -> tuple[Response, int]:
    conversation_id = _open_conversation(conversation_id).id
    kind, payload = _read_turn_input()
    history = history_of(conversation_id)
    db.session.close()  # no transaction stays open while the models run

    pipeline = _pipeline()
    # The answer does not wait for speech: the page fetches the reply sentence by sentence.
    if kind == "audio":
        result = pipeline.run_recording(payload, history, synthesize=False)
    else:
        result = pipeline.run_text(payload, history, synthesize=False)

    turn = record_turn(
        _store(),
        conversation_id,
        result,
        user_audio=payload if kind == "audio" else None,
        backends=pipeline.backend_names(),
        reply_clips=reply_sentences(spoken_text(result.reply)),
    )
    body = _turn_json(turn)
    start_reply_audio(current_app._get_current_object(), turn)  # type: ignore[attr-defined]
    return jsonify(body), 201


def _find_turn(conversation_id: str, turn_id: str) -> Turn:
    conversation = _open_conversation(conversation_id)
    turn = db.session.get(Turn, turn_id)
    if turn is None or turn.conversation_id != conversation.id:
        raise ApiError(404, "not_found", detail="unknown turn")
    return turn


@bp.get("/conversations/<conversation_id>/turns/<turn_id>/audio/reply/<int:n>")
def turn_reply_clip(conversation_id: str, turn_id: str, n: int) -> Response:
    """Sentence ``n`` of the reply as WAV: from the cache, or synthesised by this worker now."""
    turn = _find_turn(conversation_id, turn_id)
    db.session.close()  # no transaction stays open while the voice speaks
    try:
        speech = speak_clip(_pipeline(), turn, n)
    except IndexError:
        raise ApiError(404, "not_found", detail=f"the reply has no sentence {n}") from None
    except Exception as exc:  # noqa: BLE001 - every voice failed; the text is on the page already
        current_app.logger.exception("clip %d of turn %s could not be synthesised", n, turn_id)
        raise ApiError(
            503, "synthesis_failed", "지금은 목소리를 들려 드리기 어려워요. 답은 글로 읽어 주세요.", detail=str(exc)
        ) from exc
    response = Response(speech.wav, mimetype="audio/wav")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/conversations/<conversation_id>/turns/<turn_id>/audio/<any(user, reply):which>")
def turn_audio(conversation_id: str, turn_id: str, which: str) -> Response:
    turn = _find_turn(conversation_id, turn_id)
    rel_path = turn.user_audio_path if which == "user" else turn.reply_audio_path
    if not rel_path:
        raise ApiError(404, "not_found", detail=f"turn has no {which} audio")
    path = _store().resolve(rel_path)
    if not path.is_file():
        current_app.logger.error("audio file of turn %s is missing: %s", turn.id, path)
        raise ApiError(404, "not_found", detail="file missing on disk")
    response = send_file(path, mimetype=mimetype_for(path), conditional=True, etag=False)
    response.headers["Cache-Control"] = "no-store"
    return response
