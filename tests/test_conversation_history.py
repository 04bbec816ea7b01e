"""Conversations that survive a reload and link to the next one: the history API, "새 대화", the counsellor's links.

The chat page keeps only the conversation's id in the browser; the token travels in the HttpOnly
cookie scoped to the conversation's path, so these tests use the cookie the way a browser does as
well as the bearer token.
"""

from __future__ import annotations

import dataclasses
import io

import jsonschema
import pytest
import sqlalchemy as sa
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.databases import database_url  # noqa: F401  (every test here runs on SQLite and PostgreSQL)
from tests.test_counsellor import csrf_from, signed_in, wav
from webapp import create_app
from webapp.api.views import openapi_document
from webapp.db import Conversation, db
from webapp.reply_audio import wait_for_reply_audio

DOC = openapi_document()
REGISTRY = Registry().with_resource("urn:maum-openapi", Resource(contents=DOC, specification=DRAFT202012))


def assert_matches(instance: dict, name: str) -> None:
    ref = {"$ref": f"urn:maum-openapi#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(ref, registry=REGISTRY).validate(instance)


def start(client) -> tuple[str, str]:
    response = client.post("/api/conversations")
    assert response.status_code == 201
    return response.json["id"], response.json["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def say(client, conversation_id: str, text: str, token: str | None = None):
    headers = bearer(token) if token else {}
    response = client.post(f"/api/conversations/{conversation_id}/turns", json={"text": text}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json["error"]["code"] == code


# --- history ---------------------------------------------------------------------------------


def test_a_reloaded_page_gets_every_turn_back_with_the_cookie_alone(client):
    conversation_id, _ = start(client)  # the test client keeps the HttpOnly cookie, as a browser does
    first = say(client, conversation_id, "요즘 잠이 안 와요")
    crisis = say(client, conversation_id, "죽고 싶어요")

    response = client.get(f"/api/conversations/{conversation_id}")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert_matches(body, "ConversationHistory")
    assert body["id"] == conversation_id and body["previous_id"] is None
    assert [t["transcript"] for t in body["turns"]] == ["요즘 잠이 안 와요", "죽고 싶어요"]
    assert [t["index"] for t in body["turns"]] == [0, 1]
    assert [t["turn_id"] for t in body["turns"]] == [first["turn_id"], crisis["turn_id"]]
    assert body["turns"][1]["reply"]["kind"] == "crisis"
    assert body["turns"][1]["reply"]["text"] == crisis["reply"]["text"] and "109" in crisis["reply"]["text"]
    assert body["turns"][0]["reply"]["audio_url"] == first["reply"]["audio_url"]
    assert body["turns"][0]["user_audio_url"] is None, "a typed message has no recording"
    # What the page shows again is what was said, not the analysis of it.
    assert "risk" not in body["turns"][0] and "scores" not in body["turns"][0]["emotion"]


def test_history_audio_urls_play_for_the_same_client(client):
    conversation_id, token = start(client)
    client.post(
        f"/api/conversations/{conversation_id}/turns",
        data={"audio": (io.BytesIO(wav()), "recording.wav")},
        headers=bearer(token),
        content_type="multipart/form-data",
    )
    wait_for_reply_audio()  # the complete reply file is assembled after the answer
    [turn] = client.get(f"/api/conversations/{conversation_id}", headers=bearer(token)).json["turns"]
    assert turn["input_kind"] == "audio"
    for url in (turn["user_audio_url"], turn["reply"]["audio_url"]):
        audio = client.get(url)
        assert audio.status_code == 200 and len(audio.get_data()) > 1000
        audio.close()


def test_history_of_a_new_conversation_is_empty(client):
    conversation_id, token = start(client)
    response = client.get(f"/api/conversations/{conversation_id}", headers=bearer(token))
    assert response.status_code == 200 and response.json["turns"] == []


def test_history_with_a_wrong_token_is_404_and_without_one_401(app):
    owner = app.test_client()
    conversation_id, _ = start(owner)
    say(owner, conversation_id, "비밀 이야기예요")
    stranger = app.test_client()
    _, other_token = start(stranger)

    wrong = stranger.get(f"/api/conversations/{conversation_id}", headers=bearer(other_token))
    assert_error(wrong, 404, "not_found")
    assert "비밀" not in wrong.get_data(as_text=True)
    assert_error(app.test_client().get(f"/api/conversations/{conversation_id}"), 401, "unauthorized")
    assert_error(stranger.get("/api/conversations/" + "0" * 32, headers=bearer(other_token)), 404, "not_found")


# --- "새 대화" -----------------------------------------------------------------------------------


def test_a_new_conversation_from_the_same_browser_is_linked_to_the_one_before(app, client):
    first_id, _ = start(client)
    say(client, first_id, "죽고 싶어요")

    response = client.post(f"/api/conversations/{first_id}/next")  # proved by the first one's cookie

    assert response.status_code == 201
    assert_matches(response.json, "NewConversation")
    second_id, second_token = response.json["id"], response.json["token"]
    assert second_id != first_id and response.json["previous_id"] == first_id
    cookie = client.get_cookie("maum_token", path=f"/api/conversations/{second_id}")
    assert cookie is not None and cookie.value == second_token and cookie.http_only
    # The new conversation is empty and works with its own cookie; the old one still opens with its own.
    assert client.get(f"/api/conversations/{second_id}").json["turns"] == []
    say(client, second_id, "다시 왔어요")
    assert client.get(f"/api/conversations/{second_id}").json["previous_id"] == first_id
    assert len(client.get(f"/api/conversations/{first_id}").json["turns"]) == 1
    with app.app_context():
        stored = db.session.get(Conversation, second_id)
        assert stored.previous_id == first_id
        assert [c.id for c in db.session.get(Conversation, first_id).next_conversations] == [second_id]


def test_nobody_can_link_to_a_conversation_they_cannot_open(app):
    owner = app.test_client()
    first_id, _ = start(owner)
    stranger = app.test_client()
    _, stranger_token = start(stranger)

    assert_error(stranger.post(f"/api/conversations/{first_id}/next", headers=bearer(stranger_token)), 404, "not_found")
    assert_error(app.test_client().post(f"/api/conversations/{first_id}/next"), 401, "unauthorized")
    with app.app_context():
        linked = db.session.scalar(sa.select(sa.func.count()).where(Conversation.previous_id.is_not(None)))
        assert linked == 0, "nothing half-made: no conversation was created for a refused link"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Conversation)) == 2


def test_deleting_the_earlier_conversation_keeps_the_later_one(app, client):
    first_id, _ = start(client)
    second_id = client.post(f"/api/conversations/{first_id}/next").json["id"]
    say(client, second_id, "안녕하세요")
    admin = signed_in(app, "admin@example.kr", role="admin")
    url = f"/admin/conversations/{first_id}/delete"

    response = admin.post(url, data={"csrf_token": csrf_from(admin, url), "reason": "내담자가 지워 달라고 했어요"})

    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Conversation, first_id) is None
        assert db.session.get(Conversation, second_id).previous_id is None
    assert client.get(f"/api/conversations/{second_id}").json["previous_id"] is None


# --- the counsellor's links ----------------------------------------------------------------------


def test_the_counsellor_page_links_a_conversation_to_the_ones_before_and_after(app, client):
    first_id, _ = start(client)
    say(client, first_id, "죽고 싶어요")
    second_id = client.post(f"/api/conversations/{first_id}/next").json["id"]
    say(client, second_id, "어제 이야기한 사람이에요")
    counsellor = signed_in(app, "counsellor@example.kr")

    first_page = counsellor.get(f"/counsellor/conversations/{first_id}").get_data(as_text=True)
    second_page = counsellor.get(f"/counsellor/conversations/{second_id}").get_data(as_text=True)

    assert f'href="/counsellor/conversations/{second_id}">다음 대화' in first_page
    assert "이전 대화" not in first_page
    assert f'href="/counsellor/conversations/{first_id}">← 이전 대화' in second_page
    assert "다음 대화" not in second_page


def test_an_unlinked_conversation_shows_no_links(app, client):
    conversation_id, _ = start(client)
    say(client, conversation_id, "안녕하세요")
    page = signed_in(app, "c@example.kr").get(f"/counsellor/conversations/{conversation_id}").get_data(as_text=True)
    assert "이전 대화" not in page and "다음 대화" not in page


# --- the chat page -------------------------------------------------------------------------------


def test_the_chat_page_has_one_h1_a_help_button_with_every_hotline_and_a_quiet_log(client):
    html = client.get("/").get_data(as_text=True)
    assert html.count("<h1") == 1
    assert 'id="help-open"' in html and "도움 받기" in html
    for tel in ("109", "15770199", "112", "119", "1388", "1366"):
        assert f'class="call" href="tel:{tel}"' in html, tel
    assert 'id="announcer"' in html
    # Only the announcer speaks up by itself; the log of messages is not a live region.
    assert html.count('aria-live="polite"') == 1
    assert 'role="log"' not in html
    assert "axe" not in html, "the accessibility checker is for the tests only"


@pytest.mark.parametrize("shown", [False, True])
def test_the_emotion_label_is_shown_to_the_client_only_when_the_setting_says_so(settings, shown):
    app = create_app(dataclasses.replace(settings, show_emotion_to_client=shown))
    html = app.test_client().get("/").get_data(as_text=True)
    assert f'data-show-emotion="{"true" if shown else "false"}"' in html


def test_the_setting_comes_from_the_environment():
    from webapp.config import AppSettings

    assert AppSettings.from_env({}).show_emotion_to_client is False
    assert AppSettings.from_env({"MAUM_SHOW_EMOTION_TO_CLIENT": "true"}).show_emotion_to_client is True
