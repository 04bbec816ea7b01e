"""The web app on the fake pipeline: health, conversations, turns, stored audio, errors, the chat page."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import stat
from pathlib import Path

import flask_migrate
import pytest
import soundfile as sf
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pipeline.settings import Settings
from pipeline.turn import Pipeline
from pipeline.types import EMOTION_LABELS
from tests.databases import database_url  # noqa: F401  (every app test runs on SQLite and PostgreSQL)
from tests.samples import encode_ffmpeg, tone
from webapp import create_app
from webapp.config import AppSettings
from webapp.db import Conversation, Turn, db
from webapp.reply_audio import wait_for_reply_audio

EXPECTED_TURN_KEYS = {
    "turn_id",
    "transcript",
    "emotion",
    "risk",
    "reply",
    "conversation_risk",
    "timings_ms",
    "degraded",
}
CRISIS_NUMBERS = ("109", "1577-0199", "112", "119", "1388", "1366")


# --- helpers ---------------------------------------------------------------------------------


def tone_wav(seconds: float = 1.0, frequency_hz: float = 220.0, amplitude: float = 0.3) -> bytes:
    """A 16 kHz 16-bit WAV of a sine tone (silence when ``amplitude`` is 0)."""
    buf = io.BytesIO()
    sf.write(buf, tone(seconds, freq=frequency_hz, amp=amplitude), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture
def migrated_app():
    """Make apps of their own (for settings other than the fixture's), tables created, engines closed after."""
    made = []

    def make(settings: AppSettings):
        app = create_app(settings)
        with app.app_context():
            flask_migrate.upgrade()
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


def start(client) -> tuple[str, str]:
    response = client.post("/api/conversations")
    assert response.status_code == 201
    return response.json["id"], response.json["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def say(client, conversation_id: str, token: str, text: str):
    response = client.post(f"/api/conversations/{conversation_id}/turns", json={"text": text}, headers=bearer(token))
    wait_for_reply_audio()  # the reply's complete file is made after the answer
    return response


def speak(client, conversation_id: str, token: str, audio: bytes, filename: str = "recording.wav"):
    response = client.post(
        f"/api/conversations/{conversation_id}/turns",
        data={"audio": (io.BytesIO(audio), filename)},
        headers=bearer(token),
        content_type="multipart/form-data",
    )
    wait_for_reply_audio()  # the reply's complete file is made after the answer
    return response


def fetch(client, url: str, **kwargs):
    """GET ``url``, read the whole body and close the response (file responses hold the file open)."""
    response = client.get(url, **kwargs)
    response.get_data()
    response.close()
    return response


def settle() -> None:
    """Wait for the background threads that assemble complete reply audio files."""
    wait_for_reply_audio()


def audio_files(app) -> list[Path]:
    """Every file under the instance's audio folder, temporary ones included (after the reply audio is done)."""
    settle()
    root = Path(app.instance_path) / "audio"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def turns(app) -> list[Turn]:
    settle()
    with app.app_context():
        rows = db.session.scalars(sa.select(Turn).order_by(Turn.conversation_id, Turn.index)).all()
        db.session.expunge_all()
        return list(rows)


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == code
    assert re.search("[가-힣]", error["message"]), "the message is for people, in Korean"


class BrokenSynthesizer:
    def synthesize(self, text: str):
        raise RuntimeError("espeak-ng crashed")


class ExplodingTranscriber:
    def transcribe(self, audio):
        raise RuntimeError("secret internal detail")


# --- health ----------------------------------------------------------------------------------


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


def test_create_app_loads_no_model_even_with_the_real_backends(tmp_path):
    app = create_app(AppSettings(instance_path=str(tmp_path), secret_key="k"))
    assert app.extensions["maum.pipeline"].backend_names()["transcriber"] == "whisper"
    assert not app.extensions["maum.pipeline"].loaded


# --- conversations ---------------------------------------------------------------------------


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


# --- pages -----------------------------------------------------------------------------------


def test_chat_page_is_korean_self_contained_and_shows_crisis_lines(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="ko">' in html
    assert 'name="viewport"' in html
    for number in CRISIS_NUMBERS:
        assert number in html
    assert "AI" in html
    assert "http://" not in html and "https://" not in html, "nothing may come from the internet"
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/static/") for src in sources)
    assert '"sadness": "\\uc2ac\\ud514"' in html or '"sadness": "슬픔"' in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "media-src 'self' blob:" in csp
    assert "unsafe-inline" not in csp


@pytest.mark.parametrize("name", ["chat.js", "recorder.js", "chat.css"])
def test_static_files_are_served(client, name):
    response = fetch(client, f"/static/{name}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "http://" not in body and "https://" not in body
    if name.endswith(".js"):
        assert "innerHTML" not in body, "user text goes into textContent only"


def test_html_error_pages_are_korean_and_escape_what_they_show(client):
    response = client.get("/<script>alert(1)</script>")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "찾을 수 없어요" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert "Content-Security-Policy" in response.headers


def test_html_500_page_is_korean_without_details(settings):
    app = create_app(settings)

    def boom():
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/boom", view_func=boom)
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "문제가 생겼어요" in html and "109" in html
    assert "secret internal detail" not in html and "Traceback" not in html


# --- database and configuration --------------------------------------------------------------


def test_migrations_build_exactly_the_tables_in_webapp_db(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_downgrade_to_nothing_and_back(app):
    with app.app_context():
        flask_migrate.downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        flask_migrate.upgrade()
        assert {"conversations", "turns"} <= set(sa.inspect(db.engine).get_table_names())


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


def test_a_secret_key_is_generated_once_and_kept_private(tmp_path):
    settings = AppSettings(instance_path=str(tmp_path / "instance"))
    first = create_app(settings)
    second = create_app(settings)
    key_file = tmp_path / "instance" / "secret_key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(first.config["SECRET_KEY"]) >= 32
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
