"""Maum's web app: ``create_app`` builds a Flask app from ``AppSettings``.

Nothing happens at import time. ``create_app`` reads the environment only when it is given no
settings, and it loads no model: the pipeline builds its backends on first use in each gunicorn
worker (so never serve with ``--preload``).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from pipeline.turn import Pipeline
from webapp import errors, extensions, limits, security
from webapp.audio_format import REPLY_FORMATS
from webapp.config import REPO_ROOT, AppSettings
from webapp.db import configure_engine, db, migrate
from webapp.storage import build_audio_store

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def create_app(settings: AppSettings | None = None) -> Flask:
    """Build the app.

    Args:
        settings: what to run with; ``AppSettings.from_env()`` when None.

    Returns:
        The app, with its settings, pipeline (not yet loaded) and audio store in place
        (``webapp/extensions.py``).
    """
    settings = settings if settings is not None else AppSettings.from_env()
    _configure_logging()

    instance_path = settings.resolved_instance_path()
    instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)  # client audio and the secret key live here
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(REPO_ROOT / "templates"),
        static_folder=str(REPO_ROOT / "static"),
    )
    database_url = settings.sqlalchemy_url(instance_path)
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(instance_path),
        SQLALCHEMY_DATABASE_URI=database_url,
        SQLALCHEMY_ENGINE_OPTIONS=settings.engine_options(database_url),
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined] - Korean stays readable in responses
    app.json.sort_keys = False  # type: ignore[attr-defined] - emotion scores keep the label order

    if settings.reply_audio_format not in REPLY_FORMATS:
        raise ValueError(
            f"MAUM_REPLY_AUDIO_FORMAT={settings.reply_audio_format!r}; choose one of {sorted(REPLY_FORMATS)}"
        )
    store = build_audio_store(settings, instance_path, settings.resolved_audio_keyring(instance_path))
    extensions.install(app, settings, Pipeline(settings.pipeline), store)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(REPO_ROOT / "migrations"), render_as_batch=True)
    with app.app_context():
        configure_engine(db.engine)

    errors.register(app)
    security.register(app)
    limits.register(app)

    if settings.trusted_proxies > 0:
        # Client address (audit trail) and scheme (secure cookies) as the reverse proxies saw them.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]

    from webapp import alerts, auth
    from webapp.admin import bp as admin_bp
    from webapp.admin.cli import audio_cli, purge_command, repair_command, users_cli
    from webapp.api import bp as api_bp
    from webapp.chat import bp as chat_bp
    from webapp.counsellor import bp as counsellor_bp
    from webapp.counsellor import display
    from webapp.health import bp as health_bp
    from webapp.practice import bp as practice_bp

    auth.init_app(app, settings)  # sessions, sign-in, CSRF; registers the login page
    auth.csrf.exempt(api_bp)  # the chat API is token-authenticated, never cookie-authenticated
    display.register(app)
    app.register_blueprint(health_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(chat_bp)
    app.register_blueprint(practice_bp)
    app.register_blueprint(counsellor_bp)
    app.register_blueprint(admin_bp)
    app.cli.add_command(users_cli)
    app.cli.add_command(purge_command)
    alerts.register(app)  # `flask alerts`, and the on-duty alert sender when alerts are configured
    app.cli.add_command(repair_command)
    app.cli.add_command(audio_cli)
    return app


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is when a record arrives (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _configure_logging() -> None:
    """Send the app's and the pipeline's logs to stdout, once per process."""
    for name in ("webapp", "pipeline"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
            handler = _StdoutHandler()
            handler.setFormatter(logging.Formatter(LOG_FORMAT))
            logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
