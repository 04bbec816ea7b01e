"""The OpenAPI document is valid, covers every API route, and real responses match its schemas."""

from __future__ import annotations

import io

import jsonschema
import pytest
import soundfile as sf
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.samples import tone
from webapp.api.views import openapi_document

DOC = openapi_document()


# OpenAPI 3.1 schemas are JSON Schema 2020-12; the whole document is registered so that
# ``#/components/...`` references resolve.
REGISTRY = Registry().with_resource("urn:maum-openapi", Resource(contents=DOC, specification=DRAFT202012))


def assert_matches(instance: dict, name: str) -> None:
    ref = {"$ref": f"urn:maum-openapi#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(ref, registry=REGISTRY).validate(instance)


def test_the_document_is_valid_openapi():
    validate(DOC)
    assert DOC["openapi"].startswith("3.1")


def test_every_route_is_documented_and_every_documented_route_exists(app):
    documented = {
        (path, method.upper())
        for path, item in DOC["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule in {"/healthz", "/readyz"}):
            continue
        path = rule.rule.replace("<any(user, reply):which>", "{which}").replace("<int:n>", "{n}")
        path = path.replace("<", "{").replace(">", "}")
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


def test_served_document_is_the_file(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json == DOC


def wav(seconds: float = 1.0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(seconds), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_real_responses_match_their_schemas(client):
    created = client.post("/api/conversations")
    assert_matches(created.json, "NewConversation")
    cid, token = created.json["id"], created.json["token"]
    auth = {"Authorization": f"Bearer {token}"}
    text_turn = client.post(f"/api/conversations/{cid}/turns", json={"text": "요즘 잠이 안 와요"}, headers=auth)
    assert text_turn.status_code == 201
    assert_matches(text_turn.json, "Turn")
    voice_turn = client.post(
        f"/api/conversations/{cid}/turns",
        data={"audio": (io.BytesIO(wav()), "a.wav")},
        headers=auth,
        content_type="multipart/form-data",
    )
    assert voice_turn.status_code == 201
    assert_matches(voice_turn.json, "Turn")
    error = client.post(f"/api/conversations/{cid}/turns", json={"text": ""}, headers=auth)
    assert_matches(error.json, "Error")


def test_the_schema_rejects_a_turn_missing_a_score():
    turn = {
        "turn_id": "0" * 32,
        "transcript": "",
        "emotion": {"label": "sadness", "scores": {"sadness": 1.0}},
        "risk": {"level": "none", "reasons": []},
        "reply": {"text": "", "kind": "empathy", "audio_url": None, "audio_missing": True},
        "timings_ms": {},
    }
    with pytest.raises(jsonschema.ValidationError):
        assert_matches(turn, "Turn")
