"""The practice page and its API on the fake pipeline (the fake transcriber always hears 오늘 좀 우울해요)."""

from __future__ import annotations

import hashlib
import io

import jsonschema
import pytest
import soundfile as sf
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from pipeline.pronunciation.g2p import RULES, pronounce
from pipeline.pronunciation.sentences import find_sentence, practice_sets
from tests.samples import tone
from webapp.api.views import openapi_document
from webapp.db import PracticeAttempt, db
from webapp.practice.views import LEARNER_COOKIE

HEARD = "오늘 좀 우울해요"  # what FakeTranscriber hears in any sound
DOC = openapi_document()
REGISTRY = Registry().with_resource("urn:maum-openapi", Resource(contents=DOC, specification=DRAFT202012))


def assert_matches(instance: dict, name: str) -> None:
    ref = {"$ref": f"urn:maum-openapi#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(ref, registry=REGISTRY).validate(instance)


def wav(seconds: float = 1.5, amplitude: float = 0.3, sample_rate: int = 16000, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(seconds, sample_rate, amp=amplitude), sample_rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def attempt(client, text: str = HEARD, audio: bytes | None = None, **fields):
    data = {"audio": (io.BytesIO(wav() if audio is None else audio), "reading.wav"), **fields}
    if text:
        data["text"] = text
    return client.post("/api/practice/attempts", data=data, content_type="multipart/form-data")


def test_practice_sets_are_graded_and_cover_every_rule():
    sets = practice_sets()
    assert [s.level for s in sets] == [1, 2, 3]
    sentences = [x for s in sets for x in s.sentences]
    assert len(sentences) >= 60
    assert len({x.id for x in sentences}) == len(sentences)
    used = {r.rule for x in sentences for r in pronounce(x.text).rules}
    assert used == set(RULES)
    articles = {r.article for x in sentences for r in pronounce(x.text).rules}
    for number in (5, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 23, 24, 25, 26, 27, 28, 29):
        assert f"제{number}항" in articles
    assert find_sentence("2-01").text == "국물이 정말 시원해요."
    assert find_sentence("9-99") is None


def test_page_lists_the_sentences_and_loads_only_its_own_files(client):
    response = client.get("/practice")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "국물이 정말 시원해요." in html
    assert 'src="/static/practice.js"' in html and "practice.css" in html
    assert "<script>" not in html  # the CSP forbids inline scripts
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_sentences_api_gives_each_sentence_its_pronunciation(client):
    response = client.get("/api/practice/sentences")
    assert response.status_code == 200
    assert_matches(response.json, "PracticeSets")
    first = response.json["sets"][1]["sentences"][0]
    assert first["text"] == "국물이 정말 시원해요."
    assert first["pronunciation"] == "궁무리 정말 시원해요"
    assert "제18항 비음화" in [r["label"] for r in first["rules"]]


def test_pronounce_api(client):
    response = client.post("/api/practice/pronounce", json={"text": "신라에서 국물을 먹었다"})
    assert response.status_code == 200
    assert_matches(response.json, "Pronunciation")
    assert response.json["pronunciation"] == "실라에서 궁무를 머걷따"
    assert (
        "'국물을'은 [궁무를]로 소리 나요 — 받침 ㄱ이 ㅁ 앞에서 [ㅇ]으로 바뀌어요 (비음화, 제18항)"
        in (response.json["explanations"])
    )
    assert client.post("/api/practice/pronounce", json={"text": "?!"}).json["error"]["code"] == (
        "practice_text_not_korean"
    )
    assert client.post("/api/practice/pronounce", json={}).json["error"]["code"] == "practice_text_missing"
    assert client.post("/api/practice/pronounce", data="x").status_code == 400


def test_an_attempt_is_scored_stored_and_listed_for_its_learner_only(app, client):
    good = attempt(client)
    assert good.status_code == 201
    assert_matches(good.json, "PracticeAttempt")
    assert good.json["scores"]["accuracy"] == 100
    assert all(s["rating"] == "good" for s in good.json["syllables"])
    cookie = client.get_cookie(LEARNER_COOKIE)
    assert cookie is not None and cookie.http_only

    bad = attempt(client, text="검게 탄 얼굴이 그대로 비치었다")
    assert bad.status_code == 201
    assert bad.json["scores"]["overall"] < 40
    assert sum(s["rating"] == "wrong" for s in bad.json["syllables"]) >= 8
    assert client.get_cookie(LEARNER_COOKIE).value == cookie.value  # the same learner

    history = client.get("/api/practice/attempts")
    assert_matches(history.json, "PracticeHistory")
    assert [a["text"] for a in history.json["attempts"]] == [HEARD, "검게 탄 얼굴이 그대로 비치었다"]
    only = client.get("/api/practice/attempts", query_string={"text": HEARD}).json["attempts"]
    assert [a["id"] for a in only] == [good.json["attempt_id"]]

    stranger = app.test_client()
    assert stranger.get("/api/practice/attempts").json == {"attempts": []}
    with app.app_context():
        rows = db.session.scalars(db.select(PracticeAttempt)).all()
        assert len(rows) == 2
        assert {r.learner_hash for r in rows} == {hashlib.sha256(cookie.value.encode()).hexdigest()}
        assert rows[0].result["syllables"][0]["spelled"] in {"오", "검"}


def test_attempt_by_sentence_id(client):
    response = attempt(client, text="", sentence_id="2-01")
    assert response.status_code == 201
    assert response.json["text"] == "국물이 정말 시원해요."
    assert response.json["sentence_id"] == "2-01"
    first = response.json["syllables"][0]
    assert first["expected"] == "궁" and first["rating"] == "wrong"  # the fake heard another sentence
    assert first["explanation"][0].startswith("'국물이'는 [궁무리]로 소리 나요")
    unknown = attempt(client, text="", sentence_id="9-99")
    assert unknown.status_code == 400 and unknown.json["error"]["code"] == "practice_sentence_unknown"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"text": ""}, 400, "practice_text_missing"),
        ({"text": "가" * 300}, 400, "text_too_long"),
        ({"audio": b""}, 400, "audio_empty"),
        ({"audio": wav(amplitude=0.0)}, 400, "audio_silent"),
        ({"audio": b"not audio at all" * 10}, 400, "audio_undecodable"),
        # 8 kHz, 8 bit: under the 500 KB at which the test client spools the upload to a temporary file
        ({"audio": wav(seconds=31.0, sample_rate=8000, subtype="PCM_U8")}, 400, "audio_too_long"),
    ],
)
def test_attempt_errors_have_stable_codes_and_korean_messages(client, kwargs, status, code):
    response = attempt(client, **kwargs)
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert any("\uac00" <= ch <= "\ud7a3" for ch in response.json["error"]["message"])


def test_attempt_needs_multipart_and_audio(client):
    assert client.post("/api/practice/attempts", json={"text": HEARD}).status_code == 415
    missing = client.post("/api/practice/attempts", data={"text": HEARD}, content_type="multipart/form-data")
    assert missing.status_code == 400 and missing.json["error"]["code"] == "audio_missing"


def test_speech_of_the_target(client):
    response = client.get("/api/practice/speech", query_string={"text": "국물이 정말 시원해요."})
    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    samples, rate = sf.read(io.BytesIO(response.data))
    assert rate == 16000 and len(samples) > 1000
    assert client.get("/api/practice/speech").json["error"]["code"] == "practice_text_missing"


def test_a_failing_voice_answers_503_in_korean_and_the_pipeline_keeps_scoring(app, client):
    from pipeline.turn import Pipeline

    class _Broken:
        name = "broken"

        def synthesize(self, text: str, *, tone: str = ""):
            raise RuntimeError("voice engine crashed")

    pipe = app.extensions["maum.pipeline"]
    app.extensions["maum.pipeline"] = Pipeline(pipe.settings, synthesizer=_Broken())
    response = client.get("/api/practice/speech", query_string={"text": "국물이 정말 시원해요."})
    assert response.status_code == 503
    assert response.json["error"] == {"code": "synthesis_failed", "message": "지금은 문장을 읽어 드릴 수 없어요."}
    assert "crashed" not in response.get_data(as_text=True)  # the cause is logged, never shown
    scored = attempt(client)
    assert scored.status_code == 201 and scored.json["heard"]["text"] == HEARD
