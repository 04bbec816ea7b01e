"""Run a test module on SQLite and on a real PostgreSQL server.

In a module: ``from tests.databases import database_url  # noqa: F401`` overrides the conftest
fixture, so every test that uses the app runs once per database. PostgreSQL is the server that
``make test`` starts (``scripts/test_postgres.sh``) and names in ``MAUM_TEST_POSTGRES_URL``; each test
gets its schema emptied first.
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa


def fresh_postgres_database() -> str:
    """The test PostgreSQL database, emptied: every table, type and the Alembic version dropped."""
    url = os.environ.get("MAUM_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip("MAUM_TEST_POSTGRES_URL is not set (make test starts PostgreSQL and sets it)")
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:
    """Empty (SQLite in the instance folder) or the emptied PostgreSQL test database."""
    return fresh_postgres_database() if request.param == "postgresql" else ""
