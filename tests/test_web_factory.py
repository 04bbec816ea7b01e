"""The app factory: what ``create_app`` sets up, and what it leaves for later (models)."""

from __future__ import annotations

import os
import stat

from webapp import create_app
from webapp.config import AppSettings


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
