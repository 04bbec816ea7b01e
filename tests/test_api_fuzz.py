"""Schemathesis against the app in-process: generated requests, valid and invalid per the OpenAPI
document, never get a 5xx, invalid ones are refused (4xx), valid ones are accepted, and every response
matches the document (status, content type, headers, body). Fake backends; bounded examples."""

from __future__ import annotations

import dataclasses
import io

import flask_migrate
import hypothesis
import pytest
import schemathesis
import soundfile as sf
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth
from schemathesis.transport.serialization import Binary

from tests.samples import tone
from webapp import create_app
from webapp.api.views import openapi_document
from webapp.db import db

#: Examples per operation and generation mode; enough to reach the edges, small enough for 2 cores.
MAX_EXAMPLES = 25


def wav() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(1.0), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


WAV = wav()


@pytest.fixture
def fuzzed_app(settings):
    # Rate limits are tested on their own (tests/test_rate_limits.py); here they would only add 429s.
    app = create_app(
        dataclasses.replace(
            settings,
            rate_turns_per_ip=0,
            rate_turns_per_conversation=0,
            rate_conversations_per_ip=0,
            rate_practice_per_ip=0,
        )
    )
    app.config.update(TESTING=True)
    with app.app_context():
        flask_migrate.upgrade()
    created = app.test_client().post("/api/conversations").json
    app.extensions["test.conversation"] = created
    yield app
    with app.app_context():
        db.engine.dispose()


#: Operations whose generated ids never name a stored item (a random turn id is a 404, rightly).
UNREACHABLE_BY_RANDOM_IDS = {
    "/api/conversations/{conversation_id}/turns/{turn_id}/audio/{which}",
    "/api/conversations/{conversation_id}/turns/{turn_id}/audio/reply/{n}",
}

OPERATIONS = [
    (method, path)
    for path, item in openapi_document()["paths"].items()
    for method in item
    if method in {"get", "post", "put", "patch", "delete"}
]


def _short(value, limit: int = 300) -> str:
    text = "\n".join(line for line in str(value).splitlines() if not line.lstrip().startswith("curl "))
    return text if len(text) <= limit else text[:limit] + "…"


def _is_negative(case, location: ParameterLocation) -> bool:
    component = case.meta.components.get(location) if case.meta else None
    return component is not None and component.mode.is_negative


def _prepare(case, conversation: dict[str, str]) -> None:
    """Point the case at a real conversation with its token, and give valid uploads a real recording."""
    if "conversation_id" in (case.path_parameters or {}) and not _is_negative(case, ParameterLocation.PATH):
        # Reach the conversation's own checks, not only the 404 of an unknown id.
        case.path_parameters["conversation_id"] = conversation["id"]
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {conversation['token']}"}
    body = case.body
    if (
        case.media_type == "multipart/form-data"
        and isinstance(body, dict)
        and "audio" in body
        and not _is_negative(case, ParameterLocation.BODY)
    ):
        # No schema can say "a decodable recording": a valid request carries a real one.
        case.body = {**body, "audio": Binary(WAV)}
    # These edits keep each component valid or invalid as generated; schemathesis would otherwise relabel
    # any edited binary body as invalid (it does not validate bytes) and expect a refusal.
    case._record_starting_state()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS])
def test_the_api_does_what_its_document_says(fuzzed_app, method, path, mode):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzzed_app)
    operation = schema[path][method]
    definition = openapi_document()["paths"][path]
    if mode.is_negative and not (
        definition.get("parameters") or definition[method].get("parameters") or definition[method].get("requestBody")
    ):
        pytest.skip("no input to get wrong")
    conversation = fuzzed_app.extensions["test.conversation"]
    failures: list[str] = []
    statuses: list[int] = []

    @hypothesis.given(operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        derandomize=True,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def check(case):
        _prepare(case, conversation)
        try:
            # ignored_auth expects 401/403 for a wrong token; Maum answers 404 on purpose, exactly as for an
            # unknown conversation, so that nobody can tell which conversation ids exist.
            statuses.append(case.call_and_validate(excluded_checks=[ignored_auth]).status_code)
        except AssertionError as exc:  # schemathesis failures are AssertionErrors; keep looking for others
            failures.append(
                f"{case.method} {case.formatted_path} {case.media_type} {_short(case.body)}:\n{_short(exc, 1500)}"
            )

    check()
    assert not failures, "\n\n".join(failures[:5])
    if mode.is_positive and path not in UNREACHABLE_BY_RANDOM_IDS:
        assert any(200 <= s < 300 for s in statuses), f"no valid request succeeded: {sorted(set(statuses))}"
