"""Sign-in sessions kept on the server, so that ending one ends it everywhere.

A sign-in makes a ``UserSession`` row and puts a random token (256 bits) in Flask's signed session
cookie; only the token's sha256 is stored. On every signed-in request ``check`` finds the row by
that hash and refuses it when it has ended, belongs to another account, or has been idle longer
than the session lifetime (``MAUM_SESSION_MINUTES``). Logout, disabling an account, a new
password and an admin end rows with ``end``/``end_all``: a cookie copied before then no longer
signs anyone in, on any gunicorn worker or machine, because only the database holds the state.

``last_seen_at`` is written at most once per ``touch_interval`` (a minute by default), not on
every request, so a busy counsellor costs one small UPDATE a minute. The idle check therefore
allows that minute of slack; the signed cookie itself still expires exactly on time in the
browser that holds it (Flask refuses a cookie signed longer ago than the lifetime).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from webapp import audit
from webapp.db import User, UserSession, db, new_id, utcnow

#: Why a session ended, with its Korean name for the admin pages.
END_REASONS: Mapping[str, str] = {
    "logout": "로그아웃",
    "idle": "오래 쓰지 않음",
    "admin": "관리자가 끝냄",
    "account_disabled": "계정 사용 중지",
    "new_password": "비밀번호 바뀜",
    "moved": "다른 주소나 브라우저에서 쓰임",
}

#: ``last_seen_at`` is written at most this often.
TOUCH_INTERVAL = timedelta(minutes=1)

_MAX_USER_AGENT = 255
_MAX_IP = 64


def hash_token(token: str) -> str:
    """Return the sha256 hex digest stored in place of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def touch_interval(lifetime: timedelta) -> timedelta:
    """How often ``last_seen_at`` is written: once a minute, more often for very short lifetimes."""
    return min(TOUCH_INTERVAL, lifetime / 4)


def start(user: User, *, ip: str, user_agent: str) -> str:
    """Open a session for ``user`` (added to the database session, not committed); return its token."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        UserSession(
            id=new_id(),
            token_hash=hash_token(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            ip=ip[:_MAX_IP],
            user_agent=user_agent[:_MAX_USER_AGENT],
            end_reason="",
        )
    )
    return token


def find(token: str | None) -> UserSession | None:
    """Return the session row of ``token`` (ended or not), or None."""
    if not token or not isinstance(token, str):
        return None
    return db.session.scalar(sa.select(UserSession).where(UserSession.token_hash == hash_token(token)))


def check(token: str | None, user_id: str, lifetime: timedelta) -> UserSession | None:
    """Return the live session of ``token`` for ``user_id``, or None when it may not sign anyone in.

    A session idle longer than ``lifetime`` (plus the touch interval's slack) is ended here, with
    the reason ``idle``; a live one gets ``last_seen_at`` written when it is older than the interval.
    """
    row = find(token)
    if row is None or row.user_id != user_id or row.ended_at is not None:
        return None
    now = utcnow()
    interval = touch_interval(lifetime)
    if now - row.last_seen_at > lifetime + interval:
        end(row, "idle", at=now)
        db.session.commit()
        return None
    if now - row.last_seen_at >= interval:
        # Conditional UPDATE: several workers touching the same session at once write once.
        db.session.execute(
            sa.update(UserSession)
            .where(UserSession.id == row.id, UserSession.last_seen_at == row.last_seen_at)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return row


def end(row: UserSession, reason: str, *, at: datetime | None = None, record: bool = True) -> bool:
    """End one session (not committed); return False when it had already ended.

    Args:
        row: the session.
        reason: one of ``END_REASONS``.
        at: when; now when None.
        record: add a ``session_end`` audit event (logout has its own event and passes False).
    """
    if reason not in END_REASONS:
        raise ValueError(f"unknown session end reason {reason!r}; expected one of {', '.join(END_REASONS)}")
    if row.ended_at is not None:
        return False
    row.ended_at = at or utcnow()
    row.end_reason = reason
    if record:
        # Ended by someone else (an admin, the command line): the actor is the signed-in user or nobody.
        by_other = reason in {"admin", "account_disabled", "new_password"}
        audit.record(
            "session_end",
            user=None if by_other else row.user,
            detail={"account": row.user.email, "session": row.id[:8], "why": reason},
        )
    return True


def end_all(user: User, reason: str) -> int:
    """End every live session of ``user`` (not committed); return how many were ended."""
    rows = live_sessions(user)
    now = utcnow()
    return sum(end(row, reason, at=now) for row in rows)


def live_sessions(user: User) -> Sequence[UserSession]:
    """``user``'s sessions that have not ended, newest first (an idle one counts until it is checked)."""
    return db.session.scalars(
        sa.select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.created_at.desc())
    ).all()


def recent_sessions(user: User, limit: int = 50) -> Sequence[UserSession]:
    """``user``'s latest sessions, live and ended, newest first."""
    return db.session.scalars(
        sa.select(UserSession)
        .where(UserSession.user_id == user.id)
        .order_by(UserSession.created_at.desc())
        .limit(limit)
    ).all()


def is_idle(row: UserSession, lifetime: timedelta) -> bool:
    """Whether a not-yet-ended session has been idle too long to sign anyone in."""
    return utcnow() - row.last_seen_at > lifetime + touch_interval(lifetime)


def stale_before(cutoff: datetime) -> sa.ColumnElement[bool]:
    """Sessions whose last trace (their end, or their last use when never ended) is older than ``cutoff``."""
    return sa.func.coalesce(UserSession.ended_at, UserSession.last_seen_at) < cutoff


def forget_before(cutoff: datetime, *, dry_run: bool = False) -> int:
    """Delete (and commit) the session rows, with their IP address and browser, stale since ``cutoff``.

    Their endings stay in the audit trail. Returns how many rows were (or, when ``dry_run``, would be) deleted.
    """
    if dry_run:
        return db.session.scalar(sa.select(sa.func.count()).select_from(UserSession).where(stale_before(cutoff))) or 0
    deleted = db.session.execute(sa.delete(UserSession).where(stale_before(cutoff))).rowcount
    db.session.commit()
    return deleted
