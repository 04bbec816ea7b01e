"""Rate limits on the anonymous API, counted in the database so that every worker and node shares them.

Why not Flask-Limiter: its storages are memory (one count per process, so N gunicorn workers on M
machines allow N×M times the limit), Redis, Memcached and MongoDB, none of which a Maum deployment
has. It has one SQL database already, so the counts live there (``rate_limit_counters``).

The algorithm is a fixed window: a request for ``key`` adds one to the row ``(key, start of the
current window)`` with one atomic ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING count`` (SQLite
3.35+ and PostgreSQL alike), and is refused when the count passes the limit. That is one small write
per limited request, race-free across processes, and ``Retry-After`` is exact: the seconds until the
window ends. The price of a fixed window is that a client may get up to twice the limit across a
window boundary; for turns that cost CPU seconds each that is acceptable, and a sliding window would
need a row per request or a second read. Refused requests count too, so hammering does not help.
Rows of finished windows are deleted whenever a new window row is opened.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from flask import request
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from webapp.config import AppSettings
from webapp.db import RateLimitCounter, db
from webapp.errors import ApiError
from webapp.extensions import get_settings

#: Each limited scope and the ``AppSettings`` field holding its limit per window.
SCOPES: Mapping[str, str] = {
    "turns-ip": "rate_turns_per_ip",
    "turns-conversation": "rate_turns_per_conversation",
    "conversations-ip": "rate_conversations_per_ip",
    "practice-ip": "rate_practice_per_ip",
}

_MAX_KEY = 160


@dataclass(frozen=True)
class Verdict:
    """What came of counting one request: ``allowed``, the count so far, and when the window ends."""

    allowed: bool
    count: int
    limit: int
    retry_after_s: int


def _now() -> float:
    return time.time()


def _increment(key: str, window_start: int) -> int:
    """Add one to the counter of ``(key, window_start)`` atomically; return the new count."""
    table = RateLimitCounter.__table__
    dialect = db.session.get_bind().dialect.name
    if dialect in {"sqlite", "postgresql"}:
        insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
        statement = (
            insert.values(key=key, window_start=window_start, count=1)
            .on_conflict_do_update(index_elements=["key", "window_start"], set_={"count": table.c.count + 1})
            .returning(table.c.count)
        )
        return int(db.session.execute(statement).scalar_one())
    # Any other database: update, else insert; a lost insert race becomes an update.
    where = (table.c.key == key) & (table.c.window_start == window_start)
    for _ in range(3):
        if db.session.execute(sa.update(table).where(where).values(count=table.c.count + 1)).rowcount:
            return int(db.session.execute(sa.select(table.c.count).where(where)).scalar_one())
        try:
            with db.session.begin_nested():
                db.session.execute(sa.insert(table).values(key=key, window_start=window_start, count=1))
            return 1
        except IntegrityError:
            continue
    raise RuntimeError(f"could not count a request for {key!r}")


def hit(key: str, limit: int, window_s: int) -> Verdict:
    """Count one request for ``key`` in the current window and commit; allowed while the count ≤ ``limit``."""
    now = _now()
    window_start = int(now // window_s) * window_s
    key = key[:_MAX_KEY]
    try:
        count = _increment(key, window_start)
        if count == 1:  # a new window opened: forget the finished ones
            db.session.execute(sa.delete(RateLimitCounter).where(RateLimitCounter.window_start < window_start))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    retry_after = max(1, math.ceil(window_start + window_s - now))
    return Verdict(allowed=count <= limit, count=count, limit=limit, retry_after_s=retry_after)


def rate_limited_message(retry_after_s: int) -> str:
    """The Korean message of a 429: when to try again, and where help is right now."""
    wait = f"{retry_after_s}초" if retry_after_s < 60 else f"{math.ceil(retry_after_s / 60)}분"
    return (
        f"요청이 너무 많아서 잠시 쉬어 가야 해요. {wait}쯤 뒤에 다시 보내 주세요. "
        "급한 도움이 필요하면 109(자살예방상담전화)나 112/119로 바로 연락해 주세요."
    )


def enforce(scope: str, subject: str | None = None) -> None:
    """Count this request against ``scope`` for ``subject`` (the client's address when None).

    Raises:
        ApiError: 429 ``rate_limited`` with ``Retry-After`` when the limit is used up.
    """
    settings: AppSettings = get_settings()
    limit = getattr(settings, SCOPES[scope])
    if limit <= 0:
        return
    # remote_addr is the client's address once ProxyFix (MAUM_TRUSTED_PROXIES) has read X-Forwarded-For.
    subject = subject if subject is not None else (request.remote_addr or "-")
    verdict = hit(f"{scope}:{subject}", limit, settings.rate_limit_window_s)
    if not verdict.allowed:
        raise ApiError(
            429,
            "rate_limited",
            rate_limited_message(verdict.retry_after_s),
            detail=f"{scope} {subject}: {verdict.count} > {limit}",
            headers={"Retry-After": str(verdict.retry_after_s)},
        )
