"""Health checks: ``/healthz`` (process up) and ``/readyz`` (models loaded, degraded backends named)."""

from __future__ import annotations

import dataclasses

from tests.databases import database_url  # noqa: F401  (every app test runs on SQLite and PostgreSQL)
from tests.web import fetch


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_loads_every_fake_backend(app, client):
    pipeline = app.extensions["maum.pipeline"]
    assert not pipeline.loaded, "create_app must not load models"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ready",
        "backends": {"transcriber": "fake", "classifier": "fake", "responder": "fake", "synthesizer": "fake"},
    }
    assert pipeline.loaded


def test_readyz_reports_a_backend_that_cannot_load_as_degraded(settings, migrated_app):
    broken = dataclasses.replace(settings, pipeline=dataclasses.replace(settings.pipeline, synthesizer="no-such-tts"))
    response = fetch(migrated_app(broken).test_client(), "/readyz")
    assert response.status_code == 200, "turns are still answered: a load balancer must keep sending clients"
    assert response.json["status"] == "degraded"
    assert response.json["degraded"] == {"synthesize": "backend_unknown"}
