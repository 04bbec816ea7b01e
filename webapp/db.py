"""SQL tables: conversations and their turns (SQLAlchemy 2 typed mappings).

Every schema change is an Alembic revision in ``migrations/versions`` (``flask --app wsgi db
migrate -m "..."``, then read and tidy it). Constraint names follow ``NAMING_CONVENTION`` so that
Alembic's batch mode can alter them on SQLite.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

INPUT_KINDS = ("audio", "text")


def new_id() -> str:
    """Make a random id: 32 lowercase hex digits (uuid4)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL keeps the zone (``timestamptz``); SQLite keeps none, so values are stored as UTC
    and given their zone back when read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use an aware one (datetime.now(UTC))")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
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
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    turns: Mapped[list[Turn]] = relationship(
        back_populates="conversation", order_by="Turn.index", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Conversation {self.id}>"


class Turn(db.Model):
    """One client message and Maum's answer, with what every stage found.

    Audio paths are relative to the instance folder; each file's sha256 is kept beside it.
    """

    __tablename__ = "turns"
    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "index"),
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

    conversation: Mapped[Conversation] = relationship(back_populates="turns")

    def __repr__(self) -> str:
        return f"<Turn {self.id} #{self.index} of {self.conversation_id}>"
