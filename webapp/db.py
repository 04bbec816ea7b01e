"""SQL tables: conversations and their turns, counsellor accounts, notes and the audit trail (SQLAlchemy 2).

Every schema change is an Alembic revision in ``migrations/versions`` (``flask --app wsgi db
migrate -m "..."``, then read and tidy it). Constraint names follow ``NAMING_CONVENTION`` so that
Alembic's batch mode can alter them on SQLite.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry, relationship

if TYPE_CHECKING:
    from pipeline.types import TurnResult
    from webapp.storage import StoredFile

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

INPUT_KINDS = ("audio", "text")

#: Counsellor account roles; an admin may do everything a counsellor can, plus the admin pages.
ROLES = ("counsellor", "admin")

#: Longest generator fallback reason kept on a turn (``rejected: ...`` lists reasons).
REPLY_FALLBACK_MAX = 120


def new_id() -> str:
    """Make a random id: 32 lowercase hex digits (uuid4)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (what every timestamp column stores)."""
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL keeps the zone (``timestamptz``); SQLite keeps none, so values are stored as UTC
    and given their zone back when read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Refuse a naive datetime and store an aware one in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use an aware one (datetime.now(UTC))")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Read a stored timestamp back as an aware UTC datetime (SQLite keeps no zone)."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """The declarative base of every table: constraint naming convention and column types by annotation."""

    # One registry object (not class attributes) because Flask-SQLAlchemy subclasses this base.
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            datetime: UTCDateTime(),
            dict[str, Any]: sa.JSON(),
            list[str]: sa.JSON(),
        },
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


def configure_engine(engine: sa.Engine) -> None:
    """Make SQLite behave like a server database: enforce foreign keys, let readers and a writer overlap."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")  # several gunicorn workers share one file
        finally:
            cursor.close()


class Conversation(db.Model):
    """One client's conversation. Only a hash of its access token is kept."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(sa.String(64))  # sha256 hex of the client's token
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)  # the client's last activity
    # The last time a counsellor marked it reviewed, and who. A review older than ``updated_at``
    # means the client spoke again since. Set with a Core update that keeps ``updated_at``.
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[str | None] = mapped_column(sa.String(32), sa.ForeignKey("users.id"))
    # The conversation the same client had open before choosing "새 대화" (proved with its token).
    previous_id: Mapped[str | None] = mapped_column(
        sa.String(32), sa.ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    # The conversation's care state (pipeline.care.conversation.CareState.as_json): its risk level,
    # screening questions and answers, remembered facts. Written with each turn, in its transaction.
    care_state: Mapped[dict[str, Any] | None]

    turns: Mapped[list[Turn]] = relationship(
        back_populates="conversation", order_by="Turn.index", cascade="all, delete-orphan"
    )
    notes: Mapped[list[Note]] = relationship(
        back_populates="conversation", order_by="Note.created_at", cascade="all, delete-orphan"
    )
    reviewed_by: Mapped[User | None] = relationship()
    # Conversations started from this one with "새 대화", oldest first (usually one). The database
    # clears their ``previous_id`` when this one is deleted.
    next_conversations: Mapped[list[Conversation]] = relationship(
        foreign_keys=[previous_id], order_by="Conversation.created_at", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Conversation {self.id}>"


#: Longest accepted ``Idempotency-Key`` header.
IDEMPOTENCY_KEY_MAX = 64


class Turn(db.Model):
    """One client message and Maum's answer, with what every stage found.

    Audio paths are relative to the audio store (``audio/<conversation>/<file>``); each file's
    sha256 (of the plaintext, before encryption) is kept beside it.
    """

    __tablename__ = "turns"
    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "index"),
        # A retried POST (another node, a race) finds the turn its first attempt stored.
        sa.UniqueConstraint("conversation_id", "idempotency_key"),
        sa.CheckConstraint("input_kind IN ('audio', 'text')", name="input_kind"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("conversations.id"), index=True)
    index: Mapped[int]  # 0, 1, 2, ... within the conversation
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    input_kind: Mapped[str] = mapped_column(sa.String(8))  # one of INPUT_KINDS
    user_text: Mapped[str] = mapped_column(sa.Text)  # the transcript, or the typed text
    reply_text: Mapped[str] = mapped_column(sa.Text)
    reply_kind: Mapped[str] = mapped_column(sa.String(16))
    reply_id: Mapped[str] = mapped_column(sa.String(64), default="")
    emotion_label: Mapped[str] = mapped_column(sa.String(16))
    emotion_scores: Mapped[dict[str, Any]]  # label -> probability, all seven labels
    risk_level: Mapped[str] = mapped_column(sa.String(8), index=True)
    risk_reasons: Mapped[list[str]]
    risk_categories: Mapped[list[str]]
    backends: Mapped[dict[str, Any]]  # stage -> backend name
    timings_ms: Mapped[dict[str, Any]]  # stage -> milliseconds
    user_audio_path: Mapped[str | None] = mapped_column(sa.String(255))
    user_audio_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    reply_audio_path: Mapped[str | None] = mapped_column(sa.String(255))
    reply_audio_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    reply_audio_missing: Mapped[bool] = mapped_column(default=False)  # synthesis failed; the text was still sent
    synthesis_error: Mapped[str] = mapped_column(sa.String(64), default="")
    # Why a generating responder (kogpt2) gave the curated reply instead ("" when it did not).
    reply_fallback: Mapped[str] = mapped_column(sa.String(REPLY_FALLBACK_MAX), default="")
    # Stages that failed after risk was assessed and were replaced by a fallback (classify, respond, synthesize).
    degraded: Mapped[list[str]] = mapped_column(default=list)
    # The client's Idempotency-Key header (a UUID per turn), or None for clients that send none.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(IDEMPOTENCY_KEY_MAX))
    # The sentences the reply is spoken in, one audio clip each (its spoken_text when it has one).
    reply_clips: Mapped[list[str]] = mapped_column(default=list)

    conversation: Mapped[Conversation] = relationship(back_populates="turns")

    def __repr__(self) -> str:
        return f"<Turn {self.id} #{self.index} of {self.conversation_id}>"

    @classmethod
    def from_result(
        cls,
        result: TurnResult,
        *,
        id: str,
        conversation_id: str,
        index: int,
        user_file: StoredFile | None,
        reply_file: StoredFile | None,
        backends: Mapping[str, str],
        synthesis_error: str = "",
        degraded: Sequence[str] = (),
        reply_clips: Sequence[str] = (),
        idempotency_key: str | None = None,
        typed: bool = False,
    ) -> Turn:
        """The row for what the pipeline produced for one message (not yet added to a session).

        Args:
            result: the pipeline's answer (transcript, emotion, risk, reply).
            id: the new turn's id (its audio file names start with it).
            conversation_id: an existing conversation.
            index: the turn's place in the conversation.
            user_file: the stored upload; None for a typed message.
            reply_file: the stored reply audio; None when there is none (yet).
            backends: stage → backend name that produced the result.
            synthesis_error: why there is no reply audio (kept only when ``reply_file`` is None).
            degraded: stages replaced by a fallback.
            reply_clips: the sentences the reply will be spoken in, when its audio comes later;
                the turn then does not count as missing its reply audio.
            idempotency_key: the client's ``Idempotency-Key``.
            typed: the message was typed rather than spoken (``input_kind`` ``text``).
        """
        return cls(
            id=id,
            conversation_id=conversation_id,
            index=index,
            created_at=utcnow(),
            input_kind="text" if typed else "audio",
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
            synthesis_error=synthesis_error if reply_file is None else "",
            reply_fallback=result.reply.fallback_reason[:REPLY_FALLBACK_MAX],
            degraded=list(degraded),
            idempotency_key=idempotency_key,
        )


class User(db.Model):
    """A counsellor or admin account (made with ``flask users create``; disabled, never deleted).

    ``session_token`` is part of the id kept in the login session: changing it (new password,
    account disabled) signs the account out everywhere.
    """

    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint("role IN ('counsellor', 'admin')", name="role"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # stored lowercased
    password_hash: Mapped[str] = mapped_column(sa.String(255))  # werkzeug.security (scrypt)
    role: Mapped[str] = mapped_column(sa.String(16))  # one of ROLES
    active: Mapped[bool] = mapped_column(default=True)
    session_token: Mapped[str] = mapped_column(sa.String(32), default=new_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    # What Flask-Login asks of a user object.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        """Whether the account may sign in (a disabled account is kept, never deleted)."""
        return self.active

    @property
    def is_admin(self) -> bool:
        """Whether the account may use the admin pages."""
        return self.role == "admin"

    def get_id(self) -> str:
        """Return what the login session keeps: the id and the current session token."""
        return f"{self.id}:{self.session_token}"

    def __repr__(self) -> str:
        return f"<User {self.email} ({self.role})>"


class UserSession(db.Model):
    """One sign-in of a counsellor or admin, kept on the server (``webapp/sessions.py``).

    The browser's signed session cookie carries a random token; only its sha256 is stored. A row
    whose ``ended_at`` is set no longer signs anyone in, wherever its cookie was copied to.
    """

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # sha256 hex of the cookie's token
    user_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)  # updated at most once a minute
    ip: Mapped[str] = mapped_column(sa.String(64), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="")
    ended_at: Mapped[datetime | None] = mapped_column(index=True)
    end_reason: Mapped[str] = mapped_column(sa.String(16), default="")  # one of webapp.sessions.END_REASONS

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<UserSession {self.id} of {self.user_id}>"


class RateLimitCounter(db.Model):
    """Requests counted in one fixed window for one rate-limit key (``webapp/ratelimit.py``).

    The key is ``scope:subject`` (e.g. ``turns-ip:203.0.113.7``); ``window_start`` is in whole
    seconds since the epoch. Old windows are deleted as new ones open.
    """

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(sa.String(160), primary_key=True)
    window_start: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<RateLimitCounter {self.key}@{self.window_start}={self.count}>"


class Note(db.Model):
    """A counsellor's note on a conversation. Append-only: there is no way to edit or delete one."""

    __tablename__ = "notes"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("conversations.id"), index=True)
    author_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    body: Mapped[str] = mapped_column(sa.Text)

    conversation: Mapped[Conversation] = relationship(back_populates="notes")
    author: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Note {self.id} on {self.conversation_id}>"


class AuditEvent(db.Model):
    """One entry of the audit trail: who did what to which conversation, when and from where.

    Rows are only ever added. ``conversation_id`` is deliberately not a foreign key: the record
    of a conversation's deletion outlives the conversation.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(sa.String(32), sa.ForeignKey("users.id"), index=True)
    user_email: Mapped[str] = mapped_column(sa.String(254), default="")  # also the address typed at a failed login
    action: Mapped[str] = mapped_column(sa.String(32), index=True)  # one of webapp.audit.ACTIONS
    conversation_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # reason, filters, counts, ...
    ip: Mapped[str] = mapped_column(sa.String(64), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="")

    user: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action}>"


#: How an alert notice reaches the on-duty counsellors, and where a notice stands.
ALERT_CHANNELS = ("email", "webhook")
ALERT_STATUSES = ("pending", "sending", "sent", "failed")


class AlertNotice(db.Model):
    """One notice to the on-duty counsellors that a conversation became high risk (``webapp/alerts.py``).

    An outbox row: written right after the turn that raised the alert, then sent (and retried) by a
    background thread. It holds no client words: only the link, the level and the categories.
    ``attempts`` counts claims, so that two workers never send the same try twice.
    ``conversation_id`` is not a foreign key: the record of a notice outlives the conversation.
    """

    __tablename__ = "alert_notices"
    __table_args__ = (
        sa.CheckConstraint("channel IN ('email', 'webhook')", name="channel"),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    turn_index: Mapped[int]  # 0-based index of the turn that raised the alert
    channel: Mapped[str] = mapped_column(sa.String(16))  # one of ALERT_CHANNELS
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(sa.String(8))
    categories: Mapped[list[str]]
    link: Mapped[str] = mapped_column(sa.String(512))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # one of ALERT_STATUSES
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str] = mapped_column(sa.String(255), default="")
    sent_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<AlertNotice {self.id} {self.channel} {self.status}>"


class PracticeAttempt(db.Model):
    """One reading of a practice sentence and its pronunciation scores (``webapp/practice``).

    The learner is anonymous: only a hash of the token in their ``maum_learner`` cookie is kept.
    The recording itself is not stored; ``result`` keeps the per-syllable verdicts.
    """

    __tablename__ = "practice_attempts"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    learner_hash: Mapped[str] = mapped_column(sa.String(64), index=True)  # sha256 hex of the learner token
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sentence_id: Mapped[str] = mapped_column(sa.String(16), default="")  # a practice set sentence, or "" if typed
    text: Mapped[str] = mapped_column(sa.Text)  # the target sentence
    heard_text: Mapped[str] = mapped_column(sa.Text, default="")
    accuracy: Mapped[float]
    completeness: Mapped[float]
    fluency: Mapped[float]
    overall: Mapped[float]
    source: Mapped[str] = mapped_column(sa.String(16), default="transcript")  # transcript or phonemes
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # syllable verdicts, timing

    def __repr__(self) -> str:
        return f"<PracticeAttempt {self.id} {self.overall:.0f}>"


@sa.event.listens_for(Note, "before_update")
@sa.event.listens_for(AuditEvent, "before_update")
def _refuse_update(mapper: Any, connection: Any, target: Any) -> None:
    raise ValueError(f"{type(target).__name__} rows are append-only")
