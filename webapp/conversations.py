"""Conversations and their turns: access tokens, history, and storing a turn with its audio.

Web-framework-free apart from the database session, so the API and (later) the counsellor
pages share it. Failures are domain errors (``webapp/domain_errors.py``); ``webapp/errors.py``
maps them to HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import NoReturn

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from pipeline.care.conversation import CareState
from pipeline.types import HistoryTurn, TurnResult
from webapp.audio_format import encode_reply
from webapp.db import Conversation, Turn, db, new_id, utcnow
from webapp.domain_errors import TurnConflict
from webapp.storage import AudioStore, audio_extension

log = logging.getLogger(__name__)

#: ``Turn.synthesis_error`` when the reply was spoken but its file could not be stored.
AUDIO_STORE_FAILED = "audio_store_failed"

# Compared against when the conversation does not exist, so that unknown ids and wrong tokens
# take the same time and give the same answer.
_NO_HASH = "0" * 64


def new_token() -> str:
    """Make a fresh client token (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the sha256 hex digest stored in place of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_conversation(previous: Conversation | None = None) -> tuple[Conversation, str]:
    """Create a conversation; return it and its token (which is not stored anywhere).

    Args:
        previous: the conversation the same client had open before, already opened with its
            token; the new one is linked to it so that a counsellor can follow the client.
    """
    token = new_token()
    conversation = Conversation(
        id=new_id(), token_hash=hash_token(token), previous_id=previous.id if previous is not None else None
    )
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


def turns_of(conversation_id: str) -> list[Turn]:
    """Return every turn of a conversation, oldest first (what the client's page shows again after a reload)."""
    return list(db.session.scalars(sa.select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.index)))


def care_state_of(conversation_id: str) -> CareState:
    """The conversation's care state (risk across turns, screening, facts); a fresh one if none is stored."""
    raw = db.session.scalar(sa.select(Conversation.care_state).where(Conversation.id == conversation_id))
    return CareState.from_json(raw)


def record_turn(
    store: AudioStore,
    conversation_id: str,
    result: TurnResult,
    *,
    user_audio: bytes | None,
    backends: Mapping[str, str],
    expected_index: int | None = None,
    idempotency_key: str | None = None,
    reply_format: str = "wav",
    reply_kbps: int = 24,
    reply_clips: Sequence[str] = (),
) -> Turn:
    """Store a turn and its audio files so that a crash leaves either no turn or a complete one.

    The files are put durably under their final names first, then the row is committed
    (``PendingFiles`` in ``webapp/storage.py`` holds the order). A turn whose speech synthesis
    failed, or whose audio the store refused (a full disk), is still stored: marked
    ``reply_audio_missing``, and ``store_audio`` added to ``degraded`` when a file could not be written.
    The conversation's new care state is written in the same transaction as the row.

    Args:
        store: where audio files go.
        conversation_id: an existing conversation.
        result: what the pipeline produced.
        user_audio: the upload exactly as received, or None for a typed message.
        backends: stage → backend name that produced the result.
        expected_index: the index this turn must get (the number of turns the pipeline saw);
            when another turn was stored meanwhile, the care state it was built on is stale.
        idempotency_key: the client's ``Idempotency-Key``; unique per conversation.
        reply_format: how the reply audio is stored (``opus`` or ``wav``, see ``webapp/audio_format.py``).
        reply_kbps: Opus bitrate.
        reply_clips: the sentences the reply will be spoken in, when its audio comes later
            (``attach_reply_audio``); the turn is then not marked ``reply_audio_missing``.

    Raises:
        TurnConflict: another turn of the same conversation was stored at the same moment.
        DuplicateTurn: a turn with ``idempotency_key`` was stored meanwhile (another node, a race);
            it carries that turn, and this turn's files are removed.
    """
    turn_id = new_id()
    pending = store.begin()
    user_file = (
        pending.add(conversation_id, f"{turn_id}-user{audio_extension(user_audio)}", user_audio)
        if user_audio is not None
        else None
    )
    reply_file = None
    if result.speech is not None:
        reply_audio, reply_ext = encode_reply(result.speech.wav, reply_format, reply_kbps)
        reply_file = pending.add(conversation_id, f"{turn_id}-reply{reply_ext}", reply_audio)
    synthesis_error = result.synthesis_error
    if result.speech is not None and reply_file is None:
        synthesis_error = AUDIO_STORE_FAILED
    degraded = list(result.degraded) + (["store_audio"] if pending.failed else [])
    try:
        next_index = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.max(Turn.index) + 1, 0)).where(Turn.conversation_id == conversation_id)
        )
        if expected_index is not None and next_index != expected_index:
            earlier = find_turn_by_key(conversation_id, idempotency_key) if idempotency_key else None
            if earlier is not None:  # the same turn, stored meanwhile by a retry that raced this one
                raise DuplicateTurn(earlier)
            raise TurnConflict(f"turn {expected_index} of {conversation_id} was taken meanwhile")
        turn = Turn.from_result(
            result,
            id=turn_id,
            conversation_id=conversation_id,
            index=next_index,
            user_file=user_file,
            reply_file=reply_file,
            backends=backends,
            synthesis_error=synthesis_error,
            degraded=degraded,
            reply_clips=reply_clips,
            idempotency_key=idempotency_key,
            typed=user_audio is None,
        )
        db.session.add(turn)
        values: dict = {"updated_at": utcnow()}
        if result.care_state is not None:
            values["care_state"] = result.care_state.as_json()
        db.session.execute(sa.update(Conversation).where(Conversation.id == conversation_id).values(**values))
    except Exception as exc:
        db.session.rollback()
        pending.discard()
        if isinstance(exc, IntegrityError):  # the UPDATE autoflushed the new row
            _raise_conflict(conversation_id, idempotency_key, exc)
        raise
    try:
        pending.commit_with(db.session)
    except IntegrityError as exc:
        _raise_conflict(conversation_id, idempotency_key, exc)
    return turn


def _raise_conflict(conversation_id: str, idempotency_key: str | None, exc: IntegrityError) -> NoReturn:
    """Turn a unique-constraint violation into ``DuplicateTurn`` (same key stored) or ``TurnConflict`` (same index)."""
    earlier = find_turn_by_key(conversation_id, idempotency_key) if idempotency_key else None
    if earlier is not None:
        raise DuplicateTurn(earlier) from exc
    raise TurnConflict(f"turn of {conversation_id}: {exc.orig}") from exc


class DuplicateTurn(Exception):
    """A turn with the same idempotency key is already stored; ``turn`` is that one."""

    def __init__(self, turn: Turn) -> None:
        super().__init__(turn.id)
        self.turn = turn


def find_turn_by_key(conversation_id: str, idempotency_key: str) -> Turn | None:
    """The turn a client stored earlier with this ``Idempotency-Key``, if any."""
    return db.session.scalar(
        sa.select(Turn).where(Turn.conversation_id == conversation_id, Turn.idempotency_key == idempotency_key)
    )


def attach_reply_audio(
    store: AudioStore,
    turn_id: str,
    wav: bytes | None,
    error: str = "",
    *,
    reply_format: str = "wav",
    reply_kbps: int = 24,
) -> None:
    """Give a stored turn its complete reply audio, made after the answer was sent.

    The file follows the same crash-consistent order as a turn's (``PendingFiles``: the file
    durably under its final name, then the row); a failure leaves the turn marked
    ``reply_audio_missing``. ``wav=None`` marks the reply audio as missing, with ``error`` as the reason.
    """
    turn = db.session.get(Turn, turn_id)
    if turn is None:  # the conversation was deleted meanwhile
        return
    if wav is None:
        turn.reply_audio_missing, turn.synthesis_error = True, error[:64] or "synthesis_failed"
        turn.degraded = [*(turn.degraded or []), "synthesize"]  # the counsellor sees what degraded
        db.session.commit()
        return
    pending = store.begin()
    audio, ext = encode_reply(wav, reply_format, reply_kbps)
    stored = pending.add(turn.conversation_id, f"{turn_id}-reply{ext}", audio)
    if stored is None:  # the store refused the file (a full disk): keep the turn, say so
        turn.reply_audio_missing, turn.synthesis_error = True, AUDIO_STORE_FAILED
        turn.degraded = [*(turn.degraded or []), "store_audio"]
        db.session.commit()
        return
    turn.reply_audio_path, turn.reply_audio_sha256 = stored.path, stored.sha256
    turn.reply_audio_missing, turn.synthesis_error = False, ""
    pending.commit_with(db.session)
