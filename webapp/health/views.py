"""``/healthz``: the process answers. ``/readyz``: models loaded, database usable, schema at head.

``/healthz`` never touches the database or a model, so it answers at once even when the
database hangs. ``/readyz`` loads the pipeline's backends on its first call (pointing a readiness
probe at it warms a fresh worker before clients reach it) and checks the database within
``MAUM_READY_TIMEOUT_MS``:

- ``ready`` (200): every backend loaded, the database answers, its schema is at the Alembic head,
  and a write can be made (in a transaction that is rolled back).
- ``degraded`` (200): the database is fine but some backends failed to load; turns are still
  answered and stored (risk and crisis replies need no model) and name what degraded.
- ``unavailable`` (503): the database cannot be used, so no turn can be kept; ``database.problem``
  says why (``unreachable``, ``schema_missing``, ``schema_not_at_head``, ``not_writable``).
"""

from __future__ import annotations

import logging
from functools import cache

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Response, jsonify

from webapp.config import REPO_ROOT
from webapp.db import db
from webapp.errors import DATABASE_UNAVAILABLE, is_database_unavailable, is_schema_missing
from webapp.extensions import get_pipeline, get_settings
from webapp.health import bp

log = logging.getLogger(__name__)

MIGRATIONS_DIR = REPO_ROOT / "migrations"


@cache
def migration_heads() -> frozenset[str]:
    """The Alembic head revision(s) this code expects the database to be at."""
    return frozenset(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def check_database(timeout_ms: int, busy_timeout_ms: int) -> str:
    """Check the database the way a turn uses it; return ``""`` when usable, else the problem.

    Args:
        timeout_ms: how long each statement may wait (SQLite busy timeout, PostgreSQL
            ``statement_timeout``) during the check.
        busy_timeout_ms: the SQLite busy timeout to put back on the pooled connection after it.
    """
    problem = "unreachable"
    with db.engine.connect() as connection:
        dialect = connection.dialect.name
        try:
            if dialect == "sqlite":
                connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(timeout_ms)}")
            elif dialect == "postgresql":
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            versions = frozenset(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))
            if versions != migration_heads():
                log.error(
                    "not ready: database schema at %s, this code expects %s",
                    sorted(versions),
                    sorted(migration_heads()),
                )
                return "schema_not_at_head"
            problem = "not_writable"
            # Takes the write lock (SQLite) or a row lock (PostgreSQL) and fails on a read-only database.
            connection.execute(sa.text("UPDATE alembic_version SET version_num = version_num"))
            return ""
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            problem = "schema_missing" if is_schema_missing(exc) else problem
            log.error("not ready: database check failed (%s): %s", problem, exc)
            return problem
        finally:
            connection.rollback()
            if dialect == "sqlite":
                connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: 200 whenever the process answers (loads nothing, touches no database)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response | tuple[Response, int]:
    """Readiness: loads the models and checks the database.

    200 ``ready``, or 200 ``degraded`` naming backends that failed to load (turns are still
    answered, so a load balancer keeps sending clients); 503 when the database cannot be reached.
    """
    settings = get_settings()
    pipeline = get_pipeline()
    failed = pipeline.load_report()  # stage verb -> error code; logged by the pipeline
    try:
        problem = check_database(settings.ready_timeout_ms, settings.sqlite_busy_timeout_ms)
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        log.error("not ready: the database does not answer: %s", exc)
        problem = "unreachable"
    backends = pipeline.backend_names()
    if problem:
        code, message = DATABASE_UNAVAILABLE
        body = {"status": "unavailable", "error": {"code": code, "message": message}, "database": problem}
        if failed:
            body["degraded"] = failed
        return jsonify(body), 503
    if failed:
        return jsonify(status="degraded", backends=backends, degraded=failed)
    return jsonify(status="ready", backends=backends)
