"""Fault injection: no turn or crisis reply lost to a failing stage, a crash or a slow database.

- the matrix of ``benchmarks/fault_matrix.py``: a crisis voice turn broken at every step (raise
  or kill, then a restart and the repair sweep) keeps every promise;
- a backend that cannot load degrades turns instead of failing them, and ``/readyz`` says so;
- what a crash left in the audio store is repaired (start-up sweep, ``flask repair``);
- database faults for real: a write-locked SQLite, an empty SQLite file, a PostgreSQL that
  accepts connections and never answers.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path

import flask_migrate
import pytest
import soundfile as sf
import sqlalchemy as sa

from benchmarks.fault_matrix import BEFORE_RISK, MODES, STEPS, run_scenario
from pipeline import registry
from pipeline.care.responder import CareResponder
from pipeline.care.safety_net import HOTLINES_NOTE, safety_net_reply
from pipeline.settings import Settings
from pipeline.turn import Pipeline
from pipeline.types import Risk
from tests.conftest import TEST_AUDIO_KEYS
from tests.databases import fresh_postgres_database
from tests.samples import bigram_embed, tone
from tests.test_counsellor import export, page, signed_in
from webapp import create_app
from webapp.config import AppSettings
from webapp.db import Turn, db
from webapp.repair import MARKER, ORPHAN_MIN_AGE_S, _instance_lock, repair, sweep_at_startup
from webapp.reply_audio import wait_for_reply_audio
from webapp.storage import temporary_name

CRISIS_NUMBERS = ("109", "1577-0199", "112", "119", "1388", "1366")
FAKE = Settings(transcriber="fake", classifier="fake", responder="fake", synthesizer="fake")


# --- helpers ---------------------------------------------------------------------------------


def wav(seconds: float = 1.0, amplitude: float = 0.3) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(seconds, amp=amplitude), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def make_app(tmp_path: Path, *, migrate: bool = True, pipeline: Settings = FAKE, **fields):
    fields.setdefault("audio_keys", TEST_AUDIO_KEYS)
    settings = AppSettings(
        instance_path=str(tmp_path / "instance"), secret_key="test-secret-key", pipeline=pipeline, **fields
    )
    app = create_app(settings)
    app.config.update(TESTING=True)
    if migrate:
        with app.app_context():
            flask_migrate.upgrade()
    return app


@pytest.fixture
def apps():
    """Build apps with ``make_app``; their database connections are closed after the test."""
    made = []

    def build(*args, **kwargs):
        app = make_app(*args, **kwargs)
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.engine.dispose()


def start(client) -> tuple[str, dict[str, str]]:
    response = client.post("/api/conversations")
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json["id"], {"Authorization": f"Bearer {response.json['token']}"}


def say(client, conversation_id, headers, text):
    response = client.post(f"/api/conversations/{conversation_id}/turns", json={"text": text}, headers=headers)
    wait_for_reply_audio()  # the reply's complete file is made after the answer
    return response


def speak(client, conversation_id, headers, audio: bytes):
    response = client.post(
        f"/api/conversations/{conversation_id}/turns",
        data={"audio": (io.BytesIO(audio), "recording.wav")},
        headers=headers,
        content_type="multipart/form-data",
    )
    wait_for_reply_audio()  # the reply's complete file is made after the answer
    return response


def fetch(client, url, **kwargs):
    response = client.get(url, **kwargs)
    response.get_data()
    response.close()
    return response


def stored_turns(app) -> list[Turn]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Turn).order_by(Turn.index)).all()
        db.session.expunge_all()
        return list(rows)


def audio_files(app) -> list[str]:
    root = Path(app.instance_path) / "audio"
    return (
        sorted(str(p.relative_to(app.instance_path)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    )


def has_every_crisis_line(text: str) -> bool:
    """The lines a suicide crisis reply must carry: 109 and an emergency number (112 or 119)."""
    return "109" in text and ("112" in text or "119" in text)


def care_responder() -> CareResponder:
    """The real curated responder with a stand-in embedder (its crisis replies are the real ones)."""
    return CareResponder(Settings(), embed=bigram_embed, reflect=False)


# --- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("step", list(STEPS))
def test_a_crisis_turn_broken_at_any_step_keeps_every_promise(step, mode, tmp_path):
    outcome = run_scenario(step, mode, tmp_path)
    assert outcome["kept_promise"], f"the client was told turn {outcome['told_turn_id']} was stored: {outcome}"
    assert outcome["consistent"], f"a stored turn lacks a file, or a file is left without a turn: {outcome}"
    assert outcome["crisis_numbers"] is not False, f"what the client read lacks a crisis line: {outcome}"
    if mode == "raise" and step not in BEFORE_RISK and step not in ("flush", "commit", "after_commit"):
        # Risk was assessed: a later failure must never cost the client the reply.
        assert outcome["status"] == 201, outcome
        [turn] = outcome["turns_stored"]
        assert turn["risk"] == "high" and turn["reply_kind"] == "crisis"
        if step not in ("respond", "responder_load", "synthesize"):
            # A crisis reply comes from the care layer, not the responder, so a broken responder
            # is not needed (nor recorded) on this turn; a voice failing on a sentence gives way to
            # the espeak fallback, so the reply is still spoken.
            assert turn["degraded"], "the counsellor must see what degraded"


# --- degrade, never drop ---------------------------------------------------------------------


def test_a_voice_that_cannot_load_still_answers_and_keeps_a_crisis_turn(tmp_path, apps, monkeypatch):
    """Defect 1: with the voice unable to load (espeak-ng not on PATH) every turn used to be a 503."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # espeak-ng cannot be found
    app = apps(
        tmp_path, pipeline=Settings(transcriber="fake", classifier="fake", responder="fake", synthesizer="espeak")
    )
    app.extensions["maum.pipeline"] = Pipeline(app.extensions["maum.pipeline"].settings, responder=care_responder())
    client = app.test_client()
    conversation_id, headers = start(client)

    response = say(client, conversation_id, headers, "죽고 싶어요")

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["reply"]["kind"] == "crisis" and has_every_crisis_line(response.json["reply"]["text"])
    # The answer does not wait for speech; the reply audio, made after it, is recorded as missing.
    assert response.json["reply"]["audio_url"] is None
    [turn] = stored_turns(app)
    assert turn.degraded == ["synthesize"]
    assert turn.risk_level == "high" and turn.reply_audio_missing
    assert turn.synthesis_error == "backend_missing_dependency" and turn.degraded == ["synthesize"]
    ready = fetch(client, "/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "degraded"
    assert ready.json["degraded"] == {"synthesize": "backend_missing_dependency"}


def test_a_responder_that_cannot_load_gives_the_safety_net_reply(tmp_path, apps):
    app = apps(tmp_path, pipeline=Settings(transcriber="fake", classifier="fake", responder="nope", synthesizer="fake"))
    client = app.test_client()
    conversation_id, headers = start(client)

    crisis = say(client, conversation_id, headers, "오늘 밤에 다리에서 뛰어내릴 거예요")
    other_id, other_headers = start(client)
    ordinary = say(client, other_id, other_headers, "오늘 회사에서 좀 지쳤어요")

    assert crisis.status_code == 201 and crisis.json["reply"]["kind"] == "crisis"
    assert has_every_crisis_line(crisis.json["reply"]["text"])
    assert crisis.json["reply"]["clips"], "the crisis reply is spoken too"
    assert ordinary.status_code == 201 and ordinary.json["reply"]["kind"] == "listen"
    assert ordinary.json["reply"]["text"] and "109" not in ordinary.json["reply"]["text"]
    # The crisis reply comes from the care layer without the responder; the ordinary one needed it.
    assert sorted(t.degraded for t in stored_turns(app)) == [[], ["respond"]]
    assert sorted(t.reply_fallback for t in stored_turns(app)) == ["", "safety_net"]
    counsellor = signed_in(app, "kim@example.kr")
    html = page(counsellor, f"/counsellor/conversations/{other_id}")
    assert "답 고르기" in html and "미리 정해 둔 안전한 답" in html
    document = json.loads(export(counsellor, conversation=other_id, format="json").data)
    assert [t["degraded"] for t in document["conversations"][0]["turns"]] == [["respond"]]


def test_safety_net_reply_follows_the_risk_level():
    high = safety_net_reply(Risk(level="high", reasons=("죽고 싶",), categories=("suicide",)))
    watch = safety_net_reply(Risk(level="watch"))
    none = safety_net_reply(Risk())
    assert high.kind == "crisis" and has_every_crisis_line(high.text) and "AI" in high.text
    assert watch.kind == "listen" and "109" in watch.text
    assert none.kind == "listen" and "109" not in none.text
    assert has_every_crisis_line(HOTLINES_NOTE)


def test_a_backend_that_failed_to_load_is_not_retried_on_every_turn(tmp_path, apps, monkeypatch):
    calls = []
    real_create = registry.create

    def create(stage, name, settings):
        calls.append(stage)
        if stage == "synthesizer":
            raise RuntimeError("model file is corrupt")
        return real_create(stage, name, settings)

    monkeypatch.setattr(registry, "create", create)
    app = apps(tmp_path)
    client = app.test_client()
    conversation_id, headers = start(client)
    for text in ("하나", "둘", "셋"):
        assert say(client, conversation_id, headers, text).status_code == 201
    assert [turn.degraded for turn in stored_turns(app)] == [["synthesize"]] * 3
    # One try of the configured voice and one of its fallback, then no more for LOAD_RETRY_S.
    assert calls.count("synthesizer") <= 2, "a broken model must not slow every turn down"


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        (lambda c, i, h: speak(c, i, h, wav(1.0, amplitude=0.0)), 400, "audio_silent"),
        (lambda c, i, h: speak(c, i, h, b"not audio at all"), 400, "audio_undecodable"),
        (lambda c, i, h: say(c, i, h, "죽고 싶어요 " * 300), 400, "text_too_long"),
        (lambda c, i, h: say(c, i, h, "   "), 400, "text_empty"),
    ],
)
def test_a_turn_refused_before_risk_is_assessed_still_shows_the_hotlines(tmp_path, apps, send, status, code):
    app = apps(tmp_path)
    client = app.test_client()
    conversation_id, headers = start(client)
    response = send(client, conversation_id, headers)
    assert response.status_code == status and response.json["error"]["code"] == code
    assert has_every_crisis_line(response.json["error"]["message"])
    assert stored_turns(app) == [] and audio_files(app) == []


def test_a_speech_recogniser_that_cannot_load_refuses_voice_with_the_hotlines(tmp_path, apps):
    app = apps(tmp_path, pipeline=Settings(transcriber="nope", classifier="fake", responder="fake", synthesizer="fake"))
    client = app.test_client()
    conversation_id, headers = start(client)
    response = speak(client, conversation_id, headers, wav())
    assert response.status_code == 503 and response.json["error"]["code"] == "backend_unknown"
    assert has_every_crisis_line(response.json["error"]["message"])
    assert say(client, conversation_id, headers, "안녕하세요").status_code == 201, "typing still works"
    ready = fetch(client, "/readyz")
    assert ready.status_code == 200 and ready.json["degraded"] == {"transcribe": "backend_unknown"}


# --- crash-consistent audio: the repair sweep ------------------------------------------------


def voice_turn(app) -> tuple[str, dict[str, str], Turn]:
    client = app.test_client()
    conversation_id, headers = start(client)
    response = speak(client, conversation_id, headers, wav())
    assert response.status_code == 201
    [turn] = [t for t in stored_turns(app) if t.id == response.json["turn_id"]]
    return conversation_id, headers, turn


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_crash_between_commit_and_rename_of_older_versions_is_repaired(tmp_path, apps):
    """Defect 4: the row committed, both files still temporary; both players were dead for good."""
    app = apps(tmp_path)
    conversation_id, headers, turn = voice_turn(app)
    store = app.extensions["maum.audio_store"]
    for rel_path in (turn.user_audio_path, turn.reply_audio_path):
        final = store.resolve(rel_path)
        final.rename(final.with_name(temporary_name(final.name)))  # what older versions left after a crash
    client = app.test_client()
    reply_url = f"/api/conversations/{conversation_id}/turns/{turn.id}/audio/reply"
    assert fetch(client, reply_url, headers=headers).status_code == 404

    with app.app_context():
        report = repair(store, min_age_s=0)

    assert sorted(a.action for a in report.actions) == ["restore_file", "restore_file"]
    response = fetch(client, reply_url, headers=headers)
    assert response.status_code == 200 and response.mimetype == "audio/ogg"
    assert [p for p in audio_files(app) if p.endswith(".tmp")] == []


def test_a_turn_whose_files_are_gone_is_marked_so_no_dead_player_is_shown(tmp_path, apps):
    app = apps(tmp_path)
    conversation_id, headers, turn = voice_turn(app)
    for rel_path in (turn.user_audio_path, turn.reply_audio_path):
        (Path(app.instance_path) / rel_path).unlink()

    with app.app_context():
        report = repair(app.extensions["maum.audio_store"], min_age_s=0)

    assert sorted(a.action for a in report.actions) == ["mark_reply_audio_missing", "mark_user_audio_missing"]
    [fixed] = stored_turns(app)
    assert fixed.reply_audio_missing and fixed.reply_audio_path is None and fixed.user_audio_path is None
    assert fixed.synthesis_error == "audio_file_lost" and "store_audio" in fixed.degraded
    assert fixed.reply_text == turn.reply_text, "the words are kept"
    html = page(signed_in(app, "kim@example.kr"), f"/counsellor/conversations/{conversation_id}")
    assert "<audio" not in html
    assert "녹음 파일을 찾을 수 없어요" in html and "답 음성을 만들지 못했어요" in html


def test_the_start_up_sweep_removes_old_leftovers_but_not_files_a_turn_is_committing(tmp_path, apps):
    app = apps(tmp_path)
    conversation_id, _, turn = voice_turn(app)
    folder = Path(app.instance_path) / "audio" / conversation_id
    old_orphan = folder / "0123456789abcdef0123456789abcdef-reply.wav"  # crash before commit
    old_partial = folder / temporary_name("fedcba9876543210fedcba9876543210-user.wav")  # crash mid-write
    fresh = folder / "00000000000000000000000000000000-reply.wav"  # another worker, about to commit
    for path in (old_orphan, old_partial, fresh):
        path.write_bytes(b"RIFF")
    age(old_orphan, ORPHAN_MIN_AGE_S + 60)
    age(old_partial, ORPHAN_MIN_AGE_S + 60)

    report = sweep_at_startup(app)

    assert sorted(a.action for a in report.actions) == ["remove_orphan", "remove_temporary"]
    assert not old_orphan.exists() and not old_partial.exists()
    assert fresh.exists(), "a file younger than the in-flight limit may belong to a turn being committed"
    assert (Path(app.instance_path) / turn.reply_audio_path).exists() and (
        Path(app.instance_path) / turn.user_audio_path
    ).exists()
    assert sweep_at_startup(app) is None, "once per process"


def test_the_start_up_sweep_looks_only_at_what_changed_since_the_last_one(tmp_path, apps):
    app = apps(tmp_path)
    untouched = Path(app.instance_path) / "audio" / ("a" * 32)
    untouched.mkdir(parents=True)
    orphan = untouched / ("b" * 32 + "-reply.wav")
    orphan.write_bytes(b"RIFF")
    for path in (orphan, untouched):
        age(path, 3 * 86400)
    (Path(app.instance_path) / MARKER).touch()  # a sweep ran just now

    assert sweep_at_startup(app).actions == [], "a folder untouched since before the last sweep is not read"
    assert orphan.exists()
    with app.app_context():
        full = repair(app.extensions["maum.audio_store"])
    assert [a.action for a in full.actions] == ["remove_orphan"] and not orphan.exists()


def test_only_one_worker_sweeps_at_a_time(tmp_path, apps):
    app = apps(tmp_path)
    with _instance_lock(app.instance_path, blocking=True):
        assert sweep_at_startup(app) is None


def test_flask_repair_lists_then_fixes(tmp_path, apps):
    app = apps(tmp_path)
    conversation_id, _, turn = voice_turn(app)
    (Path(app.instance_path) / turn.reply_audio_path).unlink()
    leftover = Path(app.instance_path) / "audio" / conversation_id / temporary_name("c" * 32 + "-user.wav")
    leftover.write_bytes(b"RIFF")
    runner = app.test_cli_runner()

    preview = runner.invoke(args=["repair", "--dry-run", "--min-age-minutes", "0"])
    assert preview.exit_code == 0, preview.output
    assert "(미리 보기)" in preview.output and "2건을 고칠 수 있어요" in preview.output
    assert leftover.exists() and stored_turns(app)[0].reply_audio_path == turn.reply_audio_path

    done = runner.invoke(args=["repair", "--min-age-minutes", "0"])
    assert done.exit_code == 0, done.output
    assert turn.id in done.output and "2건을 고쳤어요" in done.output
    assert not leftover.exists() and stored_turns(app)[0].reply_audio_missing
    assert "고칠 것이 없어요" in runner.invoke(args=["repair", "--min-age-minutes", "0"]).output


# --- database faults -------------------------------------------------------------------------


def assert_database_unavailable(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.json["error"]["code"] == "database_unavailable"
    assert has_every_crisis_line(response.json["error"]["message"])


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def test_a_write_locked_sqlite_answers_503_within_the_busy_timeout(tmp_path, apps):
    """Defect 3/5: a locked SQLite answered 500 internal_error after 5 s."""
    app = apps(tmp_path, sqlite_busy_timeout_ms=300, ready_timeout_ms=300)
    client = app.test_client()
    conversation_id, headers = start(client)
    locker = sqlite3.connect(Path(app.instance_path) / "maum.sqlite3", isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        created, created_s = timed(lambda: client.post("/api/conversations"))
        turn, _ = timed(lambda: say(client, conversation_id, headers, "죽고 싶어요"))
        ready, ready_s = timed(lambda: fetch(client, "/readyz"))
        health, health_s = timed(lambda: fetch(client, "/healthz"))
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert_database_unavailable(created)
    assert created_s < 2.5, f"took {created_s:.1f} s (Python's default busy timeout was 5 s)"
    assert_database_unavailable(turn)
    assert ready.status_code == 503 and ready.json["database"] == "not_writable" and ready_s < 2.5
    assert health.status_code == 200 and health_s < 1.0
    assert stored_turns(app) == [] and audio_files(app) == [], "nothing half-written"
    again = fetch(client, "/readyz")
    assert again.status_code == 200 and again.json["status"] == "ready"


def test_an_sqlite_file_replaced_by_an_empty_one_is_not_ready(tmp_path, apps):
    """Defect 5: /readyz ran only SELECT 1 and said ready; every API call then failed with 500."""
    app = apps(tmp_path)
    assert fetch(app.test_client(), "/readyz").json["status"] == "ready"
    database = Path(app.instance_path) / "maum.sqlite3"
    with app.app_context():
        db.engine.dispose()
    for path in database.parent.glob("maum.sqlite3*"):
        path.unlink()
    database.write_bytes(b"")
    client = app.test_client()

    ready = fetch(client, "/readyz")

    assert ready.status_code == 503 and ready.json["status"] == "unavailable"
    assert ready.json["database"] == "schema_missing" and ready.json["error"]["code"] == "database_unavailable"
    assert_database_unavailable(client.post("/api/conversations"))
    assert fetch(client, "/healthz").status_code == 200


def test_a_schema_behind_the_code_is_not_ready(tmp_path, apps):
    app = apps(tmp_path)
    with app.app_context():
        flask_migrate.downgrade(revision="-1")
    ready = fetch(app.test_client(), "/readyz")
    assert ready.status_code == 503 and ready.json["database"] == "schema_not_at_head"


@pytest.fixture
def silent_postgres():
    """A TCP server on 127.0.0.1 that accepts connections and never says a word (a hung PostgreSQL)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"postgresql://maum@127.0.0.1:{server.getsockname()[1]}/maum"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


@pytest.mark.enable_socket
def test_a_postgres_that_never_answers_gives_503_within_the_connect_timeout(tmp_path, apps, silent_postgres):
    """Defect 3: /readyz and POST /api/conversations hung ~130 s, and /healthz got no answer behind them."""
    app = apps(tmp_path, migrate=False, database_url=silent_postgres, db_connect_timeout_s=2)
    client = app.test_client()

    health, health_s = timed(lambda: fetch(client, "/healthz"))
    ready, ready_s = timed(lambda: fetch(client, "/readyz"))
    in_flight = threading.Thread(target=lambda: app.test_client().post("/api/conversations"))
    in_flight.start()
    time.sleep(0.2)
    health_meanwhile, health_meanwhile_s = timed(lambda: fetch(client, "/healthz"))
    in_flight.join()
    created, created_s = timed(lambda: client.post("/api/conversations"))

    assert health.status_code == 200 and health_s < 1.0
    assert ready.status_code == 503 and ready.json["database"] == "unreachable"
    assert 1.5 < ready_s < 8, f"/readyz took {ready_s:.1f} s (the connect timeout is 2 s)"
    assert health_meanwhile.status_code == 200 and health_meanwhile_s < 1.0
    assert_database_unavailable(created)
    assert created_s < 8, f"POST /api/conversations took {created_s:.1f} s"


def test_a_postgres_statement_stuck_on_a_lock_is_cancelled_and_answered_503(tmp_path, apps):
    """A statement that waits too long is cancelled by statement_timeout: 503, and /readyz says so."""
    url = fresh_postgres_database()  # skipped without MAUM_TEST_POSTGRES_URL
    app = apps(tmp_path, database_url=url, db_statement_timeout_ms=500, ready_timeout_ms=300)
    client = app.test_client()
    assert fetch(client, "/readyz").json["status"] == "ready"
    blocker = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with blocker.connect() as connection:
            connection.execute(sa.text("LOCK TABLE conversations, alembic_version IN ACCESS EXCLUSIVE MODE"))
            created, created_s = timed(lambda: client.post("/api/conversations"))
            ready, ready_s = timed(lambda: fetch(client, "/readyz"))
            connection.rollback()
    finally:
        blocker.dispose()
    assert_database_unavailable(created)
    assert created_s < 3, f"took {created_s:.1f} s"
    assert ready.status_code == 503 and ready.json["database"] == "unreachable" and ready_s < 3
    assert fetch(client, "/readyz").json["status"] == "ready"


def test_the_pipeline_itself_degrades_without_the_web_app():
    class Broken:
        def classify(self, text):
            raise RuntimeError("classifier crashed")

        def respond(self, text, emotion, risk, history=()):
            raise RuntimeError("responder crashed")

        def synthesize(self, text, **kwargs):
            raise RuntimeError("voice crashed")

    broken = Broken()
    no_fallback = dataclasses.replace(FAKE, synthesizer_fallback="")  # no espeak to give way to
    pipe = Pipeline(no_fallback, classifier=broken, responder=broken, synthesizer=broken)

    ordinary = pipe.run_text("요즘 회사 일이 너무 많아서 지쳐요")
    assert ordinary.degraded == ("classify", "respond", "synthesize")
    assert ordinary.reply.text and ordinary.speech is None

    result = pipe.run_text("다 끝내고 싶어요. 약을 모아 뒀어요")

    assert result.degraded == ("classify", "synthesize")  # the crisis reply needs no responder
    assert result.risk.level == "high" and result.emotion.label == "neutral"
    assert result.reply.kind == "crisis" and has_every_crisis_line(result.reply.text)
    assert result.speech is None and result.synthesis_error == "synthesis_failed"
    assert {"risk", "emotion", "respond", "synthesize", "total"} <= set(result.timings_ms)
