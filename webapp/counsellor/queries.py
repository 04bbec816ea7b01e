"""What the conversation list shows: per-conversation summaries, filters, ordering and pages.

A conversation's risk is the highest risk of its turns; its dominant emotion is the label most of
its turns carry (ties go to the one seen last); it counts as reviewed when a counsellor marked it
after the client's last turn. Unreviewed high-risk conversations come first, then the most
recently active. Conversations without any turn (opened, never spoken in) are not listed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline.types import EMOTION_LABELS, RISK_LEVELS
from webapp.counsellor.display import KST
from webapp.counsellor.summary import snippet
from webapp.db import Conversation, Turn, db

PER_PAGE = 25

_RISK_RANK = {level: rank for rank, level in enumerate(RISK_LEVELS)}  # none 0, watch 1, high 2
_HIGH = _RISK_RANK["high"]


@dataclass(frozen=True)
class Filters:
    """The list's filters; empty values filter nothing. Dates are days in Korea time, both included."""

    date_from: date | None = None
    date_to: date | None = None
    risk: str = ""  # a RISK_LEVELS value: the conversation's highest
    emotion: str = ""  # an EMOTION_LABELS value: the dominant one
    reviewed: str = ""  # "yes" or "no"
    q: str = ""  # words in what the client said or Maum answered, or the start of a conversation id

    def __post_init__(self) -> None:
        if self.risk and self.risk not in RISK_LEVELS:
            raise ValueError(f"unknown risk level {self.risk!r}")
        if self.emotion and self.emotion not in EMOTION_LABELS:
            raise ValueError(f"unknown emotion {self.emotion!r}")
        if self.reviewed not in ("", "yes", "no"):
            raise ValueError(f"reviewed must be yes or no, not {self.reviewed!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Filters:
        """Build from form data or a query string (dates as ``YYYY-MM-DD``).

        Raises:
            ValueError: a value is not one the list knows.
        """

        def day(name: str) -> date | None:
            raw = values.get(name) or None
            if raw is None or isinstance(raw, date):
                return raw
            return date.fromisoformat(str(raw))

        return cls(
            date_from=day("date_from"),
            date_to=day("date_to"),
            risk=str(values.get("risk") or ""),
            emotion=str(values.get("emotion") or ""),
            reviewed=str(values.get("reviewed") or ""),
            q=str(values.get("q") or "").strip(),
        )

    def as_args(self) -> dict[str, str]:
        """The filters that are set, as query-string values."""
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(self).items() if v}

    def __bool__(self) -> bool:
        return bool(self.as_args())


def _turn_stats() -> Any:
    risk_rank = sa.case(*((Turn.risk_level == level, rank) for level, rank in _RISK_RANK.items()), else_=0)
    return (
        sa.select(
            Turn.conversation_id.label("conversation_id"),
            sa.func.count().label("turn_count"),
            sa.func.max(risk_rank).label("risk_rank"),
            sa.func.sum(sa.case((Turn.risk_level == "high", 1), else_=0)).label("high_count"),
        )
        .group_by(Turn.conversation_id)
        .subquery("turn_stats")
    )


def _dominant_emotion() -> Any:
    counts = (
        sa.select(
            Turn.conversation_id.label("conversation_id"),
            Turn.emotion_label.label("emotion"),
            sa.func.count().label("n"),
            sa.func.max(Turn.index).label("last_index"),
        )
        .group_by(Turn.conversation_id, Turn.emotion_label)
        .subquery("emotion_counts")
    )
    ranked = sa.select(
        counts.c.conversation_id,
        counts.c.emotion,
        sa.func.row_number()
        .over(partition_by=counts.c.conversation_id, order_by=(counts.c.n.desc(), counts.c.last_index.desc()))
        .label("rank"),
    ).subquery("emotion_ranked")
    return sa.select(ranked.c.conversation_id, ranked.c.emotion).where(ranked.c.rank == 1).subquery("dominant")


def is_reviewed() -> sa.ColumnElement[bool]:
    """True for conversations marked reviewed after the client's last turn."""
    return sa.and_(Conversation.reviewed_at.is_not(None), Conversation.reviewed_at >= Conversation.updated_at)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=KST)


def summaries(filters: Filters) -> sa.Select[Any]:
    """Rows ``(Conversation, turn_count, risk_rank, high_count, emotion, reviewed, pinned)``, in list order."""
    stats = _turn_stats()
    dominant = _dominant_emotion()
    reviewed = is_reviewed()
    pinned = sa.case((sa.and_(stats.c.risk_rank == _HIGH, sa.not_(reviewed)), 1), else_=0)
    query = (
        sa.select(
            Conversation,
            stats.c.turn_count,
            stats.c.risk_rank,
            stats.c.high_count,
            dominant.c.emotion,
            sa.case((reviewed, True), else_=False).label("reviewed"),
            pinned.label("pinned"),
        )
        .join(stats, stats.c.conversation_id == Conversation.id)
        .outerjoin(dominant, dominant.c.conversation_id == Conversation.id)
    )
    if filters.date_from or filters.date_to:
        in_range = sa.select(Turn.conversation_id)
        if filters.date_from:
            in_range = in_range.where(Turn.created_at >= _day_start(filters.date_from))
        if filters.date_to:
            in_range = in_range.where(Turn.created_at < _day_start(filters.date_to + timedelta(days=1)))
        query = query.where(Conversation.id.in_(in_range))
    if filters.risk:
        query = query.where(stats.c.risk_rank == _RISK_RANK[filters.risk])
    if filters.emotion:
        query = query.where(dominant.c.emotion == filters.emotion)
    if filters.reviewed:
        query = query.where(reviewed if filters.reviewed == "yes" else sa.not_(reviewed))
    if filters.q:
        # icontains(autoescape=True) escapes LIKE's % and _ so they match themselves.
        said = sa.select(Turn.conversation_id).where(
            sa.or_(
                Turn.user_text.icontains(filters.q, autoescape=True),
                Turn.reply_text.icontains(filters.q, autoescape=True),
            )
        )
        query = query.where(
            sa.or_(Conversation.id.in_(said), Conversation.id.startswith(filters.q.lower(), autoescape=True))
        )
    return query.order_by(pinned.desc(), Conversation.updated_at.desc(), Conversation.id)


@dataclass(frozen=True)
class Summary:
    """One row of the counsellor list: a conversation with its turn count, risk, main emotion and review state."""

    conversation: Conversation
    turn_count: int
    risk_level: str
    high_count: int
    emotion: str | None
    reviewed: bool
    pinned: bool
    snippet: Snippet | None = None


@dataclass(frozen=True)
class Snippet:
    """The first words of the client turn a list row shows: the riskiest one, else the latest."""

    turn_number: int  # 1-based
    risk_level: str
    text: str


@dataclass(frozen=True)
class Page:
    """One page of ``Summary`` rows, with the page number, the number of pages and the total count."""

    items: list[Summary]
    page: int
    pages: int
    total: int


def _summary(row: Any) -> Summary:
    conversation, turn_count, risk_rank, high_count, emotion, reviewed, pinned = row
    return Summary(
        conversation=conversation,
        turn_count=int(turn_count),
        risk_level=RISK_LEVELS[int(risk_rank or 0)],
        high_count=int(high_count or 0),
        emotion=emotion,
        reviewed=bool(reviewed),
        pinned=bool(pinned),
    )


def list_page(filters: Filters, page: int = 1, per_page: int | None = None) -> Page:
    """One page of the list (pages count from 1; a page past the end is empty); ``PER_PAGE`` rows by default."""
    per_page = per_page or PER_PAGE
    query = summaries(filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    page = max(1, page)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    items = [_summary(r) for r in rows]
    found = snippets([item.conversation.id for item in items])
    items = [replace(item, snippet=found.get(item.conversation.id)) for item in items]
    return Page(items=items, page=page, pages=max(1, math.ceil(total / per_page)), total=total)


def snippets(conversation_ids: list[str]) -> dict[str, Snippet]:
    """For each conversation, the snippet of its riskiest client turn (the latest of equals), else its latest."""
    if not conversation_ids:
        return {}
    risk_rank = sa.case(*((Turn.risk_level == level, rank) for level, rank in _RISK_RANK.items()), else_=0)
    ranked = (
        sa.select(
            Turn.conversation_id,
            Turn.index,
            Turn.risk_level,
            Turn.user_text,
            sa.func.row_number()
            .over(partition_by=Turn.conversation_id, order_by=(risk_rank.desc(), Turn.index.desc()))
            .label("rank"),
        )
        .where(Turn.conversation_id.in_(conversation_ids))
        .subquery("snippet_ranked")
    )
    rows = db.session.execute(
        sa.select(ranked.c.conversation_id, ranked.c.index, ranked.c.risk_level, ranked.c.user_text).where(
            ranked.c.rank == 1
        )
    ).all()
    return {
        cid: Snippet(turn_number=index + 1, risk_level=level, text=snippet(text)) for cid, index, level, text in rows
    }


def summary_of(conversation_id: str) -> Summary | None:
    """The list row of one conversation (None when it has no turn or does not exist)."""
    row = db.session.execute(summaries(Filters()).where(Conversation.id == conversation_id)).first()
    return _summary(row) if row is not None else None


def matching_ids(filters: Filters) -> list[str]:
    """Ids of every conversation the filters match, in list order."""
    query = summaries(filters).with_only_columns(Conversation.id)
    return list(db.session.scalars(query))


def alert_count() -> int:
    """Unreviewed conversations with a high-risk turn: what a counsellor must look at first."""
    stats = _turn_stats()
    query = (
        sa.select(sa.func.count())
        .select_from(Conversation)
        .join(stats, stats.c.conversation_id == Conversation.id)
        .where(stats.c.risk_rank == _HIGH, sa.not_(is_reviewed()))
    )
    return db.session.scalar(query) or 0
