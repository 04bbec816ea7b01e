"""Typed access to what the app factory keeps in ``app.extensions``.

``create_app`` stores one settings object, one pipeline and one audio store per app (per worker
process); views, services and commands read them here instead of spelling the keys out, so a
type checker knows what they get. The keys stay public (tests swap a pipeline in by key).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:
    from pipeline.turn import Pipeline
    from webapp.config import AppSettings
    from webapp.storage import AudioStore

#: ``app.extensions`` keys.
SETTINGS = "maum.settings"
PIPELINE = "maum.pipeline"
AUDIO_STORE = "maum.audio_store"
ALERTS = "maum.alerts"  # the alert dispatcher, made on first use (``webapp/alerts.py``)
SWEPT = "maum.swept"  # set once this process ran the start-up repair sweep (``webapp/repair.py``)


def _app(app: Flask | None) -> Flask:
    return app if app is not None else current_app._get_current_object()  # type: ignore[attr-defined]


def get_settings(app: Flask | None = None) -> AppSettings:
    """The app's settings (``app`` or, by default, the app of the current request or context)."""
    return _app(app).extensions[SETTINGS]


def get_pipeline(app: Flask | None = None) -> Pipeline:
    """The app's pipeline (loads its models on first use, per worker)."""
    return _app(app).extensions[PIPELINE]


def get_audio_store(app: Flask | None = None) -> AudioStore:
    """Where the app keeps conversation audio (instance folder or object storage, encrypted)."""
    return _app(app).extensions[AUDIO_STORE]


def install(app: Flask, settings: AppSettings, pipeline: Pipeline, store: AudioStore) -> None:
    """Put the settings, pipeline and audio store of a new app in place (``create_app`` calls it)."""
    app.extensions[SETTINGS] = settings
    app.extensions[PIPELINE] = pipeline
    app.extensions[AUDIO_STORE] = store
