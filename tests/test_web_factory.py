"""The app factory: what ``create_app`` sets up, and what it leaves for later (models)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from webapp import create_app
from webapp.config import AppSettings

KEYS = re.compile(r'"maum\.(settings|pipeline|audio_store|alerts|swept)"')


def test_create_app_loads_no_model_even_with_the_real_backends(tmp_path):
    app = create_app(AppSettings(instance_path=str(tmp_path), secret_key="k"))
    assert app.extensions["maum.pipeline"].backend_names()["transcriber"] == "whisper"
    assert not app.extensions["maum.pipeline"].loaded


def test_a_secret_key_is_generated_once_and_kept_private(tmp_path):
    settings = AppSettings(instance_path=str(tmp_path / "instance"))
    first = create_app(settings)
    second = create_app(settings)
    key_file = tmp_path / "instance" / "secret_key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(first.config["SECRET_KEY"]) >= 32
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_the_factory_puts_settings_pipeline_and_audio_store_behind_typed_accessors(settings):
    from webapp.extensions import get_audio_store, get_pipeline, get_settings

    app = create_app(settings)
    assert get_settings(app) is settings
    assert get_pipeline(app).backend_names()["synthesizer"] == "fake" and not get_pipeline(app).loaded
    with app.app_context():
        assert get_audio_store() is get_audio_store(app) and get_settings() is settings


def test_only_the_extensions_module_spells_the_extension_keys():
    """A misspelt key would fail only at run time, in the one view that used it."""
    repo = Path(__file__).resolve().parents[1]
    spelled = [
        str(path.relative_to(repo))
        for path in sorted((repo / "webapp").rglob("*.py"))
        if path.name != "extensions.py" and KEYS.search(path.read_text(encoding="utf-8"))
    ]
    assert spelled == []
