"""Deleting conversations: one on request (an admin, with a reason), or every expired one (``flask purge``).

Rows go first, in one transaction with the audit row that records the deletion; the audio folder
(on S3: every object under the conversation's key prefix) goes after the commit, so a failure can
leave stray files (logged, and removed by the repair sweep) but never rows without their audio.
Audit rows are never deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from webapp import audit
from webapp.db import Conversation, Note, Turn, db, utcnow
from webapp.storage import AUDIO_DIR, AudioStore

log = logging.getLogger(__name__)


def _stray_paths(conversation_id: str) -> list[str]:
    """Files of the conversation's turns stored outside its own folder (older layouts)."""
    folder = f"{AUDIO_DIR}/{conversation_id}/"
    rows = db.session.execute(
        sa.select(Turn.user_audio_path, Turn.reply_audio_path).where(Turn.conversation_id == conversation_id)
    ).all()
    return [p for row in rows for p in row if p and not p.startswith(folder)]


def _remove(store: AudioStore, conversation_id: str, strays: list[str]) -> int:
    """Remove the conversation's folder (local) or key prefix (S3) and its stray files; return how many went."""
    removed = 0
    try:
        removed += store.delete_folder(f"{AUDIO_DIR}/{conversation_id}")
    except Exception:  # noqa: BLE001 - the rows are gone already; the repair sweep removes what is left
        log.exception("could not remove the audio of %s", conversation_id)
    for rel_path in strays:
        try:
            if store.exists(rel_path):
                store.delete(rel_path)
                removed += 1
        except Exception:  # noqa: BLE001
            log.exception("could not remove %s", rel_path)
    return removed


def delete_conversation(
    store: AudioStore, conversation_id: str, *, action: str, detail: dict[str, Any] | None = None
) -> int:
    """Delete a conversation's turns, notes, row and audio, recording ``action`` in the audit trail.

    Returns:
        How many audio files were removed.

    Raises:
        LookupError: there is no such conversation.
    """
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError(conversation_id)
    strays = _stray_paths(conversation_id)
    turn_count = db.session.scalar(sa.select(sa.func.count()).where(Turn.conversation_id == conversation_id)) or 0
    last_activity = conversation.updated_at
    db.session.expunge(conversation)
    db.session.execute(sa.delete(Note).where(Note.conversation_id == conversation_id))
    db.session.execute(sa.delete(Turn).where(Turn.conversation_id == conversation_id))
    db.session.execute(sa.delete(Conversation).where(Conversation.id == conversation_id))
    audit.record(
        action,
        conversation_id=conversation_id,
        detail={**(detail or {}), "turns": turn_count, "last_activity_at": last_activity.isoformat()},
    )
    db.session.commit()
    return _remove(store, conversation_id, strays)


@dataclass(frozen=True)
class PurgeResult:
    """What a retention purge removed (or, with ``dry_run``, would remove) before ``cutoff``."""

    cutoff: datetime
    conversation_ids: list[str]
    files_removed: int
    dry_run: bool


def expired_ids(retention_days: int, now: datetime | None = None) -> tuple[datetime, list[str]]:
    """``(cutoff, ids)``: conversations whose last activity is older than ``retention_days``."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    ids = db.session.scalars(
        sa.select(Conversation.id).where(Conversation.updated_at < cutoff).order_by(Conversation.updated_at)
    ).all()
    return cutoff, list(ids)


def purge(store: AudioStore, retention_days: int, *, dry_run: bool = False, now: datetime | None = None) -> PurgeResult:
    """Delete every expired conversation with its audio; each deletion is its own audited transaction.

    Raises:
        ValueError: ``retention_days`` is not positive (0 means keep everything; nothing to purge).
    """
    if retention_days <= 0:
        raise ValueError("retention_days must be positive")
    cutoff, ids = expired_ids(retention_days, now)
    files = 0
    if not dry_run:
        for conversation_id in ids:
            files += delete_conversation(
                store, conversation_id, action="purge", detail={"retention_days": retention_days}
            )
    return PurgeResult(cutoff=cutoff, conversation_ids=ids, files_removed=files, dry_run=dry_run)
