"""Request bodies and sign-in redirects stay within limits: deep or huge JSON gets a clear 400 (never a
500), ``next`` with control characters or another host falls back to the list, and the CSV export
says exactly ``text/csv; charset=utf-8``."""

from __future__ import annotations

import dataclasses

import flask_migrate
import pytest
import sqlalchemy as sa

from tests.test_counsellor import converse, login, make_user, signed_in
from tests.test_counsellor import export as export_csv
from webapp import create_app
from webapp.db import AuditEvent, Turn, db
from webapp.limits import json_depth_exceeds


def start(client) -> tuple[str, dict[str, str]]:
    created = client.post("/api/conversations").json
    return created["id"], {"Authorization": f"Bearer {created['token']}"}


def turn_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Turn))


def app_with(settings, **changes):
    app = create_app(dataclasses.replace(settings, **changes))
    app.config.update(TESTING=True)
    with app.app_context():
        flask_migrate.upgrade()
    return app


@pytest.fixture
def roomy_app(settings):
    """The app with a 1 MB JSON limit, so that only the depth limit stands between a deep body and the parser."""
    app = app_with(settings, max_json_bytes=1_000_000)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("where", ["turns", "pronounce"])
def test_json_nested_100000_deep_is_a_clear_400(roomy_app, where):
    client = roomy_app.test_client()
    conversation_id, auth = start(client)
    url = f"/api/conversations/{conversation_id}/turns" if where == "turns" else "/api/practice/pronounce"
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(url, data=body, content_type="application/json", headers=auth)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "json_too_deep"
    assert "다시 보내" in response.json["error"]["message"]
    assert turn_count(roomy_app) == 0


def test_a_huge_deep_body_is_refused_for_its_size_by_default(app, client):
    conversation_id, auth = start(client)
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(
        f"/api/conversations/{conversation_id}/turns", data=body, content_type="application/json", headers=auth
    )
    assert (response.status_code, response.json["error"]["code"]) == (400, "json_too_large")
    assert turn_count(app) == 0


def test_deep_object_inside_the_text_field_is_refused_too(app, client):
    conversation_id, auth = start(client)
    body = '{"text": "안녕", "x": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"
    response = client.post(
        f"/api/conversations/{conversation_id}/turns", data=body, content_type="application/json", headers=auth
    )
    assert (response.status_code, response.json["error"]["code"]) == (400, "json_too_deep")
    assert turn_count(app) == 0


def test_brackets_inside_a_message_are_just_text(app, client):
    conversation_id, auth = start(client)
    text = '[[[[[[[[[[[[[[[[[[[[ 괄호가 많은 \\" 말 {{{{{{{{{{{{{{{{{{{{'
    response = client.post(f"/api/conversations/{conversation_id}/turns", json={"text": text}, headers=auth)
    assert response.status_code == 201, response.json
    assert response.json["transcript"].startswith("[[[[")


def test_json_depth_is_measured_without_recursion():
    assert not json_depth_exceeds("[" * 16 + "]" * 16, 16)
    assert json_depth_exceeds("[" * 17 + "]" * 17, 16)
    assert not json_depth_exceeds('{"a": "[[[[[[\\"[[[[[[["}', 1)
    assert json_depth_exceeds("[" * 1_000_000, 16)


def test_json_over_the_size_limit_is_a_clear_400(settings):
    app = app_with(settings, max_json_bytes=200)
    client = app.test_client()
    conversation_id, auth = start(client)
    url = f"/api/conversations/{conversation_id}/turns"
    response = client.post(url, json={"text": "가" * 300}, headers=auth)
    assert (response.status_code, response.json["error"]["code"]) == (400, "json_too_large")
    assert "너무 길어요" in response.json["error"]["message"]
    assert client.post(url, json={"text": "짧은 말"}, headers=auth).status_code == 201
    assert turn_count(app) == 1
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    "target",
    [
        "/counsellor/%0D%0ASet-Cookie:%20stolen=1",
        "/counsellor/%0Aevil",
        "/%09/evil.example",
        "/counsellor/%7F",
        "//evil.example",
        "https://evil.example/",
    ],
)
def test_next_with_control_characters_or_another_host_falls_back_to_the_list(app, target):
    make_user(app, "kim@example.kr")
    client = app.test_client()
    response = login(client, "kim@example.kr", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/counsellor/"
    assert client.get("/counsellor/").status_code == 200
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions.count("login") == 1


def test_csv_export_says_charset_once(app):
    conversation_id = converse(app, "요즘 너무 힘들어요")
    client = signed_in(app, "kim@example.kr")
    response = export_csv(client, conversation=conversation_id, format="csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    json_export = export_csv(client, conversation=conversation_id, format="json")
    assert json_export.headers["Content-Type"] == "application/json"
