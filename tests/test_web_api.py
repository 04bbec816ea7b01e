"""The JSON API on the fake pipeline: conversations, turns, stored audio and errors."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from pathlib import Path

import pytest
import soundfile as sf

from pipeline.turn import Pipeline
from pipeline.types import EMOTION_LABELS
from tests.databases import database_url  # noqa: F401  (every app test runs on SQLite and PostgreSQL)
from tests.samples import encode_ffmpeg, tone
from tests.web import (
    CRISIS_NUMBERS,
    EXPECTED_TURN_KEYS,
    BrokenSynthesizer,
    ExplodingTranscriber,
    assert_error,
    audio_files,
    bearer,
    fetch,
    say,
    settle,
    speak,
    start,
    tone_wav,
    turns,
)
from webapp.db import Conversation, db


def test_create_conversation_returns_a_token_and_keeps_only_its_hash(app, client):
    response = client.post("/api/conversations")
    assert response.status_code == 201
    conversation_id, token = response.json["id"], response.json["token"]
    assert re.fullmatch("[0-9a-f]{32}", conversation_id)
    assert len(token) >= 40
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"maum_token={token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert f"Path=/api/conversations/{conversation_id}" in cookie
    with app.app_context():
        stored = db.session.get(Conversation, conversation_id)
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert stored.created_at.tzinfo is not None and stored.created_at.utcoffset().total_seconds() == 0


# --- turns -----------------------------------------------------------------------------------


def test_text_turn_answers_with_the_full_shape(app, client):
    conversation_id, token = start(client)
    response = say(client, conversation_id, token, "요즘 너무 우울해요")
    assert response.status_code == 201
    body = response.json
    assert set(body) == EXPECTED_TURN_KEYS
    assert re.fullmatch("[0-9a-f]{32}", body["turn_id"])
    assert body["transcript"] == "요즘 너무 우울해요"
    assert body["emotion"]["label"] == "sadness"
    assert list(body["emotion"]["scores"]) == list(EMOTION_LABELS)
    assert len(body["emotion"]["scores"]) == 7
    assert body["risk"] == {"level": "none", "reasons": []}
    assert body["reply"]["text"] == "1번째 이야기 잘 들었어요."
    assert body["reply"]["kind"] == "empathy"
    turn_url = f"/api/conversations/{conversation_id}/turns/{body['turn_id']}"
    assert body["reply"]["clips"] == [{"text": "1번째 이야기 잘 들었어요.", "url": f"{turn_url}/audio/reply/0"}]
    assert body["reply"]["audio_url"] is None, "the answer does not wait for speech"
    assert body["reply"]["audio_missing"] is False
    assert {"risk", "emotion", "respond", "total"} <= set(body["timings_ms"])

    [turn] = turns(app)
    assert (turn.input_kind, turn.index, turn.user_text) == ("text", 0, "요즘 너무 우울해요")
    assert turn.user_audio_path is None and not turn.reply_audio_missing
    assert turn.backends == {"transcriber": "fake", "classifier": "fake", "responder": "fake", "synthesizer": "fake"}
    reply_file = Path(app.instance_path) / turn.reply_audio_path
    stored = app.extensions["maum.audio_store"].read(turn.reply_audio_path)
    assert hashlib.sha256(stored).hexdigest() == turn.reply_audio_sha256
    assert stored[:4] == b"OggS", "reply audio is stored as Ogg Opus"
    assert reply_file.read_bytes()[:4] == b"MAUM", "and encrypted at rest"
    assert audio_files(app) == [reply_file]


def test_high_risk_is_answered_with_crisis_lines_and_flagged_on_the_turn(app, client):
    conversation_id, token = start(client)
    response = say(client, conversation_id, token, "요즘 죽고 싶다는 생각이 들어요")
    assert response.status_code == 201
    assert response.json["risk"]["level"] == "high"
    assert response.json["risk"]["reasons"]
    assert response.json["reply"]["kind"] == "crisis" and "109" in response.json["reply"]["text"]
    [turn] = turns(app)
    assert (turn.risk_level, turn.risk_categories) == ("high", ["suicide"])


def test_later_turns_get_the_conversation_history(app, client):
    conversation_id, token = start(client)
    say(client, conversation_id, token, "안녕하세요")
    response = say(client, conversation_id, token, "오늘 회사에서 화가 났어요")
    assert response.json["reply"]["text"] == "2번째 이야기 잘 들었어요."
    assert [t.index for t in turns(app)] == [0, 1]


def test_audio_turn_stores_both_files_with_their_checksums(app, client):
    wav = tone_wav(1.0, 220.0)
    conversation_id, token = start(client)
    response = speak(client, conversation_id, token, wav)
    assert response.status_code == 201, response.json
    assert response.json["transcript"] == "오늘 좀 우울해요"
    assert response.json["emotion"]["label"] == "sadness"
    assert {"decode", "transcribe", "total"} <= set(response.json["timings_ms"])

    [turn] = turns(app)
    assert turn.input_kind == "audio"
    user_file = Path(app.instance_path) / turn.user_audio_path
    reply_file = Path(app.instance_path) / turn.reply_audio_path
    assert user_file.parent == Path(app.instance_path) / "audio" / conversation_id
    store = app.extensions["maum.audio_store"]
    assert store.read(turn.user_audio_path) == wav, "the upload is kept exactly as received"
    assert wav not in user_file.read_bytes(), "but encrypted at rest"
    assert turn.user_audio_sha256 == hashlib.sha256(wav).hexdigest()
    assert turn.reply_audio_sha256 == hashlib.sha256(store.read(turn.reply_audio_path)).hexdigest()
    assert sf.info(io.BytesIO(store.read(turn.reply_audio_path))).format == "OGG"
    assert audio_files(app) == sorted([user_file, reply_file]), "no temporary files left behind"


def test_browser_webm_recording_is_kept_as_webm(app, client, tmp_path):
    webm = encode_ffmpeg(tone(1.5, sample_rate=48000), 48000, ".webm", tmp_path, "-c:a", "libopus")
    conversation_id, token = start(client)
    response = speak(client, conversation_id, token, webm, filename="recording.webm")
    assert response.status_code == 201, response.json
    [turn] = turns(app)
    assert turn.user_audio_path.endswith("-user.webm")
    served = fetch(client, f"/api/conversations/{conversation_id}/turns/{turn.id}/audio/user", headers=bearer(token))
    assert served.mimetype == "audio/webm"
    assert served.data == webm


def test_audio_is_served_only_to_the_conversation_token(app, client):
    wav = tone_wav()
    conversation_id, token = start(client)
    turn_id = speak(client, conversation_id, token, wav).json["turn_id"]
    settle()  # the complete reply file is assembled after the answer
    url = f"/api/conversations/{conversation_id}/turns/{turn_id}/audio"
    stranger = app.test_client()  # no cookie

    response = fetch(stranger, f"{url}/user", headers=bearer(token))
    assert response.status_code == 200
    assert response.data == wav
    assert response.mimetype == "audio/wav"
    assert response.headers["Cache-Control"] == "no-store"
    reply = fetch(stranger, f"{url}/reply", headers=bearer(token))
    assert reply.status_code == 200 and reply.data[:4] == b"OggS" and reply.mimetype == "audio/ogg"

    assert fetch(client, f"{url}/user").status_code == 200, "the HttpOnly cookie opens it too"
    assert_error(fetch(stranger, f"{url}/user"), 401, "unauthorized")
    assert_error(fetch(stranger, f"{url}/user", headers=bearer("wrong-token")), 404, "not_found")
    _, other_token = start(stranger)
    assert_error(fetch(stranger, f"{url}/user", headers=bearer(other_token)), 404, "not_found")
    unknown_turn = f"/api/conversations/{conversation_id}/turns/{'0' * 32}/audio/user"
    assert_error(fetch(stranger, unknown_turn, headers=bearer(token)), 404, "not_found")
    assert fetch(stranger, f"{url}/other", headers=bearer(token)).status_code == 404


def test_a_text_turn_has_no_user_audio(client):
    conversation_id, token = start(client)
    turn_id = say(client, conversation_id, token, "글로 적었어요").json["turn_id"]
    response = fetch(client, f"/api/conversations/{conversation_id}/turns/{turn_id}/audio/user", headers=bearer(token))
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"json": {"text": ""}}, 400, "text_empty"),
        ({"json": {"text": " \n\t "}}, 400, "text_empty"),
        ({"json": {"text": "가" * 1001}}, 400, "text_too_long"),
        ({"json": {"text": 42}}, 400, "text_invalid"),
        ({"json": ["not", "an", "object"]}, 400, "invalid_json"),
        ({"audio": b""}, 400, "audio_empty"),
        ({"audio": b"this is not audio at all " * 40}, 400, "audio_undecodable"),
        ({"audio": tone_wav(amplitude=0.0)}, 400, "audio_silent"),
        ({"audio": tone_wav(seconds=0.05)}, 400, "audio_too_short"),
        ({"data": {"note": "no audio field"}}, 400, "audio_missing"),
    ],
    ids=[
        "empty-text", "blank-text", "too-long-text", "text-not-string", "json-not-object",
        "empty-audio", "undecodable-audio", "silent-audio", "too-short-audio", "multipart-without-audio",
    ],
)  # fmt: skip
def test_rejected_input_stores_nothing(app, client, payload, status, code):
    conversation_id, token = start(client)
    url = f"/api/conversations/{conversation_id}/turns"
    if "json" in payload:
        response = client.post(url, json=payload["json"], headers=bearer(token))
    elif "audio" in payload:
        response = speak(client, conversation_id, token, payload["audio"])
    else:
        response = client.post(url, data=payload["data"], headers=bearer(token), content_type="multipart/form-data")
    assert_error(response, status, code)
    assert turns(app) == []
    assert audio_files(app) == []


def test_audio_over_the_pipeline_limit_is_413(settings, migrated_app):
    small = dataclasses.replace(settings, pipeline=dataclasses.replace(settings.pipeline, max_audio_bytes=10_000))
    app = migrated_app(small)
    client = app.test_client()
    conversation_id, token = start(client)
    assert_error(speak(client, conversation_id, token, tone_wav(1.0)), 413, "audio_too_large")
    assert audio_files(app) == []


def test_audio_over_the_length_limit_is_400(settings, migrated_app):
    short = dataclasses.replace(settings, pipeline=dataclasses.replace(settings.pipeline, max_audio_s=2.0))
    app = migrated_app(short)
    client = app.test_client()
    conversation_id, token = start(client)
    assert_error(speak(client, conversation_id, token, tone_wav(3.0)), 400, "audio_too_long")
    assert turns(app) == [] and audio_files(app) == []


def test_another_clients_conversation_is_404_and_untouched(app, client):
    mine, my_token = start(client)
    say(client, mine, my_token, "제 이야기예요")
    other = app.test_client()
    theirs, their_token = start(other)
    assert_error(say(other, mine, their_token, "남의 대화에 끼어들기"), 404, "not_found")
    assert_error(speak(other, mine, their_token, tone_wav()), 404, "not_found")
    assert [t.user_text for t in turns(app)] == ["제 이야기예요"]
    assert len(audio_files(app)) == 1  # only my reply audio
    assert theirs != mine


def test_request_over_the_upload_limit_is_413(settings, migrated_app):
    app = migrated_app(dataclasses.replace(settings, max_upload_bytes=10_000))
    client = app.test_client()
    conversation_id, token = start(client)
    assert_error(speak(client, conversation_id, token, tone_wav(1.0)), 413, "payload_too_large")
    assert turns(app) == [] and audio_files(app) == []


def test_failed_synthesis_still_stores_and_answers_the_text(app, client, settings):
    no_fallback = dataclasses.replace(settings.pipeline, synthesizer_fallback="")
    app.extensions["maum.pipeline"] = Pipeline(no_fallback, synthesizer=BrokenSynthesizer())
    conversation_id, token = start(client)
    response = say(client, conversation_id, token, "오늘 기뻐요")
    assert response.status_code == 201
    assert response.json["reply"]["text"] == "1번째 이야기 잘 들었어요."
    assert response.json["reply"]["audio_url"] is None
    [turn] = turns(app)
    assert turn.reply_audio_missing and turn.reply_audio_path is None and turn.reply_audio_sha256 is None
    assert turn.synthesis_error == "synthesis_failed"
    assert audio_files(app) == []
    url = f"/api/conversations/{conversation_id}/turns/{turn.id}/audio/reply"
    assert_error(fetch(client, url, headers=bearer(token)), 404, "not_found")
    assert_error(fetch(client, f"{url}/0", headers=bearer(token)), 503, "synthesis_failed")


def test_unexpected_failure_is_a_json_500_without_details(app, client, settings):
    app.extensions["maum.pipeline"] = Pipeline(settings.pipeline, transcriber=ExplodingTranscriber())
    conversation_id, token = start(client)
    response = speak(client, conversation_id, token, tone_wav())
    assert_error(response, 500, "internal_error")
    assert all(number in response.json["error"]["message"] for number in CRISIS_NUMBERS)
    text = response.get_data(as_text=True)
    assert "secret internal detail" not in text and "Traceback" not in text
    assert turns(app) == []
    assert audio_files(app) == []


def test_turns_need_the_token_and_an_existing_conversation(client):
    conversation_id, token = start(client)
    stranger = client.application.test_client()
    no_token = stranger.post(f"/api/conversations/{conversation_id}/turns", json={"text": "안녕"})
    assert_error(no_token, 401, "unauthorized")
    assert_error(say(stranger, "f" * 32, token, "안녕"), 404, "not_found")
    assert_error(say(stranger, conversation_id, "not-the-token", "안녕"), 404, "not_found")
    assert turns(client.application) == []
    assert say(client, conversation_id, token, "안녕").status_code == 201


def test_wrong_content_type_is_415(app, client):
    conversation_id, token = start(client)
    response = client.post(
        f"/api/conversations/{conversation_id}/turns", data="안녕", content_type="text/plain", headers=bearer(token)
    )
    assert_error(response, 415, "unsupported_media_type")
    assert turns(app) == [] and audio_files(app) == []


def test_api_routing_errors_are_json(client):
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    response = client.get("/api/conversations")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_script_in_user_text_is_returned_as_data_and_stored_verbatim(app, client):
    text = '<script>alert("마음")</script> 안녕'
    conversation_id, token = start(client)
    response = say(client, conversation_id, token, text)
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert response.json["transcript"] == text
    assert turns(app)[0].user_text == text


def test_a_service_error_is_answered_with_its_mapped_status_and_a_korean_message():
    from webapp.domain_errors import TurnConflict
    from webapp.errors import describe_error

    status, code, message = describe_error(TurnConflict("turn 3 of abc was taken meanwhile"))
    assert (status, code) == (409, "conflict")
    assert re.search("[가-힣]", message) and "taken" not in message, "the detail is for the logs only"
