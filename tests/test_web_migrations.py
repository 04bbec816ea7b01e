"""Alembic migrations build exactly the tables in ``webapp/db.py``, and undo them."""

from __future__ import annotations

import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.databases import database_url  # noqa: F401  (every app test runs on SQLite and PostgreSQL)
from webapp.db import db


def test_migrations_build_exactly_the_tables_in_webapp_db(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_downgrade_to_nothing_and_back(app):
    with app.app_context():
        flask_migrate.downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        flask_migrate.upgrade()
        assert {"conversations", "turns"} <= set(sa.inspect(db.engine).get_table_names())
