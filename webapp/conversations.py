"""Conversations and their turns: access tokens, history, and storing a turn with its audio.

Web-framework-free apart from the database session, so the API and (later) the counsellor
pages share it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from pipeline.types import HistoryTurn, TurnResult
from webapp.db import REPLY_FALLBACK_MAX, Conversation, Turn, db, new_id, utcnow
from webapp.errors import ApiError
from webapp.storage import AudioStore, audio_extension

log = logging.getLogger(__name__)

# Compared against when the conversation does not exist, so that unknown ids and wrong tokens
# take the same time and give the same answer.
_NO_HASH = "0" * 64


def new_token() -> str:
    """Make a fresh client token (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the sha256 hex digest stored in place of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_conversation() -> tuple[Conversation, str]:
    """Create a conversation; return it and its token (which is not stored anywhere)."""
    token = new_token()
    conversation = Conversation(id=new_id(), token_hash=hash_token(token))
    db.session.add(conversation)
    db.session.commit()
    return conversation, token


def find_conversation(conversation_id: str, token: str) -> Conversation | None:
    """Return the conversation ``token`` opens, or None for an unknown id and a wrong token alike."""
    conversation = db.session.get(Conversation, conversation_id)
    expected = conversation.token_hash if conversation is not None else _NO_HASH
    matches = hmac.compare_digest(hash_token(token), expected)
    return conversation if conversation is not None and matches else None


def history_of(conversation_id: str) -> list[HistoryTurn]:
    """Return the earlier turns of a conversation, oldest first, as the responder sees them."""
    rows = db.session.execute(
        sa.select(Turn.user_text, Turn.reply_text, Turn.emotion_label, Turn.reply_id)
        .where(Turn.conversation_id == conversation_id)
        .order_by(Turn.index)
    ).all()
    return [HistoryTurn(user_text=u, reply_text=r, emotion=e, reply_id=rid) for u, r, e, rid in rows]


def record_turn(
    store: AudioStore,
    conversation_id: str,
    result: TurnResult,
    *,
    user_audio: bytes | None,
    backends: Mapping[str, str],
    reply_clips: Sequence[str] = (),
) -> Turn:
    """Store a turn and its audio files all-or-nothing.

    The files are written under temporary names, the row is committed, then the files are
    renamed into place. Any failure removes the files and leaves no row. A turn whose speech
    synthesis failed is still stored, marked ``reply_audio_missing``.

    Args:
        store: where audio files go.
        conversation_id: an existing conversation.
        result: what the pipeline produced.
        user_audio: the upload exactly as received, or None for a typed message.
        backends: stage → backend name that produced the result.
        reply_clips: the sentences the reply will be spoken in, when its audio comes later
            (``attach_reply_audio``); the turn is then not marked ``reply_audio_missing``.

    Raises:
        ApiError: 409 when another turn of the same conversation was stored at the same moment.
    """
    turn_id = new_id()
    pending = store.begin()
    try:
        user_file = (
            pending.add(conversation_id, f"{turn_id}-user{audio_extension(user_audio)}", user_audio)
            if user_audio is not None
            else None
        )
        reply_file = (
            pending.add(conversation_id, f"{turn_id}-reply.wav", result.speech.wav)
            if result.speech is not None
            else None
        )
        next_index = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.max(Turn.index) + 1, 0)).where(Turn.conversation_id == conversation_id)
        )
        turn = Turn(
            id=turn_id,
            conversation_id=conversation_id,
            index=next_index,
            created_at=utcnow(),
            input_kind="audio" if user_audio is not None else "text",
            user_text=result.transcript.text,
            reply_text=result.reply.text,
            reply_kind=result.reply.kind,
            reply_id=result.reply.reply_id,
            emotion_label=result.emotion.label,
            emotion_scores={label: float(score) for label, score in result.emotion.scores.items()},
            risk_level=result.risk.level,
            risk_reasons=list(result.risk.reasons),
            risk_categories=list(result.risk.categories),
            backends=dict(backends),
            timings_ms=dict(result.timings_ms),
            user_audio_path=user_file.path if user_file else None,
            user_audio_sha256=user_file.sha256 if user_file else None,
            reply_audio_path=reply_file.path if reply_file else None,
            reply_audio_sha256=reply_file.sha256 if reply_file else None,
            reply_audio_missing=reply_file is None and not reply_clips,
            reply_clips=list(reply_clips),
            synthesis_error=result.synthesis_error if reply_file is None else "",
            reply_fallback=result.reply.fallback_reason[:REPLY_FALLBACK_MAX],
        )
        db.session.add(turn)
        db.session.execute(
            sa.update(Conversation).where(Conversation.id == conversation_id).values(updated_at=utcnow())
        )
        db.session.commit()
    except BaseException as exc:
        db.session.rollback()
        pending.discard()
        if isinstance(exc, IntegrityError):
            raise ApiError(409, "conflict", detail=f"turn of {conversation_id}: {exc.orig}") from exc
        raise
    try:
        pending.publish()
    except BaseException:
        # The row is committed but its files could not be put in place: take the row back.
        log.exception("could not move the audio of turn %s into place; removing the turn", turn_id)
        pending.discard()
        db.session.execute(sa.delete(Turn).where(Turn.id == turn_id))
        db.session.commit()
        raise
    return turn


def attach_reply_audio(store: AudioStore, turn_id: str, wav: bytes | None, error: str = "") -> None:
    """Give a stored turn its complete reply audio, made after the answer was sent.

    The file is written under a temporary name, the row updated, then the file renamed into
    place; a failure leaves the turn as it was. ``wav=None`` marks the reply audio as missing,
    with ``error`` as the reason.
    """
    turn = db.session.get(Turn, turn_id)
    if turn is None:  # the conversation was deleted meanwhile
        return
    if wav is None:
        turn.reply_audio_missing, turn.synthesis_error = True, error[:64] or "synthesis_failed"
        db.session.commit()
        return
    pending = store.begin()
    try:
        stored = pending.add(turn.conversation_id, f"{turn_id}-reply.wav", wav)
        turn.reply_audio_path, turn.reply_audio_sha256 = stored.path, stored.sha256
        turn.reply_audio_missing, turn.synthesis_error = False, ""
        db.session.commit()
    except BaseException:
        db.session.rollback()
        pending.discard()
        raise
    try:
        pending.publish()
    except BaseException:
        log.exception("could not move the reply audio of turn %s into place", turn_id)
        pending.discard()
        turn.reply_audio_path = turn.reply_audio_sha256 = None
        turn.reply_audio_missing, turn.synthesis_error = True, "storage_failed"
        db.session.commit()
        raise
