"""Shared fixtures: ``settings`` (fake pipeline, SQLite in a temporary folder), ``app``, ``client``, ``runner``.

Every test's pipelines share one Kiwi (``one_kiwi_for_the_suite``).

Test modules that must also pass on PostgreSQL override ``database_url`` with the one in
``tests/databases.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import flask_migrate
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

import pipeline.turn
from pipeline.settings import Settings
from pipeline.text.morphology import shared_kiwi
from webapp import create_app
from webapp.config import AppSettings
from webapp.db import db
from webapp.reply_audio import wait_for_reply_audio

#: A fixed audio key (``MAUM_AUDIO_KEYS``), so tests on PostgreSQL (several nodes' setting) start.
TEST_AUDIO_KEYS = "test1:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
FAKE_PIPELINE = Settings(transcriber="fake", classifier="fake", responder="fake", synthesizer="fake")


@pytest.fixture(scope="session", autouse=True)
def one_kiwi_for_the_suite() -> Iterator[None]:
    """Every ``Pipeline`` of the suite reads morphology with the one shared Kiwi, not a Kiwi of its own.

    A Kiwi takes seconds and ~100 MB to build and the suite makes hundreds of pipelines (module
    fixtures among them, hence the session scope); that a pipeline builds exactly one and lends it
    to every user is checked in ``tests/test_turn.py``.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline.turn, "load_kiwi", shared_kiwi)
        yield


@pytest.fixture
def database_url() -> str:
    """Empty: SQLite in the instance folder."""
    return ""


@pytest.fixture
def settings(tmp_path, database_url: str) -> AppSettings:
    """App settings on the fake backends, with the instance folder (and its SQLite file) in ``tmp_path``."""
    return AppSettings(
        instance_path=str(tmp_path / "instance"),
        database_url=database_url,
        secret_key="test-secret-key",
        audio_keys=TEST_AUDIO_KEYS,
        pipeline=FAKE_PIPELINE,
    )


@pytest.fixture
def app(settings: AppSettings) -> Iterator[Flask]:
    """The app, its database created by the Alembic migrations (as in production)."""
    app = create_app(settings)
    app.config.update(TESTING=True)
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    # Reply audio is assembled in background threads after a turn's answer: let them finish before
    # the database goes (the next PostgreSQL test drops the schema they write to).
    wait_for_reply_audio()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def migrated_app():
    """Make apps of their own (for settings other than the fixture's), tables created, engines closed after."""
    made = []

    def make(settings: AppSettings):
        app = create_app(settings)
        with app.app_context():
            flask_migrate.upgrade()
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()
