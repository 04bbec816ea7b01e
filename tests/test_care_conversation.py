"""Risk across the whole conversation: sticky, escalating, minimising, context, screening, facts."""

from __future__ import annotations

import json

import pytest

from pipeline.care.conversation import CareState, observe
from pipeline.care.facts import facts_in
from pipeline.care.risk import assess_risk
from pipeline.care.screening import next_question, parse_answer
from pipeline.types import Risk


def talk(lines, state=None):
    """Observe each line with the risk detector; (state, per-turn risks)."""
    state = state or CareState()
    risks = []
    for text in lines:
        seen = observe(state, text, assess_risk(text))
        state = seen.state
        risks.append(seen.risk)
    return state, risks


def test_once_high_the_conversation_stays_high_through_calm_turns():
    state, risks = talk(["이제 그만 죽고 싶어요", "오늘 날씨가 좋네요", "밥은 먹었어요"])
    assert [r.level for r in risks] == ["high", "none", "none"]
    assert state.level == "high" and "suicide" in state.categories
    assert "죽고 싶" in state.reasons


def test_partner_violence_makes_a_later_fear_of_breaking_up_high_abuse():
    _, alone = talk(["헤어지자고 하면 무슨 일이 생길지 무서워요"])
    assert alone[0].level != "high"
    state, risks = talk(
        ["남자친구가 화나면 저를 때려요", "어제는 목을 졸랐어요", "헤어지자고 하면 무슨 일이 생길지 무서워요"]
    )
    assert risks[-1].level == "high" and "abuse" in risks[-1].categories
    assert state.level == "high"


def test_context_can_come_from_a_category_the_current_rules_do_not_emit():
    state = observe(CareState(), "반 애들이 괴롭혀요", Risk("high", ("반 애들이 괴롭혀",), ("school_violence",))).state
    seen = observe(state, "내일 학교 가는 게 너무 무서워요", Risk())
    assert seen.risk.level == "high" and seen.risk.categories == ("school_violence",)


def test_minimising_after_ideation_keeps_at_least_watch():
    state, risks = talk(["죽고 싶다는 생각이 들어요", "아니 죽겠다는 건 아니고요"])
    assert risks[1].level == "watch" and "suicide" in risks[1].categories
    assert state.level == "high"
    fresh = observe(CareState(), "아니 그런 뜻은 아니고요", Risk())
    assert fresh.risk.level == "none"  # nothing to minimise in a new conversation


def test_hopelessness_then_burden_then_farewell_escalates_to_high():
    state, risks = talk(["요즘 아무 희망이 없어요", "제가 다 짐만 되는 것 같아요", "고양이는 친구한테 부탁해 뒀어요"])
    assert [r.level for r in risks] == ["watch", "watch", "high"]
    assert state.level == "high"
    assert [s.kind for s in state.signals] == ["hopeless", "burden", "farewell"]
    # the farewell act alone, without the rest of the conversation, is not a crisis
    assert talk(["고양이는 친구한테 부탁해 뒀어요"])[1][0].level != "high"


def test_a_passive_death_wish_is_high():
    _, risks = talk(["내일 아침에 눈을 뜨지 않았으면 좋겠어요"])
    assert risks[0].level == "high" and risks[0].categories == ("suicide",)


def test_a_revenge_plan_is_high_harm_to_others():
    _, risks = talk(["나 괴롭힌 애들 다 찾아가서 똑같이 갚아 줄 거예요 방법도 다 생각해 놨어요"])
    assert risks[0].level == "high" and "harm_to_others" in risks[0].categories


def test_everyday_turns_stay_none():
    state, risks = talk(["오늘 회사에서 힘들었어요", "팀장님이 또 혼냈어요", "배고파 죽겠어요"])
    assert state.level == "none" and all(r.level == "none" for r in risks)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("네", "yes"),
        ("응", "yes"),
        ("그래요", "yes"),
        ("있어요", "yes"),
        ("네 가끔 그런 생각 해요", "yes"),
        ("아니요", "no"),
        ("없어요", "no"),
        ("아뇨 그런 적 없어요", "no"),
        ("안 했어요", "no"),
        ("모르겠어요", "unsure"),
        ("글쎄요", "unsure"),
        ("그냥 그래요", "unsure"),
        ("아니요... 사실은 있어요", "yes"),
        ("배고파요", "unclear"),
    ],
)
def test_korean_yes_no_answers_are_parsed(text, answer):
    assert parse_answer(text) == answer


def test_the_screening_order_follows_the_screener():
    assert next_question({}, ideation_known=False) == "wish_dead"
    assert next_question({"wish_dead": "yes"}, ideation_known=False) == "thoughts"
    assert next_question({"wish_dead": "yes", "thoughts": "no"}, ideation_known=False) == "behaviour"
    assert next_question({"wish_dead": "yes", "thoughts": "yes"}, ideation_known=False) == "method"
    assert next_question({}, ideation_known=True) == "method"
    done = {"wish_dead": "no", "thoughts": "no", "behaviour": "no"}
    assert next_question(done, ideation_known=False) == ""


def screen(state, answers):
    """Ask the due question and answer it, for each answer in turn."""
    for text in answers:
        key = state.next_screening_question()
        assert key, "a question should be due"
        state = state.ask(key, state.turns - 1)
        state = observe(state, text, assess_risk(text)).state
    return state


def test_all_no_settles_at_watch_and_the_answers_are_stored():
    state, _ = talk(["요즘 아무 희망이 없어요"])
    assert state.level == "watch" and state.next_screening_question() == "wish_dead"
    state = screen(state, ["아니요", "아뇨 없어요", "없어요"])
    assert state.level == "watch"
    assert [(i.key, i.answer) for i in state.screening] == [
        ("wish_dead", "no"),
        ("thoughts", "no"),
        ("behaviour", "no"),
    ]
    assert state.screening[1].answer_text == "아뇨 없어요"
    assert state.next_screening_question() == ""


def test_a_yes_to_intent_makes_the_conversation_high():
    state, _ = talk(["사는 게 의미가 없어요"])
    state = screen(state, ["네", "네 있어요", "조금요"])  # wish, thoughts, method
    assert state.level == "watch" and state.next_screening_question() == "intent"
    state = state.ask("intent", state.turns - 1)
    seen = observe(state, "네", Risk())
    assert seen.risk.level == "high" and seen.state.level == "high"
    assert any("실행 의도" in r for r in seen.state.reasons)


def test_a_risky_answer_is_assessed_as_usual():
    state, _ = talk(["요즘 아무 희망이 없어요"])
    state = state.ask("wish_dead", 0)
    text = "네 죽고 싶어요"
    seen = observe(state, text, assess_risk(text))
    assert seen.risk.level == "high" and seen.state.screening[-1].answer == "yes"


def test_no_screening_when_the_risk_is_not_suicide_type():
    state, _ = talk(["남자친구가 화나면 저를 때려요"])
    assert state.next_screening_question() == ""


def test_the_state_round_trips_through_json():
    state, _ = talk(["지난주에 아빠가 돌아가셨어요", "요즘 아무 희망이 없어요"])
    state = state.ask("wish_dead", 1)
    again = CareState.from_json(json.loads(json.dumps(state.as_json(), ensure_ascii=False)))
    assert again == state
    assert CareState.from_json(None) == CareState()


def test_a_state_from_another_version_keeps_its_risk():
    raw = {"level": "high", "categories": ["abuse"], "reasons": ["때려"], "signals": [{"kind": "x", "when": 1}]}
    state = CareState.from_json(raw)
    assert (state.level, state.categories, state.signals) == ("high", ("abuse",), ())
    assert CareState.from_json({"level": "??"}).level == "high"  # unreadable: err on the safe side


def test_facts_name_who_and_what():
    assert [(f.who, f.event) for f in facts_in("지난주에 아빠가 돌아가셨어요")] == [("아버지", "died")]
    assert [(f.who, f.event) for f in facts_in("아빠가 담배를 갑자기 끊으셨대요")] == [("아버지", "quit_smoking")]
    assert [(f.who, f.event) for f in facts_in("남자친구가 화나면 저를 때려요")] == [("남자친구", "hit")]
    assert facts_in("제가 동생을 때렸어요") == []  # the client did it; nothing happened to them
    assert facts_in("아이스크림을 먹었어요") == []
    assert facts_in("아빠가 돌아가셨어요")[0].reference() == "아버지께서 돌아가셨다고 하셨죠."


def test_facts_are_remembered_across_turns():
    state, _ = talk(["지난주에 아빠가 돌아가셨어요", "요즘 잠을 못 자요", "엄마랑 자꾸 싸워요", "회사도 가기 싫어요"])
    assert [(f.who, f.event, f.turn) for f in state.facts] == [("아버지", "died", 0)]


def test_after_violence_an_unrelated_fear_is_not_made_abuse():
    state, _ = talk(["남자친구가 화나면 저를 때려요"])
    assert observe(state, "다음 주 시험이 무서워요", Risk()).risk.level == "none"
    assert observe(state, "남자친구가 오늘 또 화낼까 봐 무서워요", Risk()).risk.level == "high"


def test_after_an_abuse_crisis_the_screening_does_not_assume_suicidal_ideation():
    state, _ = talk(["요즘 아무 희망이 없어요"])
    state = state.ask("wish_dead", 0)
    state = observe(state, "아니요", Risk()).state
    text = "남편이 술 마시면 저를 때려요"
    state = observe(state, text, assess_risk(text)).state.with_crisis(2)
    assert state.level == "high" and state.next_screening_question() == "thoughts"


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        ("아이가 열이 40도예요", ("medical",)),
        ("아빠가 쓰러져서 숨을 안 쉬어요", ("medical",)),
        ("지금 한강 다리 위에 있어요", ("suicide", "imminent")),
        ("아기를 던져 버리고 싶은 생각이 들어요", ("child_at_risk",)),
    ],
)
def test_safety_nets_raise_emergencies_the_rules_miss(text, categories):
    seen = observe(CareState(), text, assess_risk(text))
    assert seen.risk.level == "high" and set(categories) <= set(seen.risk.categories)


def test_safety_nets_leave_everyday_sentences_alone():
    for text in ("어제는 열이 37도 정도였어요", "한강 다리 위로 자전거 타고 지나갔어요", "아기를 재우고 나니 지쳐요"):
        assert observe(CareState(), text, assess_risk(text)).risk.level == "none", text


def test_hopelessness_counts_only_where_the_detector_flagged_the_turn():
    bag = "이 가방 살 이유가 하나도 없네"
    assert observe(CareState(), bag, assess_risk(bag)).risk.level == "none"
    past = "학생 때는 사라지고 싶었는데 지금은 행복해요"
    assert observe(CareState(), past, assess_risk(past)).risk.level == "none"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("자주는 아니고 가끔", "yes"),  # frequency, with its negation read in context
        ("자주 그러진 않아요", "yes"),  # not often is sometimes
        ("많이는 아니에요", "yes"),
        ("가끔요", "yes"),
        ("없진 않아요", "yes"),
        ("아니라고는 못 하겠어요", "yes"),
        ("요즘 들어 그런 생각이 자꾸 들어요", "yes"),
        ("그런 생각은 안 해요", "no"),
        ("한 번도 없어요", "no"),
        ("아니요 그런 생각은 없어요 할머니가 제가 잘 사는 거 바라셨을 거예요", "no"),
        ("수능 끝나면 다 같이 제주도 가기로 했어요", "unclear"),  # longer than yes/no, about something else
        ("엄마가 기대하는 게 좀 부담되긴 해요", "unclear"),
        ("참을 수가 없어요", "unclear"),
    ],
)
def test_answers_are_read_in_context_frequency_negation_and_longer_replies(text, answer):
    assert parse_answer(text) == answer
