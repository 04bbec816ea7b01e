"""Alembic environment, run by Flask-Migrate inside the app (``flask --app wsgi db upgrade``).

The tables come from ``webapp.db``; ``render_as_batch`` (set in ``create_app``) makes every
revision work on SQLite as well as PostgreSQL.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config

# The ``flask db`` command has no logging of its own: use alembic.ini's. Inside a running app or
# a test session, keep the logging already set up.
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

migrate_ext = current_app.extensions["migrate"]
target_db = migrate_ext.db


def get_engine():
    return target_db.engine


def get_metadata():
    return target_db.metadata


config.set_main_option("sqlalchemy.url", get_engine().url.render_as_string(hide_password=False).replace("%", "%%"))


def run_migrations_offline():
    """Write the SQL to stdout instead of running it (``flask db upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=get_metadata(),
        literal_binds=True,
        **migrate_ext.configure_args,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run the migrations on a connection of the app's engine."""

    # ``flask db migrate`` with no schema change writes no empty revision.
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(migrate_ext.configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)

    with get_engine().connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a SQLite table by copy, drop and rename; with foreign keys
            # enforced the drop would fail or cascade. SQLite only takes this outside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                connection.commit()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")  # the connection goes back to the pool
                connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
