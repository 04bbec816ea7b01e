"""Audio at rest: both store backends (local folder, S3 through moto in-process), encryption, key
rotation, Opus replies, idempotent turns, and purge and repair on S3."""

from __future__ import annotations

import base64
import dataclasses
import io
import os
import stat
import uuid
from datetime import timedelta

import boto3
import flask_migrate
import pytest
import soundfile as sf
import sqlalchemy as sa
from moto import mock_aws

from tests.conftest import TEST_AUDIO_KEYS
from tests.samples import tone
from tests.web import bearer, fetch, say, speak, start, tone_wav, turns
from webapp import create_app
from webapp.audio_format import encode_reply, to_wav
from webapp.audiocrypt import AudioDecryptError, AudioKeyError, AudioKeyring, is_encrypted, new_key_b64
from webapp.config import AppSettings
from webapp.conversations import DuplicateTurn, record_turn
from webapp.counsellor.retention import purge
from webapp.db import Conversation, db, utcnow
from webapp.repair import repair
from webapp.storage import LocalAudioStore, S3AudioStore, reencrypt

BUCKET = "maum-audio"


def keyring(*ids: str, current: str | None = None) -> AudioKeyring:
    keys = {i: base64.b64decode(TEST_AUDIO_KEYS.split(":")[1]) if i == "test1" else os.urandom(32) for i in ids}
    return AudioKeyring(keys=keys, current=current or ids[-1])


@pytest.fixture
def s3():
    """An in-process S3 (moto) with an empty bucket; yields a boto3 client."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        yield LocalAudioStore(tmp_path / "instance", keyring("test1"))
        return
    s3_client = request.getfixturevalue("s3")
    yield S3AudioStore(s3_client, BUCKET, "maum/", keyring("test1"))


def test_a_stored_file_reads_back_and_is_encrypted_at_rest(store):
    wav = tone_wav()
    store.put("audio/c1/t1-user.wav", wav)
    assert store.read("audio/c1/t1-user.wav") == wav
    raw = store.read_raw("audio/c1/t1-user.wav")
    assert is_encrypted(raw) and raw[:4] != b"RIFF" and wav[44:200] not in raw
    assert store.exists("audio/c1/t1-user.wav") and not store.exists("audio/c1/other.wav")
    assert [p for p, _ in store.iter_files()] == ["audio/c1/t1-user.wav"]
    store.delete("audio/c1/t1-user.wav")
    store.delete("audio/c1/t1-user.wav")  # a missing file is fine
    assert not store.exists("audio/c1/t1-user.wav")
    with pytest.raises(FileNotFoundError):
        store.read("audio/c1/t1-user.wav")


def test_an_object_moved_to_another_turns_path_does_not_decrypt(store):
    store.put("audio/c1/a-reply.ogg", b"OggS secret words")
    store.put_raw("audio/c2/b-reply.ogg", store.read_raw("audio/c1/a-reply.ogg"))
    with pytest.raises(AudioDecryptError, match="another path"):
        store.read("audio/c2/b-reply.ogg")


def test_a_tampered_object_does_not_decrypt(store):
    store.put("audio/c1/a-reply.ogg", b"OggS secret words")
    raw = bytearray(store.read_raw("audio/c1/a-reply.ogg"))
    raw[-1] ^= 1
    store.put_raw("audio/c1/a-reply.ogg", bytes(raw))
    with pytest.raises(AudioDecryptError):
        store.read("audio/c1/a-reply.ogg")


def test_unencrypted_files_of_older_installs_still_read(store):
    wav = tone_wav()
    store.put_raw("audio/c1/old-user.wav", wav)
    assert store.read("audio/c1/old-user.wav") == wav


def test_paths_outside_the_audio_folder_are_refused(store):
    for bad in ("../secret_key", "audio/../secret_key", "/etc/passwd", "other/x.wav"):
        with pytest.raises(ValueError):
            store.put(bad, b"x")


def test_deleting_a_conversation_folder_removes_every_file_in_it(store):
    for name in ("a-user.wav", "a-reply.ogg", "b-reply.ogg"):
        store.put(f"audio/c1/{name}", b"x")
    store.put("audio/c2/keep.ogg", b"y")
    assert store.delete_folder("audio/c1") == 3
    assert [p for p, _ in store.iter_files()] == ["audio/c2/keep.ogg"]


def test_rotation_keeps_old_objects_readable_and_reencrypt_moves_them_to_the_new_key(store):
    store.put("audio/c1/a-user.wav", b"RIFF first")
    store.put_raw("audio/c1/legacy.wav", b"RIFF plaintext of an older install")
    old = store.keyring
    store.keyring = AudioKeyring(keys={**old.keys, "k2": os.urandom(32)}, current="k2")
    assert store.read("audio/c1/a-user.wav") == b"RIFF first", "old keys still decrypt"

    first = reencrypt(store)
    assert (first.rewritten, first.current, first.failed) == (2, 0, [])
    again = reencrypt(store)
    assert (again.rewritten, again.current) == (0, 2), "a second run rewrites nothing"

    store.keyring = AudioKeyring(keys={"k2": store.keyring.keys["k2"]}, current="k2")  # old key retired
    assert store.read("audio/c1/a-user.wav") == b"RIFF first"
    assert store.read("audio/c1/legacy.wav") == b"RIFF plaintext of an older install"


def test_an_object_under_a_key_no_longer_held_says_which_key(store):
    store.put("audio/c1/a-user.wav", b"RIFF")
    store.keyring = keyring("other")
    with pytest.raises(AudioDecryptError, match="'test1'"):
        store.read("audio/c1/a-user.wav")


def test_audio_key_settings_are_parsed_and_checked():
    key = new_key_b64()
    ring = AudioKeyring.parse(f"old:{key}, new:{new_key_b64()}")
    assert ring.current == "new" and set(ring.keys) == {"old", "new"}
    assert AudioKeyring.parse(f"old:{key},new:{new_key_b64()}", "old").current == "old"
    with pytest.raises(AudioKeyError, match="32"):
        AudioKeyring.parse("k:" + base64.b64encode(b"short").decode())
    with pytest.raises(AudioKeyError, match="MAUM_AUDIO_KEY_ID"):
        AudioKeyring.parse(f"k:{key}", "missing")
    with pytest.raises(AudioKeyError, match="base64"):
        AudioKeyring.parse("k:not base64!")


# --- the app: keys, multi-node refusals -----------------------------------------------------


def test_a_single_node_generates_its_audio_key_once_and_keeps_it_private(tmp_path):
    settings = AppSettings(instance_path=str(tmp_path / "instance"), secret_key="k")
    first, second = create_app(settings), create_app(settings)
    key_file = tmp_path / "instance" / "audio_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert first.extensions["maum.audio_store"].keyring == second.extensions["maum.audio_store"].keyring


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"database_url": "postgresql://maum@db/maum", "audio_keys": TEST_AUDIO_KEYS}, "MAUM_SECRET_KEY"),
        ({"audio_storage": "s3", "s3_bucket": BUCKET, "audio_keys": TEST_AUDIO_KEYS}, "MAUM_SECRET_KEY"),
        ({"database_url": "postgresql://maum@db/maum", "secret_key": "k"}, "MAUM_AUDIO_KEYS"),
        ({"audio_storage": "s3", "s3_bucket": BUCKET, "secret_key": "k"}, "MAUM_AUDIO_KEYS"),
    ],
)
def test_several_nodes_refuse_to_start_with_generated_keys(tmp_path, fields, named):
    with pytest.raises(RuntimeError, match=named):
        create_app(AppSettings(instance_path=str(tmp_path), **fields))
    assert not (tmp_path / "secret_key").exists() or named != "MAUM_SECRET_KEY"


def test_an_unknown_reply_audio_format_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match="MAUM_REPLY_AUDIO_FORMAT"):
        create_app(AppSettings(instance_path=str(tmp_path), secret_key="k", reply_audio_format="mp3"))


def test_s3_without_a_bucket_is_refused(tmp_path):
    with pytest.raises(ValueError, match="MAUM_S3_BUCKET"):
        create_app(
            AppSettings(instance_path=str(tmp_path), secret_key="k", audio_keys=TEST_AUDIO_KEYS, audio_storage="s3")
        )


# --- the app on S3 --------------------------------------------------------------------------


@pytest.fixture
def s3_app(settings, s3):
    s3_settings = dataclasses.replace(
        settings,
        audio_storage="s3",
        s3_bucket=BUCKET,
        s3_prefix="maum/",
        s3_region="us-east-1",
        s3_access_key_id="test",
        s3_secret_access_key="test",
    )
    app = create_app(s3_settings)
    app.config.update(TESTING=True)
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def bucket_keys(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", ()))


def test_a_voice_turn_on_s3_is_stored_encrypted_and_served_back(s3_app, s3):
    wav = tone_wav()
    client = s3_app.test_client()
    conversation_id, token = start(client)
    response = speak(client, conversation_id, token, wav)
    assert response.status_code == 201, response.json
    [turn] = turns(s3_app)
    assert bucket_keys(s3) == sorted(["maum/" + turn.user_audio_path, "maum/" + turn.reply_audio_path])
    assert not (s3_app.instance_path and os.path.exists(os.path.join(s3_app.instance_path, "audio")))
    for key in bucket_keys(s3):
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert body[:4] == b"MAUM" and body[:4] not in (b"RIFF", b"OggS")
    url = f"/api/conversations/{conversation_id}/turns/{turn.id}/audio"
    assert fetch(client, f"{url}/user", headers=bearer(token)).data == wav
    reply = fetch(client, f"{url}/reply", headers=bearer(token))
    assert reply.status_code == 200 and reply.mimetype == "audio/ogg" and reply.data[:4] == b"OggS"
    ranged = fetch(client, f"{url}/user", headers={**bearer(token), "Range": "bytes=100-"})
    assert ranged.status_code == 206 and ranged.data == wav[100:]


def test_purge_on_s3_removes_the_conversations_objects(s3_app, s3):
    client = s3_app.test_client()
    old_id, old_token = start(client)
    speak(client, old_id, old_token, tone_wav())
    new_id, new_token = start(client)
    speak(client, new_id, new_token, tone_wav())
    with s3_app.app_context():
        db.session.execute(
            sa.update(Conversation).where(Conversation.id == old_id).values(updated_at=utcnow() - timedelta(days=400))
        )
        db.session.commit()
        result = purge(s3_app.extensions["maum.audio_store"], 365)
    assert result.conversation_ids == [old_id] and result.files_removed == 2
    assert [k.split("/")[2] for k in bucket_keys(s3)] == [new_id, new_id], "only the kept conversation's audio"


def test_the_repair_sweep_lists_s3_by_prefix_and_removes_orphans(s3_app, s3):
    client = s3_app.test_client()
    conversation_id, token = start(client)
    speak(client, conversation_id, token, tone_wav())
    store = s3_app.extensions["maum.audio_store"]
    store.put(f"audio/{conversation_id}/orphan-reply.ogg", b"OggS left by a crash before the commit")
    s3.put_object(Bucket=BUCKET, Key="elsewhere/not-ours.wav", Body=b"RIFF")
    with s3_app.app_context():
        young = repair(store)
        swept = repair(store, min_age_s=0)
    assert young.actions == [], "a young file may belong to a turn being committed"
    assert [(a.action, a.path) for a in swept.actions] == [
        ("remove_orphan", f"audio/{conversation_id}/orphan-reply.ogg")
    ]
    assert len(bucket_keys(s3)) == 3 and "elsewhere/not-ours.wav" in bucket_keys(s3)


# --- idempotent turns -----------------------------------------------------------------------


def post_turn(client, conversation_id, token, text, key):
    return client.post(
        f"/api/conversations/{conversation_id}/turns",
        json={"text": text},
        headers={**bearer(token), "Idempotency-Key": key},
    )


def test_a_retried_turn_returns_the_same_turn_and_stores_it_once(app, client):
    conversation_id, token = start(client)
    key = str(uuid.uuid4())
    first = post_turn(client, conversation_id, token, "요즘 잠을 못 자요", key)
    retry = post_turn(client, conversation_id, token, "요즘 잠을 못 자요", key)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json == first.json
    assert len(turns(app)) == 1
    assert len([p for p in os.listdir(os.path.join(app.instance_path, "audio", conversation_id))]) == 1

    other = post_turn(client, conversation_id, token, "그리고 또 하나", str(uuid.uuid4()))
    assert other.status_code == 201 and other.json["turn_id"] != first.json["turn_id"]
    assert say(client, conversation_id, token, "키 없이").status_code == 201, "clients without the header still work"
    assert [t.index for t in turns(app)] == [0, 1, 2]


def test_the_same_key_in_another_conversation_is_another_turn(app, client):
    key = str(uuid.uuid4())
    a, a_token = start(client)
    b, b_token = start(client)
    assert post_turn(client, a, a_token, "안녕하세요", key).status_code == 201
    assert post_turn(client, b, b_token, "안녕하세요", key).status_code == 201
    assert len(turns(app)) == 2


def test_a_malformed_idempotency_key_is_refused_before_anything_is_stored(app, client):
    conversation_id, token = start(client)
    for bad in ("x" * 65, "공백 있는 키", ""):
        response = post_turn(client, conversation_id, token, "안녕하세요", bad)
        assert response.status_code == 400 and response.json["error"]["code"] == "invalid_idempotency_key"
        assert "다시" in response.json["error"]["message"]
    assert turns(app) == []


def test_a_racing_duplicate_leaves_one_turn_and_no_stray_audio(app, client):
    """Two nodes ran the same retried turn at once: the unique (conversation, key) keeps one."""
    conversation_id, token = start(client)
    key = str(uuid.uuid4())
    first = post_turn(client, conversation_id, token, "요즘 힘들어요", key)
    pipeline = app.extensions["maum.pipeline"]
    result = pipeline.run_text("요즘 힘들어요", [])
    with app.app_context():
        with pytest.raises(DuplicateTurn) as raised:
            record_turn(
                app.extensions["maum.audio_store"],
                conversation_id,
                result,
                user_audio=None,
                backends=pipeline.backend_names(),
                idempotency_key=key,
                reply_format="opus",
            )
        assert raised.value.turn.id == first.json["turn_id"]
    assert len(turns(app)) == 1
    assert len(os.listdir(os.path.join(app.instance_path, "audio", conversation_id))) == 1, "its files removed"


# --- Opus -----------------------------------------------------------------------------------


def test_opus_replies_are_a_fraction_of_the_wav_and_decode_to_the_same_length():
    buf = io.BytesIO()
    sf.write(buf, tone(20.0, sample_rate=22050, amp=0.3), 22050, format="WAV", subtype="PCM_16")
    wav = buf.getvalue()
    ogg, ext = encode_reply(wav, "opus", 24)
    assert ext == ".ogg" and ogg[:4] == b"OggS"
    assert len(ogg) < len(wav) / 8, f"{len(ogg)} bytes of Opus vs {len(wav)} of WAV for 20 s"
    pcm, rate = sf.read(io.BytesIO(to_wav(ogg)))
    assert rate == 16000 and abs(len(pcm) / rate - 20.0) < 0.1


def test_without_ffmpeg_the_reply_is_kept_as_wav(monkeypatch):
    monkeypatch.setattr("webapp.audio_format.FFMPEG", "no-such-ffmpeg-binary")
    wav = tone_wav()
    assert encode_reply(wav, "opus") == (wav, ".wav")
    with pytest.raises(ValueError, match="MAUM_REPLY_AUDIO_FORMAT"):
        encode_reply(wav, "mp3")


def test_the_wav_setting_keeps_replies_as_wav(settings):
    app = create_app(dataclasses.replace(settings, reply_audio_format="wav"))
    with app.app_context():
        flask_migrate.upgrade()
    client = app.test_client()
    conversation_id, token = start(client)
    body = say(client, conversation_id, token, "안녕하세요").json  # waits for the reply file
    reply_url = f"/api/conversations/{conversation_id}/turns/{body['turn_id']}/audio/reply"
    reply = fetch(client, reply_url, headers=bearer(token))
    assert reply.mimetype == "audio/wav" and reply.data[:4] == b"RIFF"
    with app.app_context():
        db.engine.dispose()


@pytest.mark.browser
@pytest.mark.enable_socket
def test_chromium_plays_the_stored_opus_reply_in_an_audio_element(s3_app):
    """The chat page plays replies with ``<audio>``: Debian's Chromium must decode what is stored."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_chromium
    from webapp.reply_audio import wait_for_reply_audio

    client = s3_app.test_client()
    conversation_id, token = start(client)
    body = say(client, conversation_id, token, "안녕하세요").json
    wait_for_reply_audio()  # the complete reply file is assembled after the answer
    reply_url = f"/api/conversations/{conversation_id}/turns/{body['turn_id']}/audio/reply"
    ogg = fetch(client, reply_url, headers=bearer(token)).data
    assert ogg[:4] == b"OggS"
    src = "data:audio/ogg;base64," + base64.b64encode(ogg).decode()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.set_content("<audio id=a></audio>")
            duration = page.evaluate(
                """src => new Promise((resolve, reject) => {
                    const a = document.getElementById("a");
                    a.onloadedmetadata = () => resolve(a.duration);
                    a.onerror = () => reject(new Error("cannot decode: " + (a.error && a.error.code)));
                    a.src = src;
                })""",
                src,
            )
        finally:
            browser.close()
    expected = sf.info(io.BytesIO(to_wav(ogg))).duration
    assert abs(duration - expected) < 0.1
