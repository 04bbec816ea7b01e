"""App settings come from the environment only when asked, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import Settings
from webapp.config import AppSettings


def test_settings_come_from_the_environment_only_when_asked():
    env = {
        "DATABASE_URL": "postgres://maum:pw@db.example/maum",
        "MAUM_MAX_UPLOAD_BYTES": "1000",
        "MAUM_TRANSCRIBER": "fake",
    }
    settings = AppSettings.from_env(env)
    assert settings.max_upload_bytes == 1000
    assert settings.pipeline == Settings(transcriber="fake")
    assert settings.sqlalchemy_url(Path("/x")) == "postgresql+psycopg://maum:pw@db.example/maum"
    own = AppSettings.from_env({**env, "MAUM_DATABASE_URL": "postgresql://a@b/c"})
    assert own.sqlalchemy_url(Path("/x")) == "postgresql+psycopg://a@b/c"
    assert AppSettings.from_env({}).sqlalchemy_url(Path("/x")) == "sqlite:////x/maum.sqlite3"
    with pytest.raises(ValueError, match="MAUM_MAX_UPLOAD_BYTES"):
        AppSettings.from_env({"MAUM_MAX_UPLOAD_BYTES": "lots"})
