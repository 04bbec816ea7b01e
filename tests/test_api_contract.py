"""The OpenAPI document and the server agree on what a request may hold: the same texts pass both,
unknown fields are refused, limits and rate limits are documented, and the rules have one source."""

from __future__ import annotations

import dataclasses
import io

import flask_migrate
import jsonschema
import pytest
import sqlalchemy as sa
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from pipeline.pronunciation.scoring import MAX_TARGET_CHARS
from pipeline.pronunciation.sentences import practice_sets
from tests.test_counsellor import wav
from webapp import create_app
from webapp.api.views import openapi_document
from webapp.db import PracticeAttempt, Turn, db
from webapp.validation import HANGUL_PATTERN, VISIBLE_TEXT_PATTERN

DOC = openapi_document()
REGISTRY = Registry().with_resource("urn:maum-openapi", Resource(contents=DOC, specification=DRAFT202012))
TURNS = "/api/conversations/{conversation_id}/turns"


def request_schema(path: str, method: str, media_type: str) -> dict:
    return DOC["paths"][path][method]["requestBody"]["content"][media_type]["schema"]


def valid_per_document(schema: dict, instance) -> bool:
    return jsonschema.Draft202012Validator(schema, registry=REGISTRY).is_valid(instance)


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def conversation(client) -> tuple[str, dict[str, str]]:
    created = client.post("/api/conversations").json
    return f"/api/conversations/{created['id']}/turns", {"Authorization": f"Bearer {created['token']}"}


TURN_TEXTS = [
    "요즘 잠이 안 와요",
    "ㅠㅠ",
    "😢",
    "...",
    "a",
    "   ",
    "\u200b\u200b",  # zero-width spaces only
    "\x00\x01",
    "\ue000",  # private use
    "",
    "가" * 1000,
    "가" * 1001,
    " 안녕 " + "\u200b",
]


@pytest.mark.parametrize("text", TURN_TEXTS, ids=range(len(TURN_TEXTS)))
def test_a_typed_message_is_accepted_exactly_when_the_document_says_it_is_valid(app, client, conversation, text):
    url, auth = conversation
    schema = request_schema(TURNS, "post", "application/json")
    response = client.post(url, json={"text": text}, headers=auth)
    assert response.status_code in (201, 400), response.json
    assert (response.status_code == 201) == valid_per_document(schema, {"text": text}), response.json
    if response.status_code == 400:
        assert response.json["error"]["code"] in {"text_empty", "text_too_long"}
        assert count(app, Turn) == 0


PRACTICE_TEXTS = ["국물이 맛있어요", "2024년", "abc", "ㄱㄴㄷ", "123", "   ", "", "가" * 200, "가" * 201, "Hi 가"]


@pytest.mark.parametrize("text", PRACTICE_TEXTS, ids=range(len(PRACTICE_TEXTS)))
def test_a_practice_sentence_is_accepted_exactly_when_the_document_says_it_is_valid(client, text):
    schema = request_schema("/api/practice/pronounce", "post", "application/json")
    response = client.post("/api/practice/pronounce", json={"text": text})
    assert (response.status_code == 200) == valid_per_document(schema, {"text": text}), response.json
    speech = client.get("/api/practice/speech", query_string={"text": text})
    assert speech.status_code == response.status_code, "the same rule for the spoken example"


def test_unknown_fields_are_refused_and_nothing_is_stored(app, client, conversation):
    url, auth = conversation
    json_extra = client.post(url, json={"text": "안녕하세요", "role": "admin"}, headers=auth)
    multipart_extra = client.post(
        url,
        data={"audio": (io.BytesIO(wav()), "a.wav"), "note": "hi"},
        headers=auth,
        content_type="multipart/form-data",
    )
    pronounce_extra = client.post("/api/practice/pronounce", json={"text": "국물", "speed": 2})
    attempt_extra = client.post(
        "/api/practice/attempts",
        data={"audio": (io.BytesIO(wav()), "a.wav"), "text": "국물", "score": "100"},
        content_type="multipart/form-data",
    )
    for response in (json_extra, multipart_extra, pronounce_extra, attempt_extra):
        assert response.status_code == 400
        assert response.json["error"]["code"] == "unexpected_field"
        assert "알 수 없는 항목" in response.json["error"]["message"]
    assert count(app, Turn) == 0 and count(app, PracticeAttempt) == 0
    for schema in (
        request_schema(TURNS, "post", "application/json"),
        request_schema(TURNS, "post", "multipart/form-data"),
        request_schema("/api/practice/pronounce", "post", "application/json"),
        request_schema("/api/practice/attempts", "post", "multipart/form-data"),
    ):
        assert schema["additionalProperties"] is False


def test_an_empty_or_unknown_sentence_id_is_refused_as_documented(client):
    schema = request_schema("/api/practice/attempts", "post", "multipart/form-data")
    ids = [s.id for practice_set in practice_sets() for s in practice_set.sentences]
    assert schema["properties"]["sentence_id"]["enum"] == ids
    for sentence_id in ("", "9-99", " 1-01"):
        response = client.post(
            "/api/practice/attempts",
            data={"audio": (io.BytesIO(wav()), "a.wav"), "sentence_id": sentence_id},
            content_type="multipart/form-data",
        )
        assert (response.status_code, response.json["error"]["code"]) == (400, "practice_sentence_unknown")


def test_the_rules_in_the_document_are_the_servers(settings):
    turn_text = request_schema(TURNS, "post", "application/json")["properties"]["text"]
    assert turn_text["pattern"] == VISIBLE_TEXT_PATTERN
    assert turn_text["maxLength"] == settings.pipeline.max_text_chars
    practice_text = request_schema("/api/practice/pronounce", "post", "application/json")["properties"]["text"]
    assert (practice_text["pattern"], practice_text["maxLength"]) == (HANGUL_PATTERN, MAX_TARGET_CHARS)
    multipart_audio = request_schema(TURNS, "post", "multipart/form-data")["properties"]["audio"]
    assert multipart_audio["format"] == "binary" and multipart_audio["contentMediaType"] == "audio/*"


def test_the_served_document_states_this_servers_text_limit(settings):
    app = create_app(dataclasses.replace(settings, pipeline=dataclasses.replace(settings.pipeline, max_text_chars=50)))
    app.config.update(TESTING=True)
    with app.app_context():
        flask_migrate.upgrade()
    served = app.test_client().get("/api/openapi.json").json
    text = served["paths"][TURNS]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["text"]
    assert text["maxLength"] == 50
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/conversations", "post"),
        (TURNS, "post"),
        ("/api/practice/attempts", "post"),
        ("/api/practice/speech", "get"),
    ],
)
def test_rate_limited_operations_document_429_with_retry_after(path, method):
    response = DOC["paths"][path][method]["responses"]["429"]
    resolved = DOC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    assert "Retry-After" in resolved["headers"] and resolved["headers"]["Retry-After"]["required"] is True
    for code in ("rate_limited", "json_too_deep", "json_too_large", "unexpected_field"):
        assert code in DOC["info"]["description"]
