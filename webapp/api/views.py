"""API views: parse the request, run the pipeline, store, answer JSON.

A conversation is opened by the token returned when it was created, sent back either as
``Authorization: Bearer <token>`` or in the HttpOnly ``maum_token`` cookie scoped to that
conversation's path. Without a token the answer is 401; with a token that does not open the
conversation it is 404, as for an id that does not exist.
"""

from __future__ import annotations

import copy
import io
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from flask import Response, current_app, jsonify, request, send_file, url_for

from pipeline.care.conversation import CareState, conversation_risk
from pipeline.speech.voice import reply_sentences, spoken_text
from webapp import alerts, ratelimit
from webapp.api import bp
from webapp.conversations import (
    DuplicateTurn,
    care_state_of,
    find_conversation,
    find_turn_by_key,
    history_of,
    record_turn,
    start_conversation,
    turns_of,
)
from webapp.db import IDEMPOTENCY_KEY_MAX, Conversation, Turn, db
from webapp.errors import ApiError
from webapp.extensions import get_audio_store, get_pipeline, get_settings
from webapp.reply_audio import speak_clip, start_reply_audio
from webapp.storage import mimetype_for, read_audio
from webapp.validation import check_message_text, form_fields, refuse_unexpected_fields

TOKEN_COOKIE = "maum_token"


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
        refuse_unexpected_fields(form_fields(request.form, request.files), {"audio"})
        return "audio", upload.read()
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "보내신 내용을 읽을 수 없어요. 다시 보내 주시겠어요?")
        refuse_unexpected_fields(body, {"text"})
        return "text", check_message_text(body.get("text"), get_pipeline().settings.max_text_chars)
    raise ApiError(415, "unsupported_media_type", detail=f"content type {request.mimetype!r}")


def _audio_url(turn: Turn, which: str) -> str | None:
    path = turn.user_audio_path if which == "user" else turn.reply_audio_path
    if not path:
        return None
    return url_for(".turn_audio", conversation_id=turn.conversation_id, turn_id=turn.id, which=which)


def _turn_json(turn: Turn, *, spoken: str = "", care_state: CareState | None = None) -> dict[str, Any]:
    audio_url = _audio_url(turn, "reply")
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
            "spoken_text": spoken,
            "clips": clips,
        },
        "conversation_risk": {k: v for k, v in conversation_risk(care_state).items() if k != "reasons"},
        "timings_ms": turn.timings_ms,
        "degraded": list(turn.degraded or ()),
    }


def _past_turn_json(turn: Turn) -> dict[str, Any]:
    """A stored turn as the client's page shows it again: what was said and answered, not the analysis."""
    return {
        "turn_id": turn.id,
        "index": turn.index,
        "created_at": turn.created_at.isoformat(),
        "input_kind": turn.input_kind,
        "transcript": turn.user_text,
        "user_audio_url": _audio_url(turn, "user"),
        "emotion": {"label": turn.emotion_label},
        "reply": {
            "text": turn.reply_text,
            "kind": turn.reply_kind,
            "audio_url": _audio_url(turn, "reply"),
            "audio_missing": turn.reply_audio_missing,
        },
    }


_IDEMPOTENCY_KEY = re.compile(rf"^[A-Za-z0-9_-]{{1,{IDEMPOTENCY_KEY_MAX}}}$")


def _new_conversation_response(conversation: Conversation, token: str) -> tuple[Response, int]:
    body: dict[str, Any] = {"id": conversation.id, "token": token}
    if conversation.previous_id is not None:
        body["previous_id"] = conversation.previous_id
    response = jsonify(body)
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


@cache
def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI 3.1 description, ``webapp/api/openapi.json`` (kept true by tests/test_openapi.py)."""
    return json.loads(resources.files("webapp.api").joinpath("openapi.json").read_text(encoding="utf-8"))


def served_document(max_text_chars: int) -> dict[str, Any]:
    """The document as this server applies it: the turn text's ``maxLength`` is ``MAUM_MAX_TEXT_CHARS``."""
    document = copy.deepcopy(openapi_document())
    turn_body = document["paths"]["/api/conversations/{conversation_id}/turns"]["post"]["requestBody"]
    turn_body["content"]["application/json"]["schema"]["properties"]["text"]["maxLength"] = max_text_chars
    return document


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI document of this API, with this deployment's text limit filled in."""
    return jsonify(served_document(get_pipeline().settings.max_text_chars))


@bp.post("/conversations")
def create_conversation() -> tuple[Response, int]:
    """Start a conversation: 201 with ``{"id", "token"}``, the token also set as an HttpOnly cookie."""
    ratelimit.enforce("conversations-ip")
    conversation, token = start_conversation()
    return _new_conversation_response(conversation, token)


@bp.get("/conversations/<conversation_id>")
def get_conversation(conversation_id: str) -> Response:
    """A conversation's turns so far (what the page shows again after a reload); needs its token."""
    conversation = _open_conversation(conversation_id)
    response = jsonify(
        id=conversation.id,
        created_at=conversation.created_at.isoformat(),
        previous_id=conversation.previous_id,
        turns=[_past_turn_json(turn) for turn in turns_of(conversation.id)],
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/conversations/<conversation_id>/next")
def create_next_conversation(conversation_id: str) -> tuple[Response, int]:
    """Start a new conversation linked to this one (the same client, a fresh start); needs the old one's token."""
    # The token of the conversation being left proves the new one belongs to the same client; the
    # cookie scoped to its path comes with this request even after a reload.
    previous = _open_conversation(conversation_id)
    conversation, token = start_conversation(previous)
    return _new_conversation_response(conversation, token)


def _idempotency_key() -> str | None:
    """The turn's ``Idempotency-Key`` header (the page sends a UUID per turn), or None when absent."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not _IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            "요청 표시(Idempotency-Key)가 올바르지 않아요. 페이지를 새로 고친 뒤 다시 보내 주세요.",
            detail=f"Idempotency-Key must be 1-{IDEMPOTENCY_KEY_MAX} characters of A-Z a-z 0-9 - _",
        )
    return key


@bp.post("/conversations/<conversation_id>/turns")
def create_turn(conversation_id: str) -> tuple[Response, int]:
    """Answer one message (multipart ``audio`` or JSON ``{"text"}``) and store the turn: 201 with the turn.

    A retry with the same ``Idempotency-Key`` gets the stored turn again (200); the reply audio
    follows sentence by sentence (``turn_reply_clip``) and as one file later (``turn_audio``).
    """
    ratelimit.enforce("turns-ip")
    conversation_id = _open_conversation(conversation_id).id
    # Only once the token opened it, so that strangers cannot use up a client's conversation.
    ratelimit.enforce("turns-conversation", conversation_id)
    key = _idempotency_key()
    if key is not None:
        earlier = find_turn_by_key(conversation_id, key)
        if earlier is not None:  # a retry whose first attempt was stored: the same answer, nothing stored twice
            return jsonify(_turn_json(earlier, care_state=care_state_of(conversation_id))), 200
    kind, payload = _read_turn_input()
    history = history_of(conversation_id)
    care_state = care_state_of(conversation_id)
    db.session.close()  # no transaction stays open while the models run

    pipeline = get_pipeline()
    # The answer does not wait for speech: the page fetches the reply sentence by sentence.
    if kind == "audio":
        result = pipeline.run_recording(payload, history, synthesize=False, care_state=care_state)
    else:
        result = pipeline.run_text(payload, history, synthesize=False, care_state=care_state)

    settings = get_settings()
    try:
        turn = record_turn(
            get_audio_store(),
            conversation_id,
            result,
            user_audio=payload if kind == "audio" else None,
            backends=pipeline.backend_names(),
            expected_index=len(history),
            idempotency_key=key,
            reply_format=settings.reply_audio_format,
            reply_kbps=settings.reply_opus_kbps,
            reply_clips=reply_sentences(spoken_text(result.reply)),
        )
    except DuplicateTurn as duplicate:  # the first attempt finished meanwhile (a race, another node)
        return jsonify(_turn_json(duplicate.turn, care_state=care_state_of(conversation_id))), 200
    body = _turn_json(turn, spoken=result.reply.spoken_text, care_state=result.care_state)
    start_reply_audio(current_app._get_current_object(), turn)  # type: ignore[attr-defined]
    alerts.after_turn(turn)  # queues on-duty notices when the conversation just became high risk; never raises
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
        speech = speak_clip(get_pipeline(), turn, n)
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
    """A turn's stored recording (``user``) or reply audio (``reply``), decrypted; only for the conversation's token."""
    turn = _find_turn(conversation_id, turn_id)
    rel_path = turn.user_audio_path if which == "user" else turn.reply_audio_path
    if not rel_path:
        raise ApiError(404, "not_found", detail=f"turn has no {which} audio")
    data = read_audio(get_audio_store(), turn.id, rel_path)
    if data is None:
        raise ApiError(404, "not_found", detail="file missing in the audio store")
    response = send_file(io.BytesIO(data), mimetype=mimetype_for(rel_path), conditional=True, etag=False)
    response.headers["Cache-Control"] = "no-store"
    return response
