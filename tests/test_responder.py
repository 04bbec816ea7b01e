"""The care responder: crisis first, social turns, no repeats, follow-ups, reflection, the shipped bank,
and scripted conversations with the real e5 embeddings and the real risk detector."""

from __future__ import annotations

import json
import re
import statistics

import numpy as np
import pytest

from pipeline.care.bank import CRISIS_NUMBERS, SITUATIONS, SLOT, cue_embeddings, load_bank
from pipeline.care.reflect import Reflector, fill, final_consonant, particle, split_first_sentence
from pipeline.care.responder import CareResponder, detect_intent
from pipeline.care.risk import assess_risk
from pipeline.errors import ModelFilesError
from pipeline.settings import Settings
from pipeline.types import EMOTION_LABELS, Emotion, HistoryTurn, Risk
from tests.samples import bigram_embed

NEGATIVE = {"sadness", "fear", "anger", "disgust"}
OPEN_QUESTION = re.compile(
    r"(어떤|어떻게|어떠|무엇|무슨|뭐|뭘|언제|어디|누구|누가|얼마나|어느|들려주|말해 주|이야기해 주)"
)


def emotion(label: str, p: float = 0.94) -> Emotion:
    return Emotion(label=label, scores={lab: (p if lab == label else (1 - p) / 6) for lab in EMOTION_LABELS})


UNCLEAR = Emotion(label="neutral", scores={lab: 1 / 7 for lab in EMOTION_LABELS})
CRISIS_TAIL = " 109, 1577-0199, 112, 119, 1388, 1366."


def has_crisis_lines(text: str) -> bool:
    return all(number in text for number in CRISIS_NUMBERS)


def small_bank_data() -> dict:
    return {
        "version": 2,
        "replies": [
            {"id": "sad-work-01", "emotion": "sadness", "situation": "work",
             "cues": ["회사에서 혼나서 속상해요", "상사한테 깨졌어"],
             "text": "회사 일로 많이 속상하셨겠어요. 어떤 일이 있었나요?",
             "reflect": [{"class": "person", "template": "{N}한테 혼나서 많이 속상하셨겠어요."},
                         {"class": "thing", "template": "{N|이} 마음을 무겁게 하는군요."}]},
            {"id": "sad-work-02", "emotion": "sadness", "situation": "work",
             "cues": ["회사 가기가 너무 싫어요"], "text": "출근이 무겁게 느껴지시는군요. 언제부터 그러셨어요?",
             "reflect": [{"class": "thing", "template": "{N|이} 무겁게 느껴지시는군요."}]},
            {"id": "sad-general-01", "emotion": "sadness", "situation": "general",
             "cues": ["그냥 슬퍼요"], "text": "이유 없이 슬픈 날도 있죠. 언제부터 그러셨어요?"},
            {"id": "happy-general-01", "emotion": "happiness", "situation": "general",
             "cues": ["오늘 정말 기분 좋아요", "시험에 붙었어"], "text": "기쁜 소식이네요! 어떤 기분이 드세요?"},
            {"id": "anger-family-01", "emotion": "anger", "situation": "family",
             "cues": ["동생 때문에 화가 나요"], "text": "가족 때문에 화가 나셨군요. 무슨 일이 있었나요?",
             "reflect": [{"class": "person", "template": "{N|과} 부딪히면 화가 나죠.", "words": ["동생", "남편"]}]},
        ],
        "followups": [
            {"id": "follow-emotion-sadness-01", "when": "same_emotion", "emotion": "sadness",
             "text": "아까부터 마음이 무거우신 게 느껴져요. 지금은 어떠세요?"},
            {"id": "follow-lighter-01", "when": "lighter", "text": "조금 가벼워지신 것 같아요. 무엇이 도움이 됐어요?"},
            {"id": "follow-aftercrisis-01", "when": "after_crisis",
             "text": "계속 이야기해 주셔서 고마워요. 지금 마음은 어떠세요?"},
        ],
        "intents": {
            "greeting": [{"id": "greet-01", "text": "안녕하세요, 저는 마음이에요."}],
            "thanks": [{"id": "thanks-01", "text": "말씀해 주셔서 저도 고마워요."}],
            "goodbye": [{"id": "bye-01", "text": "언제든 다시 오세요."}],
            "identity": [{"id": "who-01", "text": "저는 AI 마음이에요."}],
            "listen": [{"id": "listen-01", "text": "그러셨군요. 조금 더 들려주실래요?"}],
            "fallback": [{"id": "fb-01", "text": "잘 듣지 못했어요. 다시 말씀해 주시겠어요?"},
                         {"id": "fb-02", "text": "조금 더 이야기해 주시겠어요?"}],
            "short": [{"id": "short-01", "text": "네, 천천히 말씀해 주세요. 어떤 생각이 드세요?"}],
            "boundary": [{"id": "boundary-01", "text": "저는 AI라 약이나 진단은 말씀드릴 수 없어요. 마음은 어떠세요?"}],
        },
        "crisis": [
            {"id": "crisis-01", "categories": ["suicide"], "text": "지금 정말 힘드시군요." + CRISIS_TAIL},
            {"id": "crisis-02", "categories": ["suicide"], "text": "당신의 안전이 중요해요." + CRISIS_TAIL},
            {"id": "crisis-03", "categories": ["abuse"], "text": "그건 당신 잘못이 아니에요." + CRISIS_TAIL},
        ],
        "watch_notes": [
            {"id": "watch-01", "categories": ["suicide"], "text": "힘들면 109에서 사람이 들어 줘요."},
            {"id": "watch-02", "categories": ["suicide"], "text": "1577-0199도 24시간 받아요."},
            {"id": "watch-03", "categories": ["abuse"], "text": "무서울 땐 112나 1366에 도움을 청할 수 있어요."},
        ],
        "reflect_words": {"work": {"person": ["팀장=팀장님", "상사"], "thing": ["회사", "야근"]},
                          "family": {"person": ["동생", "남편", "엄마"]}},
    }  # fmt: skip


def write_bank(tmp_path, data: dict | None = None):
    path = tmp_path / "replies.json"
    path.write_text(json.dumps(data or small_bank_data(), ensure_ascii=False), encoding="utf-8")
    return path


def make_responder(tmp_path, data: dict | None = None, reflect: bool = False, **settings):
    return CareResponder(Settings(replies_path=str(write_bank(tmp_path, data)), **settings), embed=bigram_embed,
                         reflect=reflect)  # fmt: skip


@pytest.fixture
def responder(tmp_path):
    # Bigram cosines are far lower than e5's, so the "nothing is close" threshold is off here.
    return make_responder(tmp_path, care_min_match=0.0)


def turn(text, reply, label="neutral"):
    return HistoryTurn(text, reply.text, label, reply.reply_id)


# --- choosing ------------------------------------------------------------------------------------


def test_closest_reply_by_meaning(responder):
    reply = responder.respond("회사에서 혼나서 너무 속상해", emotion("sadness"), Risk())
    assert reply.reply_id == "sad-work-01" and reply.kind == "empathy"
    assert responder.respond("시험에 붙었어요", emotion("happiness"), Risk()).reply_id == "happy-general-01"


def test_emotion_breaks_ties_between_similar_cues(responder):
    scores_sad, _ = responder.rank("오늘", emotion("sadness"))
    scores_happy, _ = responder.rank("오늘", emotion("happiness"))
    ids = [r.id for r in responder.bank.replies]
    assert scores_happy[ids.index("happy-general-01")] - scores_sad[ids.index("happy-general-01")] > 0.2


def test_when_nothing_is_close_a_clear_emotion_gets_a_general_reply(tmp_path):
    responder = make_responder(tmp_path, care_min_match=1.01)  # no cue can be this close
    reply = responder.respond("회사에서 혼나서 속상해요", emotion("happiness"), Risk())
    assert reply.reply_id == "happy-general-01" and reply.kind == "empathy"
    assert responder.respond("회사에서 혼나서 속상해요", emotion("sadness"), Risk()).reply_id == "sad-general-01"


def test_when_nothing_is_close_and_the_emotion_is_unclear_it_invites_more(tmp_path):
    responder = make_responder(tmp_path, care_min_match=1.01)
    reply = responder.respond("라디오도 영화도 몰랐다", UNCLEAR, Risk())
    assert reply.kind == "listen" and reply.reply_id == "listen-01"


# --- never the same reply twice ------------------------------------------------------------------


def test_no_reply_repeats_within_a_conversation(responder):
    history: list[HistoryTurn] = []
    seen = []
    for _ in range(4):
        reply = responder.respond("회사에서 혼나서 속상해요", emotion("happiness"), Risk(), history)
        seen.append(reply.reply_id)
        history.append(turn("회사에서 혼나서 속상해요", reply, "happiness"))
    assert len(set(seen)) == 4


@pytest.mark.parametrize("label", ["sadness", "happiness", "neutral"])
def test_repeats_are_impossible_until_the_bank_is_exhausted(responder, label):
    """Content turns use every reply and listen invitation once before any comes again."""
    bank = responder.bank
    pool = len(bank.replies) + len(bank.intents["listen"])
    history: list[HistoryTurn] = []
    for i in range(pool + 4):
        text = ["회사에서 혼나서 속상해요", "오늘 정말 기분 좋아요", "동생 때문에 화가 나요"][i % 3]
        reply = responder.respond(text, emotion(label), Risk(), history)
        assert reply.kind in ("empathy", "listen")
        history.append(turn(text, reply, label))
    ids = [t.reply_id for t in history]
    first_repeat = next(i for i, x in enumerate(ids) if x in ids[:i])
    assert first_repeat >= pool, ids
    assert ids[first_repeat] == ids[0] or responder.entry(ids[0]).when  # the least recently used comes back first
    contextual = {f.id for f in bank.followups if f.when in ("after_crisis", "lighter", "heavier")}
    assert not contextual & set(ids), "a follow-up that needs its moment was used to fill in"


def test_crisis_replies_rotate_and_prefer_the_risk_category(responder):
    suicide = Risk(level="high", reasons=("죽고 싶",), categories=("suicide",))
    abuse = Risk(level="high", reasons=("때려요",), categories=("abuse",))
    assert responder.respond("아빠가 때려요", emotion("fear"), abuse).reply_id == "crisis-03"
    history: list[HistoryTurn] = []
    for _ in range(4):
        reply = responder.respond("죽고 싶어", emotion("sadness"), suicide, history)
        assert reply.kind == "crisis" and has_crisis_lines(reply.text)
        history.append(turn("죽고 싶어", reply, "sadness"))
    assert [t.reply_id for t in history] == ["crisis-01", "crisis-02", "crisis-03", "crisis-01"]


def test_high_risk_always_gets_a_crisis_reply_even_when_greeting(responder):
    risk = Risk(level="high", reasons=("죽고 싶어",), categories=("suicide",))
    first = responder.respond("안녕 나 죽고 싶어", emotion("sadness"), risk)
    assert first.kind == "crisis" and has_crisis_lines(first.text)


def test_after_a_crisis_reply_the_next_turn_keeps_the_door_open_without_the_numbers(responder):
    crisis = responder.respond("죽고 싶어", emotion("sadness"), Risk(level="high", categories=("suicide",)))
    reply = responder.respond("몰라요", emotion("sadness"), Risk(), [turn("죽고 싶어", crisis, "sadness")])
    assert reply.reply_id == "follow-aftercrisis-01" and not any(n in reply.text for n in CRISIS_NUMBERS)


def test_watch_adds_one_soft_line_that_fits_the_category_and_does_not_repeat(responder):
    watch = Risk(level="watch", reasons=("의미가 없어",), categories=("suicide",))
    first = responder.respond("회사에서 혼나서 아무 의미가 없어", emotion("sadness"), watch)
    assert first.text.endswith("힘들면 109에서 사람이 들어 줘요.") and not has_crisis_lines(first.text)
    second = responder.respond("회사 가기가 너무 싫어요", emotion("sadness"), watch, [turn("…", first, "sadness")])
    assert second.text.endswith("1577-0199도 24시간 받아요.")
    abuse = responder.respond("동생 때문에 화가 나요", emotion("anger"), Risk(level="watch", categories=("abuse",)))
    assert abuse.text.endswith("무서울 땐 112나 1366에 도움을 청할 수 있어요.")


# --- follow-ups ----------------------------------------------------------------------------------


def test_a_lasting_emotion_gets_a_follow_up_but_not_twice_in_a_row(tmp_path):
    responder = make_responder(tmp_path, care_min_match=0.0)
    first = responder.respond("회사 가기가 너무 싫어요", emotion("sadness"), Risk())
    history = [turn("회사 가기가 너무 싫어요", first, "sadness")]
    second = responder.respond("오늘도 눈물이 나", emotion("sadness"), Risk(), history)
    assert second.reply_id == "follow-emotion-sadness-01"
    history.append(turn("오늘도 눈물이 나", second, "sadness"))
    third = responder.respond("그냥 그래", emotion("sadness"), Risk(), history)
    assert third.reply_id not in responder._followup_ids


def test_a_lighter_turn_after_a_heavy_one_is_noticed(responder):
    first = responder.respond("회사에서 혼나서 속상해요", emotion("sadness"), Risk())
    reply = responder.respond("그래도 얘기하니 좀 낫네요", emotion("happiness"), Risk(), [turn("…", first, "sadness")])
    assert reply.reply_id == "follow-lighter-01"


def test_a_social_turn_is_not_followed_up(responder):
    hello = responder.respond("안녕하세요", emotion("sadness"), Risk())
    reply = responder.respond("그냥 슬퍼요", emotion("sadness"), Risk(), [turn("안녕하세요", hello, "sadness")])
    assert reply.reply_id == "sad-general-01"


# --- intents -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [("안녕하세요", "greeting"), ("고마워요", "thanks"), ("감사합니다", "thanks"), ("이제 갈게요", "goodbye"),
     ("너 누구야?", "identity"), ("사람이에요?", "identity"), ("AI야?", "identity"),
     ("우울증인가요?", "identity"), ("수면제 먹어도 돼요?", "identity"), ("무슨 약 먹어야 해요?", "identity"),
     ("네", "listen"), ("음...", "listen"), ("몰라요", "listen")],
)  # fmt: skip
def test_social_turns(responder, text, kind):
    assert responder.respond(text, emotion("neutral"), Risk()).kind == kind


def test_intent_detection():
    assert detect_intent("감사하다는 말을 들었는데도 회사에서 혼나서 너무 속상했어요") == ""
    assert detect_intent("요즘 잠을 못 자는데 무슨 약 먹어야 해요?") == "boundary"
    assert detect_intent("약 먹었어요") == ""
    assert detect_intent("그냥요") == "short"


def test_nothing_heard_asks_again(responder):
    assert responder.respond("", emotion("neutral"), Risk()).kind == "fallback"


# --- the bank file -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["replies"][0].update(emotion="joy"), "emotion 'joy'"),
        (lambda d: d["replies"][1].update(id="sad-work-01"), "duplicate id sad-work-01"),
        (lambda d: d["crisis"][0].update(text="전화해 주세요 109."), "misses crisis line 1577-0199"),
        (lambda d: d["replies"][0]["reflect"][0].update(template="{N|에서} 일이"), "unknown particle"),
        (lambda d: d["replies"][0]["reflect"][0].update(template="{N}과 {N}"), "exactly one"),
        (lambda d: d["replies"][4]["reflect"][0].update(words=["사장"]), "not in reflect_words"),
        (lambda d: d["followups"][0].update(when="later"), "follow-up kind 'later'"),
        (lambda d: d["replies"][1].update(text=d["replies"][0]["text"]), "duplicate text"),
    ],
)
def test_bank_errors_are_clear(tmp_path, change, message):
    data = small_bank_data()
    change(data)
    with pytest.raises(ModelFilesError, match=re.escape(message)):
        load_bank(write_bank(tmp_path, data))


def test_unreadable_bank(tmp_path):
    path = tmp_path / "replies.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFilesError, match="cannot read reply bank"):
        load_bank(path)


def test_cue_embeddings_are_cached_and_invalidated_by_edits(tmp_path):
    path = write_bank(tmp_path)
    calls = []

    def counting_embed(texts):
        calls.append(len(texts))
        return bigram_embed(texts)

    cache = tmp_path / "cache"
    first = cue_embeddings(load_bank(path), counting_embed, cache)
    again = cue_embeddings(load_bank(path), counting_embed, cache)
    assert len(calls) == 1 and np.array_equal(first, again)
    path.write_text(path.read_text(encoding="utf-8").replace("상사한테 깨졌어", "팀장님이 소리쳤어"), encoding="utf-8")
    cue_embeddings(load_bank(path), counting_embed, cache)
    assert len(calls) == 2


@pytest.fixture(scope="module")
def shipped():
    return load_bank()


def test_shipped_bank_size_and_coverage(shipped):
    assert len(shipped.replies) >= 300
    cells = {(r.emotion, r.situation) for r in shipped.replies}
    assert cells == {(e, s) for e in EMOTION_LABELS for s in SITUATIONS}
    for e in EMOTION_LABELS:
        for s in SITUATIONS:
            assert sum(r.emotion == e and r.situation == s for r in shipped.replies) >= 4, (e, s)
    assert all(len(r.cues) >= 3 for r in shipped.replies)
    kinds = {f.when for f in shipped.followups}
    assert kinds == {"same_emotion", "same_topic", "lighter", "heavier", "after_crisis"}
    assert {f.emotion for f in shipped.followups if f.when == "same_emotion"} == set(EMOTION_LABELS)
    assert {f.situation for f in shipped.followups if f.when == "same_topic"} == set(SITUATIONS) - {"general"}
    assert {c for r in shipped.crisis for c in r.categories} == {"suicide", "self_harm", "harm_to_others", "abuse"}
    assert {"short", "boundary"} <= set(shipped.intents)


def test_shipped_texts_follow_the_style(shipped):
    for r in (*shipped.replies, *shipped.followups):
        last = re.split(r"(?<=[.!?])\s+", r.text)[-1]
        assert r.text.endswith("?") and OPEN_QUESTION.search(last), (r.id, "ends with an open question")
        assert len(r.text) <= 120, r.id
        assert "힘내세요" not in r.text
    for r in shipped.crisis:
        assert has_crisis_lines(r.text) and "AI" in r.text and len(r.text) <= 350, r.id
    for r in shipped.intents["identity"]:
        assert "AI" in r.text, r.id


def test_shipped_texts_are_safe(shipped):
    """Only crisis replies carry the crisis lines; nothing gives medication advice, a diagnosis or a method."""
    advice = re.compile(
        r"(약\S*\s*(드세요|드시|드셔|먹으세요|복용)|복용하세요|처방해|진단하|"
        r"증상입니다|장애입니다|우울증이에요|병이에요|방법은 )"
    )
    for r in shipped.everything():
        if r in shipped.crisis:
            continue
        assert not has_crisis_lines(r.text), r.id
        assert not advice.search(r.text), r.id
        if r not in shipped.watch_notes:
            assert "109" not in r.text and "1577-0199" not in r.text, r.id
            assert assess_risk(r.text).level == "none", (r.id, assess_risk(r.text))


def test_every_reflection_template_fills_with_every_word_it_may_take(shipped):
    lexicon = shipped.reflect_words
    checked = 0
    for entry in shipped.everything():
        for template in entry.reflect:
            sits = template.situations or ((entry.situation,) if entry.situation else tuple(lexicon))
            words = {k: d for s in lexicon for k, d in lexicon[s].get(template.cls, {}).items()
                     if (k in template.words if template.words else s in sits)}  # fmt: skip
            assert words, (entry.id, template.template)
            form = SLOT.search(template.template).group(1)
            for display in words.values():
                sentence = fill(template.template, display)
                assert "{" not in sentence and sentence.endswith((".", "!", "?", "요")), sentence
                if form:
                    assert display + particle(display, form) in sentence, sentence
                checked += 1
            first, rest = split_first_sentence(entry.text)
            assert rest, entry.id  # a reflection replaces the first sentence; the rest stays
    assert checked > 1000


# --- reflection: particles and key words -----------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "form", "expected"),
    [("회사", "이", "가"), ("팀장님", "이", "이"), ("엄마", "은", "는"), ("동생", "은", "은"), ("시험", "을", "을"),
     ("야근", "을", "을"), ("보고서", "을", "를"), ("남편", "과", "과"), ("아내", "과", "와"), ("친구", "이랑", "랑"),
     ("동생", "이랑", "이랑"), ("회의", "으로", "로"), ("서울", "으로", "로"), ("월급", "으로", "으로"),
     ("돈", "으로", "으로")],
)  # fmt: skip
def test_particle_follows_the_last_syllable(word, form, expected):
    assert particle(word, form) == expected


def test_particle_errors_and_final_consonants():
    assert final_consonant("가") == 0 and final_consonant("을") == 8 and final_consonant("a") is None
    with pytest.raises(ValueError):
        particle("PT", "이")
    with pytest.raises(ValueError):
        particle("회사", "에서")
    assert fill("{N|이} 마음에 걸리시는군요.", "팀장님") == "팀장님이 마음에 걸리시는군요."
    assert fill("{N} 이야기군요.", "회사") == "회사 이야기군요."


@pytest.fixture(scope="module")
def reflector(shipped):
    r = Reflector(shipped.reflect_words)
    r.warm_up()
    return r


@pytest.mark.parametrize(
    ("text", "words"),
    [("팀장님이 오늘 또 소리 질렀어요", ["팀장님"]), ("우리 팀장 진짜 최악이야", ["팀장님"]),
     ("남자친구랑 헤어졌어", ["남자친구"]), ("반친구들이 나만 빼고 놀아", ["반 친구"]),
     ("직장 상사가 너무 싫어", ["직장 상사"]), ("회사일 때문에 너무 힘들어", ["회사"]),
     ("기말고사 망쳤어", ["기말고사"]), ("그 사람이 나한테 그랬어", []), ("그게 너무 싫어요", []),
     ("약을 모아 뒀어요", []), ("칼로 긋고 싶어", [])],
)  # fmt: skip
def test_key_words_are_listed_content_nouns(reflector, text, words):
    assert [w.display for w in reflector.key_words(text)][: len(words) or None] == words


def test_words_inside_a_risk_phrase_are_not_reflected(reflector):
    text = "아빠가 때려요 엄마는 모른 척해요"
    risk = assess_risk(text)
    spans = [(text.find(r), text.find(r) + len(r)) for r in risk.reasons]
    assert [w.display for w in reflector.key_words(text, spans)] == ["엄마"]


@pytest.mark.parametrize(
    ("reply_id", "text", "expected"),
    [("sad-family-04", "엄마가 내 얘기를 하나도 안 들어줘요", "엄마가 내 이야기를 들어 주지 않는다고 느끼면"),
     ("sad-family-04", "동생이 내 말을 무시해", "동생이 내 이야기를 들어 주지 않는다고 느끼면"),
     ("ang-family-02", "언니랑 맨날 비교당해요", "언니와 비교당하면"),
     ("ang-family-02", "동생이랑 비교당해서 화나", "동생과 비교당하면"),
     ("hap-school-01", "성적 올랐어요", "성적이 올랐다니"),
     ("fear-school-01", "기말고사가 다음 주예요", "기말고사를 앞두고 있으면"),
     ("fear-school-01", "시험이 다음 주예요", "시험을 앞두고 있으면"),
     ("dis-family-04", "고모가 자꾸 살쪘다고 해요", "고모가 원하지 않는 지적을 하면"),
     ("neu-work-04", "오늘 회의가 세 개나 있었어요", "회의로 꽉 찬 하루를"),
     ("follow-topic-work-03", "팀장님이랑 또 부딪혔어요", "팀장님과의 일로"),
     ("sad-work-01", "팀장님한테 또 혼났어요", "팀장님한테 꾸중을 들으니")],
)  # fmt: skip
def test_reflection_keeps_the_korean_grammatical(shipped, reflector, reply_id, text, expected):
    entry = next(e for e in shipped.everything() if e.id == reply_id)
    result = reflector.reflect(entry, reflector.key_words(text))
    assert result is not None, reply_id
    reflected, _ = result
    assert reflected.startswith(expected), reflected
    assert reflected.endswith(split_first_sentence(entry.text)[1])


def test_reflection_only_where_the_template_is_true(shipped, reflector):
    entry = next(e for e in shipped.everything() if e.id == "hap-school-01")  # "{N|이} 올랐다니": grades only
    assert reflector.reflect(entry, reflector.key_words("학교에서 상 받았어요")) is None


def test_the_responder_reflects_but_never_twice_in_a_row(tmp_path):
    responder = make_responder(tmp_path, reflect=True, care_min_match=0.0)
    first = responder.respond("팀장님한테 회사에서 혼나서 속상해요", emotion("sadness"), Risk())
    assert first.reply_id == "sad-work-01" and first.text.startswith("팀장님한테 혼나서 많이 속상하셨겠어요.")
    history = [turn("팀장님한테 회사에서 혼나서 속상해요", first, "sadness")]
    second = responder.respond("동생 때문에 화가 나요", emotion("anger"), Risk(), history)
    assert second.reply_id == "anger-family-01" and second.text == responder.entry("anger-family-01").text
    history.append(turn("동생 때문에 화가 나요", second, "anger"))
    third = responder.respond("회사에서 야근 때문에 혼나서 속상해요", emotion("sadness"), Risk(), history)
    assert third.reply_id == "sad-work-02" and third.text == "야근이 무겁게 느껴지시는군요. 언제부터 그러셨어요?"


# --- the real models: e5 embeddings, the risk detector ---------------------------------------------


@pytest.fixture(scope="module")
def real_responder():
    return CareResponder(Settings())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "label", "situations"),
    [("회사에서 상사한테 또 혼났어요", "sadness", {"work"}),
     ("남자친구랑 어제 헤어졌어요", "sadness", {"relationships"}),
     ("시험을 완전히 망쳤어", "sadness", {"school"}), ("월세 낼 돈이 없어서 막막해요", "fear", {"money"}),
     ("다음 주에 수술하는데 무서워요", "fear", {"health"}),
     ("엄마가 자꾸 내 방에 들어와서 짜증 나", "anger", {"family"}),
     ("요즘 너무 힘들어요", "sadness", {"general"}), ("이유 없이 불안해요", "fear", {"general"})],
)  # fmt: skip
def test_real_embeddings_find_the_situation(real_responder, text, label, situations):
    reply = real_responder.respond(text, emotion(label), Risk())
    chosen = real_responder.entry(reply.reply_id)
    assert chosen.emotion == label and chosen.situation in situations, (reply.reply_id, reply.text)


@pytest.mark.slow
def test_real_embeddings_do_not_invent_a_situation_for_an_unrelated_sentence(real_responder):
    reply = real_responder.respond("라디오도 영화도 몰랐다", UNCLEAR, Risk())
    assert reply.kind == "listen", reply.reply_id


# Each turn: (client text, emotion label or None when unclear, what fits). What fits is a reply
# kind ("crisis", "after_crisis", "identity", "thanks", "goodbye", "listen") or the set of
# situations a reply of the turn's emotion may be about. A follow-up fits when it follows the
# emotion (same_emotion), one of those situations (same_topic) or the change of mood.
CONVERSATIONS = {
    "sad": [
        ("요즘 회사에서 팀장님한테 매일 혼나요", "sadness", {"work"}),
        ("열심히 했는데 아무도 몰라줘서 서러워요", "sadness", {"work", "general"}),
        ("퇴근하고 집에 오면 불 꺼진 방에 혼자라 더 쓸쓸해요", "sadness", {"loneliness"}),
        ("오늘은 그냥 울고 싶어요", "sadness", {"general", "loneliness", "work"}),
        ("들어줘서 고마워요", "neutral", "thanks"),
    ],
    "angry": [
        ("남편이 집안일을 하나도 안 해요", "anger", {"family"}),
        ("애 보는 것도 다 제 몫이에요 진짜 화나요", "anger", {"family"}),
        ("시어머니는 저만 탓하세요", "anger", {"family"}),
        ("생각할수록 열받아요", "anger", {"family", "general"}),
    ],
    "anxious": [
        ("다음 주에 수술을 받는데 너무 무서워요", "fear", {"health"}),
        ("마취에서 못 깨어날까 봐 겁나요", "fear", {"health"}),
        ("밤마다 심장이 두근거려서 잠을 못 자요", "fear", {"health", "general"}),
        ("혹시 잘못되면 가족들은 어떡하죠", "fear", {"family", "health", "general"}),
    ],
    "happy": [
        ("원하던 대학에 합격했어요!", "happiness", {"school"}),
        ("부모님이 엄청 기뻐하셨어요", "happiness", {"family", "school"}),
        ("친구들이 축하 파티도 해 줬어요", "happiness", {"relationships", "school", "general"}),
        ("오늘은 정말 최고의 날이에요", "happiness", {"general"}),
    ],
    "crisis": [
        ("요즘 너무 지쳐요", "sadness", {"general", "work"}),
        ("그냥 다 끝내고 싶어요", "sadness", "crisis"),
        ("약도 모아 뒀어요", "sadness", "crisis"),
        ("모르겠어요", "sadness", "after_crisis"),
        ("아무도 나를 필요로 하지 않아요", "sadness", {"loneliness", "general", "family", "relationships"}),
    ],
    "lonely": [
        ("이사 와서 아는 사람이 하나도 없어요", "sadness", {"loneliness"}),
        ("주말 내내 아무와도 말을 안 했어요", "sadness", {"loneliness"}),
        ("이러다 평생 혼자일까 봐 무서워요", "fear", {"loneliness"}),
        ("그래도 이렇게 얘기하니까 조금 낫네요", "happiness", {"general", "loneliness"}),
    ],
    "work stress": [
        ("야근이 한 달째 계속되고 있어요", "sadness", {"work"}),
        ("팀장이 퇴근 직전에 일을 던져요 짜증 나요", "anger", {"work"}),
        ("회사 그만두고 싶은데 돈 때문에 못 그만둬요", "sadness", {"work", "money"}),
        ("다음 주 발표도 걱정돼요", "fear", {"work", "school"}),
    ],
    "family conflict": [
        ("엄마가 내 휴대폰을 몰래 봤어요", "anger", {"family"}),
        ("아빠는 맨날 언니랑 나를 비교해", "anger", {"family"}),
        ("집에 들어가기 싫어요", "sadness", {"family"}),
        ("너 누구야?", "neutral", "identity"),
    ],
    "school": [
        ("시험을 완전히 망쳤어요", "sadness", {"school"}),
        ("반 친구들이 나만 빼고 단톡방을 만들었어요", "sadness", {"school", "relationships", "loneliness"}),
        ("다음 주에 또 시험인데 벌써 무서워요", "fear", {"school"}),
        ("성적 떨어지면 부모님한테 혼날 거예요", "fear", {"school", "family"}),
    ],
    "surprise and abuse": [
        ("갑자기 회사에서 다음 달부터 지방으로 발령이 났대요", "surprise", {"work"}),
        ("아무도 미리 말해 주지 않았어요", "surprise", {"work", "general"}),
        ("남편이 그 얘기를 듣더니 물건을 던지고 저를 때렸어요", "fear", "crisis"),
        ("지금은 방에 들어와 있어요", "fear", "after_crisis"),
    ],
    "disgust": [
        ("회식 때마다 부장님이 억지로 술을 먹여요", "disgust", {"work"}),
        ("그 사람 얼굴만 봐도 역겨워요", "disgust", {"work", "relationships", "general"}),
        ("회사 가는 것 자체가 싫어요", "disgust", {"work"}),
    ],
    "unclear and boundaries": [
        ("라디오도 영화도 몰랐다", None, "listen"),
        ("우울증인가요?", "neutral", "identity"),
        ("잠이 안 와서 그런데 수면제 먹어도 돼요?", "neutral", "identity"),
        ("안녕히 계세요", "neutral", "goodbye"),
    ],
}


def _fits(responder, reply, label, expected, prev_label) -> bool:
    entry = responder.entry(reply.reply_id)
    if expected == "after_crisis":
        return entry is not None and entry.when == "after_crisis"
    if isinstance(expected, str):
        return reply.kind == expected
    if entry is None or reply.kind != "empathy":
        return False
    if entry.when == "same_emotion":
        return entry.emotion == label
    if entry.when == "same_topic":
        return entry.situation in expected
    if entry.when == "lighter":
        return prev_label in NEGATIVE and label == "happiness"
    if entry.when == "heavier":
        return prev_label == "happiness" and label in NEGATIVE
    return entry.emotion == label and entry.situation in expected


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_scripted_conversation(real_responder, name):
    history: list[HistoryTurn] = []
    problems = []
    for text, label, expected in CONVERSATIONS[name]:
        feeling = emotion(label) if label else UNCLEAR
        risk = assess_risk(text)
        reply = real_responder.respond(text, feeling, risk, history)
        prev_label = history[-1].emotion if history else ""
        if has_crisis_lines(reply.text) != (risk.level == "high"):
            problems.append(f"crisis lines and risk {risk.level} disagree: {text} -> {reply.text}")
        if risk.level == "none" and ("109" in reply.text or "1577-0199" in reply.text):
            problems.append(f"a crisis line without risk: {text} -> {reply.text}")
        if (expected in ("crisis",)) != (risk.level == "high"):
            problems.append(f"risk {risk.level} for {text!r}, script expects {expected}")
        if not _fits(real_responder, reply, feeling.label, expected, prev_label):
            problems.append(f"{text} [{label}, {expected}] -> {reply.kind} {reply.reply_id}: {reply.text}")
        history.append(HistoryTurn(text, reply.text, feeling.label, reply.reply_id))
    ids = [t.reply_id for t in history]
    assert len(ids) == len(set(ids)), ids
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_respond_is_fast_after_loading(real_responder):
    texts = [text for script in CONVERSATIONS.values() for text, _, _ in script]
    history: list[HistoryTurn] = []
    latencies = []
    for text in texts * 2:
        reply = real_responder.respond(text, emotion("sadness"), assess_risk(text), history[-6:])
        latencies.append(reply.latency_ms)
        history.append(HistoryTurn(text, reply.text, "sadness", reply.reply_id))
    # The target is ~30 ms on two free cores; this bound only catches a gross regression on a
    # busy test machine. ``reply.latency_ms`` is what the benchmark reports.
    assert statistics.median(latencies) < 250, statistics.median(latencies)
