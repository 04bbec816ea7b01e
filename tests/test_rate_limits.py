"""The anonymous API's rate limits: a burst gets 429 with Retry-After and a Korean message, refused
requests store nothing, the count is shared by app instances on one database, and the client address
honours MAUM_TRUSTED_PROXIES. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import io

import flask_migrate
import pytest
import sqlalchemy as sa

from tests.databases import database_url  # noqa: F401  (every test here runs on SQLite and PostgreSQL)
from tests.test_counsellor import wav
from webapp import create_app, ratelimit
from webapp.db import Conversation, PracticeAttempt, RateLimitCounter, Turn, db


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """The limiter's clock, stopped 30 s into a window (a slow run must not cross into the next one)."""
    now = [1_000_050.0]
    monkeypatch.setattr(ratelimit, "_now", lambda: now[0])
    return now


@pytest.fixture
def make_app(settings, clock):
    """Build apps on the test database with some settings changed; all are disposed of afterwards."""
    apps = []

    def make(**changes):
        app = create_app(dataclasses.replace(settings, **changes))
        app.config.update(TESTING=True)
        if not apps:
            with app.app_context():
                flask_migrate.upgrade()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def start(client, **kwargs) -> tuple[str, dict[str, str]]:
    response = client.post("/api/conversations", **kwargs)
    assert response.status_code == 201, response.json
    return response.json["id"], {"Authorization": f"Bearer {response.json['token']}"}


def say(client, conversation_id, headers, text="오늘 좀 힘들었어요", **kwargs):
    return client.post(f"/api/conversations/{conversation_id}/turns", json={"text": text}, headers=headers, **kwargs)


def test_a_burst_of_30_turns_gets_10_through_then_429_with_retry_after(make_app):
    app = make_app(rate_turns_per_ip=10, rate_turns_per_conversation=0)
    client = app.test_client()
    conversation_id, auth = start(client)
    statuses = []
    for i in range(30):
        response = say(client, conversation_id, auth, text=f"{i}번째 말")
        statuses.append(response.status_code)
        if response.status_code == 429:
            error = response.json["error"]
            assert error["code"] == "rate_limited"
            assert "다시 보내 주세요" in error["message"] and "109" in error["message"], "crisis numbers even here"
            assert response.headers["Retry-After"] == "30", "the seconds left in the window"
    assert statuses == [201] * 10 + [429] * 20
    assert count(app, Turn) == 10, "nothing stored for the refused turns"


def test_two_app_instances_on_one_database_share_the_count(make_app):
    first = make_app(rate_turns_per_ip=10, rate_turns_per_conversation=0)
    second = make_app(rate_turns_per_ip=10, rate_turns_per_conversation=0)
    clients = [first.test_client(), second.test_client()]
    conversation_id, auth = start(clients[0])
    statuses = [say(clients[i % 2], conversation_id, auth).status_code for i in range(14)]
    assert statuses.count(201) == 10 and statuses[10:] == [429] * 4
    assert count(first, Turn) == 10


def test_one_conversation_is_limited_on_its_own_and_only_with_its_token(make_app):
    app = make_app(rate_turns_per_ip=100, rate_turns_per_conversation=3)
    client = app.test_client()
    busy, busy_auth = start(client)
    other, other_auth = start(client)
    for _ in range(5):
        assert say(client, busy, {"Authorization": "Bearer not-the-token"}).status_code == 404
    assert [say(client, busy, busy_auth).status_code for _ in range(4)] == [201, 201, 201, 429], (
        "strangers without the token did not use up the conversation's turns"
    )
    assert say(client, other, other_auth).status_code == 201, "another conversation is not affected"


def test_addresses_are_counted_apart_and_x_forwarded_for_only_behind_a_trusted_proxy(make_app):
    direct = make_app(rate_conversations_per_ip=2)
    client = direct.test_client()
    for address in ("198.51.100.1", "198.51.100.2"):
        for _ in range(2):
            start(client, environ_base={"REMOTE_ADDR": address})
    refused = client.post("/api/conversations", environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert refused.status_code == 429
    spoofed = client.post(
        "/api/conversations", headers={"X-Forwarded-For": "203.0.113.9"}, environ_base={"REMOTE_ADDR": "198.51.100.2"}
    )
    assert spoofed.status_code == 429, "without MAUM_TRUSTED_PROXIES the header changes nothing"
    assert count(direct, Conversation) == 4

    proxied = make_app(rate_conversations_per_ip=2, trusted_proxies=1).test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for client_address in ("203.0.113.1", "203.0.113.2"):
        for _ in range(2):
            start(proxied, headers={"X-Forwarded-For": client_address}, environ_base=proxy)
    again = proxied.post("/api/conversations", headers={"X-Forwarded-For": "203.0.113.1"}, environ_base=proxy)
    assert again.status_code == 429, "each client behind the proxy has its own count"


def test_the_limit_opens_again_in_the_next_window(make_app, clock):
    clock[0] = 1_000_000.0
    app = make_app(rate_conversations_per_ip=1, rate_limit_window_s=60)
    client = app.test_client()
    start(client)
    refused = client.post("/api/conversations")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "20"  # 1,000,000 s is 40 s into a window
    clock[0] += 20
    start(client)
    with app.app_context():
        windows = db.session.scalars(sa.select(RateLimitCounter.window_start)).all()
    assert windows == [1_000_020], "the finished window's row was deleted"


def test_practice_scoring_and_speech_are_limited(make_app):
    app = make_app(rate_practice_per_ip=2)
    client = app.test_client()
    # Requests that fail fast (no sentence) still count, so a flood cannot get past the limit.
    assert client.get("/api/practice/speech", query_string={"text": ""}).status_code == 400
    assert (
        client.post("/api/practice/attempts", data={"text": ""}, content_type="multipart/form-data").status_code == 400
    )
    refused = client.post(
        "/api/practice/attempts",
        data={"audio": (io.BytesIO(wav()), "a.wav"), "text": "국물이 맛있어요"},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert refused.json["error"]["code"] == "rate_limited"
    assert client.get("/api/practice/speech", query_string={"text": "국물"}).status_code == 429
    assert count(app, PracticeAttempt) == 0


def test_a_limit_of_zero_means_no_limit(make_app):
    app = make_app(rate_conversations_per_ip=0)
    client = app.test_client()
    for _ in range(15):
        start(client)
    assert count(app, RateLimitCounter) == 0, "nothing counted when there is no limit"
