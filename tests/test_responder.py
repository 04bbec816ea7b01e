"""The care responder: crisis first, social turns, no repeats, choice by meaning and emotion."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from pipeline.care.bank import load_bank
from pipeline.care.responder import WATCH_NOTE, CareResponder, detect_intent
from pipeline.errors import ModelFilesError
from pipeline.settings import Settings
from pipeline.types import EMOTION_LABELS, Emotion, HistoryTurn, Risk

CRISIS_NUMBERS = ("109", "1577-0199", "112", "119", "1388", "1366")


def bigram_embed(texts):
    """A stand-in for e5: hashed character bigrams, L2-normalised, 384 dims."""
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for row, text in enumerate(texts):
        compact = text.replace(" ", "")
        for a, b in zip(compact, compact[1:], strict=False):
            out[row, zlib.crc32((a + b).encode()) % 384] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


def emotion(label: str) -> Emotion:
    return Emotion(label=label, scores={lab: (0.94 if lab == label else 0.01) for lab in EMOTION_LABELS})


def small_bank(tmp_path):
    bank = {
        "version": 1,
        "replies": [
            {"id": "sad-work-01", "emotion": "sadness", "situation": "work",
             "cues": ["회사에서 혼나서 속상해요", "상사한테 깨졌어"],
             "text": "회사 일로 많이 속상하셨겠어요. 어떤 일이 있었나요?"},
            {"id": "sad-work-02", "emotion": "sadness", "situation": "work",
             "cues": ["회사 가기가 너무 싫어요"], "text": "출근이 무겁게 느껴지시는군요. 언제부터 그러셨어요?"},
            {"id": "happy-gen-01", "emotion": "happiness", "situation": "general",
             "cues": ["오늘 정말 기분 좋아요", "시험에 붙었어"], "text": "기쁜 소식이네요! 어떤 기분이 드세요?"},
            {"id": "anger-fam-01", "emotion": "anger", "situation": "family",
             "cues": ["동생 때문에 화가 나요"], "text": "가족 때문에 화가 나셨군요. 무슨 일이 있었나요?"},
        ],
        "intents": {
            "greeting": [{"id": "greet-01", "text": "안녕하세요, 저는 마음이에요."}],
            "thanks": [{"id": "thanks-01", "text": "말씀해 주셔서 저도 고마워요."}],
            "goodbye": [{"id": "bye-01", "text": "언제든 다시 오세요."}],
            "identity": [{"id": "who-01", "text": "저는 AI 마음이에요."}],
            "listen": [{"id": "listen-01", "text": "그러셨군요. 조금 더 들려주실래요?"}],
            "fallback": [{"id": "fb-01", "text": "잘 듣지 못했어요. 다시 말씀해 주시겠어요?"},
                         {"id": "fb-02", "text": "조금 더 이야기해 주시겠어요?"}],
        },
        "crisis": [{"id": "crisis-01", "text": "지금 정말 힘드시군요. 109, 1577-0199, 112, 119, 1388, 1366."},
                   {"id": "crisis-02", "text": "당신의 안전이 중요해요. 109, 1577-0199, 112, 119, 1388, 1366."}],
    }  # fmt: skip
    path = tmp_path / "replies.json"
    path.write_text(json.dumps(bank, ensure_ascii=False), encoding="utf-8")
    return path


def make_responder(tmp_path, **settings):
    return CareResponder(Settings(replies_path=str(small_bank(tmp_path)), **settings), embed=bigram_embed)


@pytest.fixture
def responder(tmp_path):
    # Bigram cosines are far lower than e5's, so the "nothing is close" threshold is off here.
    return make_responder(tmp_path, care_min_match=0.0)


def test_closest_reply_by_meaning(responder):
    reply = responder.respond("회사에서 혼나서 너무 속상해", emotion("sadness"), Risk())
    assert reply.reply_id == "sad-work-01" and reply.kind == "empathy"
    assert responder.respond("시험에 붙었어요", emotion("happiness"), Risk()).reply_id == "happy-gen-01"


def test_emotion_breaks_ties_between_similar_cues(responder):
    scores_sad, _ = responder.rank("오늘", emotion("sadness"))
    scores_happy, _ = responder.rank("오늘", emotion("happiness"))
    ids = [r.id for r in responder.bank.replies]
    assert scores_happy[ids.index("happy-gen-01")] - scores_sad[ids.index("happy-gen-01")] > 0.2


def test_no_reply_repeats_within_a_conversation(responder):
    history: list[HistoryTurn] = []
    seen = []
    for _ in range(4):
        reply = responder.respond("회사에서 혼나서 속상해요", emotion("sadness"), Risk(), history)
        seen.append(reply.reply_id)
        history.append(HistoryTurn("회사에서 혼나서 속상해요", reply.text, "sadness", reply.reply_id))
    assert len(set(seen)) == 4
    assert seen[:2] == ["sad-work-01", "sad-work-02"]


def test_when_nothing_is_close_a_clear_emotion_gets_a_general_reply(tmp_path):
    responder = make_responder(tmp_path, care_min_match=1.01)  # no cue can be this close
    reply = responder.respond("회사에서 혼나서 속상해요", emotion("happiness"), Risk())
    assert reply.reply_id == "happy-gen-01" and reply.kind == "empathy"


def test_when_nothing_is_close_and_the_emotion_is_unclear_it_invites_more(tmp_path):
    responder = make_responder(tmp_path, care_min_match=1.01)
    unclear = Emotion(label="neutral", scores={lab: 1 / 7 for lab in EMOTION_LABELS})
    reply = responder.respond("라디오도 영화도 몰랐다", unclear, Risk())
    assert reply.kind == "listen" and reply.reply_id == "listen-01"


def test_high_risk_always_gets_a_crisis_reply_even_when_greeting(responder):
    risk = Risk(level="high", reasons=("죽고 싶어",), categories=("suicide",))
    first = responder.respond("안녕 나 죽고 싶어", emotion("sadness"), risk)
    assert first.kind == "crisis"
    assert all(n in first.text for n in CRISIS_NUMBERS)
    history = [HistoryTurn("", first.text, "sadness", first.reply_id)]
    second = responder.respond("죽고 싶어", emotion("sadness"), risk, history)
    assert second.kind == "crisis" and second.reply_id != first.reply_id


def test_watch_adds_a_pointer_to_a_human_line(responder):
    reply = responder.respond("회사에서 혼나서 아무 의미가 없어", emotion("sadness"), Risk(level="watch"))
    assert reply.text.endswith(WATCH_NOTE) and "109" in reply.text


@pytest.mark.parametrize(
    ("text", "kind"),
    [("안녕하세요", "greeting"), ("고마워요", "thanks"), ("감사합니다", "thanks"), ("이제 갈게요", "goodbye"),
     ("너 누구야?", "identity"), ("사람이에요?", "identity"), ("AI야?", "identity")],
)  # fmt: skip
def test_social_turns(responder, text, kind):
    assert responder.respond(text, emotion("neutral"), Risk()).kind == kind


def test_long_turn_mentioning_thanks_is_about_its_content():
    assert detect_intent("감사하다는 말을 들었는데도 회사에서 혼나서 너무 속상했어요") == ""


def test_nothing_heard_asks_again(responder):
    assert responder.respond("", emotion("neutral"), Risk()).kind == "fallback"


def test_bank_errors_are_clear(tmp_path):
    path = small_bank(tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["replies"][0]["emotion"] = "joy"
    data["replies"][1]["id"] = "sad-work-01"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ModelFilesError, match="duplicate id sad-work-01.*emotion 'joy'"):
        load_bank(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFilesError, match="cannot read reply bank"):
        load_bank(path)


def test_cue_embeddings_are_cached_and_invalidated_by_edits(tmp_path):
    path = small_bank(tmp_path)
    calls = []

    def counting_embed(texts):
        calls.append(len(texts))
        return bigram_embed(texts)

    from pipeline.care.bank import cue_embeddings

    cache = tmp_path / "cache"
    first = cue_embeddings(load_bank(path), counting_embed, cache)
    again = cue_embeddings(load_bank(path), counting_embed, cache)
    assert len(calls) == 1 and np.array_equal(first, again)
    path.write_text(path.read_text(encoding="utf-8").replace("상사한테 깨졌어", "팀장님이 소리쳤어"), encoding="utf-8")
    cue_embeddings(load_bank(path), counting_embed, cache)
    assert len(calls) == 2


def test_shipped_bank_is_valid_and_every_crisis_reply_has_every_number():
    bank = load_bank()
    assert len(bank.replies) >= 100
    assert {r.emotion for r in bank.replies} == set(EMOTION_LABELS)
    for reply in bank.crisis:
        assert all(n in reply.text for n in CRISIS_NUMBERS), reply.id
    texts = [r.text for r in bank.replies]
    assert len(set(texts)) == len(texts)


@pytest.fixture(scope="module")
def real_responder():
    from pipeline.backends.e5_head import E5HeadClassifier

    return CareResponder(Settings()), E5HeadClassifier(Settings())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "situations"),
    [("회사에서 상사한테 또 혼났어요", {"work"}), ("남자친구랑 어제 헤어졌어요", {"relationships"}),
     ("시험을 완전히 망쳤어", {"school"}), ("월세 낼 돈이 없어서 막막해요", {"money"})],
)  # fmt: skip
def test_real_embeddings_find_the_situation(real_responder, text, situations):
    responder, classifier = real_responder
    reply = responder.respond(text, classifier.classify(text), Risk())
    chosen = next(r for r in responder.bank.replies if r.id == reply.reply_id)
    assert chosen.situation in situations, (reply.reply_id, reply.text)


@pytest.mark.slow
def test_real_embeddings_do_not_invent_a_situation_for_an_unrelated_sentence(real_responder):
    responder, classifier = real_responder
    reply = responder.respond("라디오도 영화도 몰랐다", classifier.classify("라디오도 영화도 몰랐다"), Risk())
    assert reply.kind == "listen" or reply.reply_id.split("-")[1] == "general", reply.reply_id
