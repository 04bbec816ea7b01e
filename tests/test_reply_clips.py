"""Reply audio sentence by sentence: the turn answer's clips, the clip endpoint and the complete file."""

from __future__ import annotations

import dataclasses
import io
import time
from dataclasses import dataclass

import pytest
import soundfile as sf

from pipeline.speech.voice import FIRST_CLIP_MAX, first_clause, reply_sentences, speakable_len
from pipeline.turn import Pipeline
from pipeline.types import Reply
from tests.test_speech_cache import BrokenSynthesizer, CountingSynthesizer
from webapp.audio_format import to_wav
from webapp.db import Turn, db
from webapp.repair import STALE_ASSEMBLY_S, repair, reply_finisher
from webapp.reply_audio import wait_for_reply_audio

# No crisis line in it: a calm conversation hears none (the care layer drops such sentences).
THREE_SENTENCES = "많이 힘드셨겠어요. 천천히 이야기해 주세요. 내일 또 이야기해요."


@dataclass(frozen=True)
class SpokenReply(Reply):
    """A reply with a shorter spoken form (as the care responder gives crisis replies)."""

    spoken_text: str = ""


class FixedResponder:
    def __init__(self, reply: Reply):
        self.reply = reply

    def respond(self, text, emotion, risk, history=()):
        return self.reply


@pytest.fixture
def voice_app(app, settings, tmp_path):
    """The app with a three-sentence reply and a counting, cacheable voice."""
    pipeline_settings = dataclasses.replace(settings.pipeline, tts_cache_dir=str(tmp_path / "tts"))
    synthesizer = CountingSynthesizer()
    app.extensions["maum.pipeline"] = Pipeline(
        pipeline_settings, synthesizer=synthesizer, responder=FixedResponder(Reply(THREE_SENTENCES))
    )
    return app, synthesizer


def start(client) -> tuple[str, dict[str, str]]:
    body = client.post("/api/conversations").json
    return body["id"], {"Authorization": f"Bearer {body['token']}"}


def say(client, conversation_id, headers, text="요즘 잠이 안 와요"):
    response = client.post(f"/api/conversations/{conversation_id}/turns", json={"text": text}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def get(client, url, headers):
    response = client.get(url, headers=headers)
    response.get_data()
    response.close()
    return response


def test_the_answer_lists_one_clip_per_sentence_and_each_plays(voice_app):
    app, synthesizer = voice_app
    client = app.test_client()
    conversation_id, headers = start(client)
    body = say(client, conversation_id, headers)
    clips = body["reply"]["clips"]
    assert [c["text"] for c in clips] == ["많이 힘드셨겠어요.", "천천히 이야기해 주세요.", "내일 또 이야기해요."]
    for n, clip in enumerate(clips):
        assert clip["url"].endswith(f"/turns/{body['turn_id']}/audio/reply/{n}")
        response = get(client, clip["url"], headers)
        assert response.status_code == 200 and response.mimetype == "audio/wav"
        assert response.headers["Cache-Control"] == "no-store"
        samples, rate = sf.read(io.BytesIO(response.data))
        assert rate == 24000 and len(samples) / rate == pytest.approx(0.1 + 0.02 * len(clip["text"]), abs=0.01)
    wait_for_reply_audio()
    spoken = [text for text, _ in synthesizer.calls]
    assert sorted(spoken) == sorted(c["text"] for c in clips), "each sentence synthesised once, then cached"


def test_the_complete_reply_file_is_assembled_after_the_answer(voice_app):
    app, _ = voice_app
    client = app.test_client()
    conversation_id, headers = start(client)
    body = say(client, conversation_id, headers)
    assert body["reply"]["audio_url"] is None and body["reply"]["audio_missing"] is False
    wait_for_reply_audio()
    with app.app_context():
        turn = db.session.get(Turn, body["turn_id"])
        assert turn.reply_audio_path and not turn.reply_audio_missing
    whole = get(client, f"/api/conversations/{conversation_id}/turns/{body['turn_id']}/audio/reply", headers)
    assert whole.status_code == 200
    # Stored encrypted and (by default) as Ogg Opus: decode what the client is served.
    info = sf.info(io.BytesIO(to_wav(whole.data)))
    sentence_s = sum(0.1 + 0.02 * len(c["text"]) for c in body["reply"]["clips"])
    assert info.duration == pytest.approx(sentence_s + 2 * 0.3, abs=0.05)


def answer_with(app, settings, tmp_path, reply) -> None:
    """Serve ``reply`` to every turn, spoken by a counting synthesizer through a fresh sentence cache."""
    app.extensions["maum.pipeline"] = Pipeline(
        dataclasses.replace(settings.pipeline, tts_cache_dir=str(tmp_path / "tts")),
        synthesizer=CountingSynthesizer(),
        responder=FixedResponder(reply),
    )


def test_clips_speak_the_shorter_spoken_form_when_there_is_one(app, settings, tmp_path):
    reply = SpokenReply(text=THREE_SENTENCES, kind="crisis", spoken_text="지금 바로 109에 전화해 주세요.")
    answer_with(app, settings, tmp_path, reply)
    client = app.test_client()
    conversation_id, headers = start(client)
    body = say(client, conversation_id, headers)
    assert body["reply"]["text"] == THREE_SENTENCES, "the page still shows the whole reply"
    assert [c["text"] for c in body["reply"]["clips"]] == ["지금 바로 109에 전화해 주세요."]
    wait_for_reply_audio()


def test_a_clip_is_made_by_whichever_worker_gets_the_request(voice_app, settings, tmp_path):
    app, first_worker_voice = voice_app
    client = app.test_client()
    conversation_id, headers = start(client)
    body = say(client, conversation_id, headers)
    wait_for_reply_audio()
    # Another worker (a fresh pipeline) on the same machine finds the sentences in the shared cache.
    other_voice = CountingSynthesizer()
    app.extensions["maum.pipeline"] = Pipeline(
        dataclasses.replace(settings.pipeline, tts_cache_dir=str(tmp_path / "tts")), synthesizer=other_voice
    )
    assert get(client, body["reply"]["clips"][2]["url"], headers).status_code == 200
    assert other_voice.calls == []
    # A worker on another node (its own empty cache) synthesises it on demand.
    app.extensions["maum.pipeline"] = Pipeline(
        dataclasses.replace(settings.pipeline, tts_cache_dir=str(tmp_path / "other-node")), synthesizer=other_voice
    )
    assert get(client, body["reply"]["clips"][2]["url"], headers).status_code == 200
    assert other_voice.calls == [("내일 또 이야기해요.", "neutral")]


def test_clips_are_only_for_the_conversation_token(voice_app):
    app, _ = voice_app
    client = app.test_client()
    conversation_id, headers = start(client)
    body = say(client, conversation_id, headers)
    url = body["reply"]["clips"][0]["url"]
    stranger = app.test_client()
    assert get(stranger, url, {}).status_code == 401
    assert get(stranger, url, {"Authorization": "Bearer wrong"}).status_code == 404
    _, other_headers = start(stranger)
    assert get(stranger, url, other_headers).status_code == 404
    missing = get(client, url.rsplit("/", 1)[0] + "/3", headers)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wait_for_reply_audio()


def test_a_clip_no_voice_can_speak_is_a_503_in_korean(app, settings, tmp_path):
    app.extensions["maum.pipeline"] = Pipeline(
        dataclasses.replace(settings.pipeline, synthesizer_fallback="", tts_cache_dir=str(tmp_path / "tts")),
        synthesizer=BrokenSynthesizer(),
    )
    client = app.test_client()
    conversation_id, headers = start(client)
    body = say(client, conversation_id, headers)
    assert body["reply"]["text"], "the text is the answer even without a voice"
    response = get(client, body["reply"]["clips"][0]["url"], headers)
    assert response.status_code == 503
    assert response.json["error"]["code"] == "synthesis_failed" and "글로" in response.json["error"]["message"]
    wait_for_reply_audio()
    with app.app_context():
        turn = db.session.get(Turn, body["turn_id"])
        assert turn.reply_audio_missing and turn.reply_audio_path is None


# --- the short first clip ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "head"),
    [
        ("지금 많이 힘드시면 자살예방상담전화 109에 전화해 주세요.", "지금 많이 힘드시면"),  # a clause ending
        ("청소년 상담은 1388, 여성 긴급전화는 1366이에요.", "청소년 상담은 1388,"),  # a comma first
        ("요즘 3주 동안 잠을 잘 못 주무셨군요.", "요즘 3주 동안 잠을"),  # a noun phrase, not 잘 못 | 주무셨군요
        ("친구 2명에게 먼저 연락해 보는 건 어떨까요?", "친구 2명에게"),
    ],
)
def test_a_long_first_sentence_is_cut_after_its_first_clause(sentence, head):
    first, rest = first_clause(sentence)
    assert first == head
    assert f"{first} {rest}" == sentence, "nothing is lost or reordered"
    assert speakable_len(first) <= FIRST_CLIP_MAX


def test_a_short_first_sentence_and_the_later_ones_stay_whole():
    text = "많이 힘드셨겠어요. 지금 많이 힘드시면 자살예방상담전화 109에 전화해 주세요."
    assert reply_sentences(text) == ["많이 힘드셨겠어요.", "지금 많이 힘드시면 자살예방상담전화 109에 전화해 주세요."]


def test_numbers_and_words_are_never_split_and_a_lone_word_is_not_left_behind():
    for sentence in (
        "정신건강위기상담 전화는 1577-0199예요.",
        "상담 센터 번호는 02-123-4567이에요.",
        "자살예방상담전화번호를꼭기억해주세요.",
    ):
        clips = reply_sentences(sentence)
        assert " ".join(clips) == sentence
        assert all(speakable_len(c) >= 5 for c in clips)
        assert not any(c.endswith(("-", "15", "02")) for c in clips[:-1])


def test_the_first_clip_of_a_long_reply_is_short_and_the_answer_lists_it_first(app, settings, tmp_path):
    # A crisis reply (its lines are kept whatever the turn's level), long enough to be cut at a clause.
    reply = Reply("지금 많이 힘드시면 자살예방상담전화 109에 전화해 주세요. 저는 여기 있어요.", kind="crisis")
    answer_with(app, settings, tmp_path, reply)
    client = app.test_client()
    conversation_id, headers = start(client)
    body = say(client, conversation_id, headers)
    clips = [c["text"] for c in body["reply"]["clips"]]
    assert clips == ["지금 많이 힘드시면", "자살예방상담전화 109에 전화해 주세요.", "저는 여기 있어요."]
    assert get(client, body["reply"]["clips"][0]["url"], headers).status_code == 200
    wait_for_reply_audio()


# --- a reply file a dead worker never finished ---------------------------------------------------


def abandoned_turn(app, monkeypatch) -> tuple[str, dict[str, str], dict]:
    """A turn answered by a worker that died before it assembled the complete reply file."""
    monkeypatch.setattr("webapp.api.views.start_reply_audio", lambda app, turn: None)
    client = app.test_client()
    conversation_id, headers = start(client)
    return conversation_id, headers, say(client, conversation_id, headers)


def test_the_repair_sweep_finishes_a_reply_file_a_dead_worker_left(voice_app, monkeypatch):
    app, _ = voice_app
    conversation_id, headers, body = abandoned_turn(app, monkeypatch)
    with app.app_context():
        young = repair(app.extensions["maum.audio_store"], min_age_s=0, finish=reply_finisher(app))
        assert young.count("finish_reply_audio") == 0, "a reply still being assembled is left alone"
        later = time.time() + STALE_ASSEMBLY_S + 1
        preview = repair(app.extensions["maum.audio_store"], dry_run=True, now=later)
        assert [a.action for a in preview.actions] == ["finish_reply_audio"]
        report = repair(app.extensions["maum.audio_store"], now=later, finish=reply_finisher(app))
        assert [(a.action, a.turn_id) for a in report.actions] == [("finish_reply_audio", body["turn_id"])]
    client = app.test_client()
    whole = get(client, f"/api/conversations/{conversation_id}/turns/{body['turn_id']}/audio/reply", headers)
    assert whole.status_code == 200
    sentence_s = sum(0.1 + 0.02 * len(c["text"]) for c in body["reply"]["clips"])
    assert sf.info(io.BytesIO(to_wav(whole.data))).duration == pytest.approx(sentence_s + 2 * 0.3, abs=0.05)


def test_an_abandoned_reply_that_cannot_be_finished_is_marked_not_left_pending(voice_app, monkeypatch):
    app, _ = voice_app
    conversation_id, headers, body = abandoned_turn(app, monkeypatch)
    with app.app_context():
        report = repair(app.extensions["maum.audio_store"], now=time.time() + STALE_ASSEMBLY_S + 1)
        assert [a.action for a in report.actions] == ["mark_reply_audio_unfinished"]
        assert "마저 만들지 못했어요" in report.actions[0].line()
        turn = db.session.get(Turn, body["turn_id"])
        assert turn.reply_audio_missing and turn.synthesis_error == "assembly_interrupted"
    past = app.test_client().get(f"/api/conversations/{conversation_id}", headers=headers)
    assert past.status_code == 200
    shown = [t for t in past.json["turns"] if t["turn_id"] == body["turn_id"]][0]
    assert shown["reply"]["audio_missing"] is True and shown["reply"]["audio_url"] is None
