"""Risk across the conversation, round 4: a troubled conversation asks, someone else's crisis,
first signs only the classifier read, and replies that know who speaks about whom.

Scripted conversations of our own (not the development or holdout sets). The detector is the
phrase rules unless a turn gives a ``Risk`` whose only reason is the classifier's line, exactly as
``RiskAssessor`` reports it.
"""

from __future__ import annotations

import pytest

from pipeline.care.assessor import CLASSIFIER_REASON
from pipeline.care.conversation import CareState, in_domain
from pipeline.care.crisis import MUST_SAY, SPOKEN_MAX_CHARS, numbers_for
from pipeline.care.policy import ABOUT_OTHER, care_turn, crisis_about_other
from pipeline.care.risk import assess_risk
from pipeline.types import HistoryTurn, Reply, Risk
from tests.test_care_false_alarms import CRISIS_NUMBERS, classifier, converse, emotion


def read(level, *categories, score=0.93):
    """The classifier's read with several categories (``suicide`` and ``imminent``)."""
    return Risk(level, (f"{CLASSIFIER_REASON}: 위험 {score:.2f}",), categories)


# --- 1. A troubled conversation asks about a turn only the classifier flagged. ---


def troubled_start():
    return [("요즘 회사 일 때문에 너무 힘들어요", None), ("밤에 잠도 못 자고 지쳤어요", None)]


def test_after_two_hard_turns_a_classifier_only_read_is_asked_about_not_dropped():
    turn = ("그냥 다 부질없는 것 같아요", classifier("watch", "suicide", 0.91))
    levels, replies, state = converse([*troubled_start(), turn, ("잘 모르겠어요", None), ("그냥 그래요", None)])
    assert levels[:2] == ["none", "none"]
    assert replies[2].kind == "screening" and state.screening[0].key == "wish_dead"
    assert levels[2:] == ["watch", "watch", "watch"]  # kept while the answers are unclear
    # The same read in a calm conversation is shown for a while, asks nothing and fades.
    levels, replies, state = converse(
        [("오늘 점심 맛있게 먹었어요", None), turn, ("주말에 친구랑 영화 보러 가기로 했어요", None)]
    )
    assert levels == ["none", "watch", "none"] and not state.screening
    assert all(r.kind != "screening" for r in replies)


def test_the_answers_raise_or_settle_what_the_conversation_asked_about():
    turn = ("그냥 다 부질없는 것 같아요", classifier("watch", "suicide", 0.91))
    levels, replies, state = converse([*troubled_start(), turn, ("아니요 그런 생각은 해 본 적 없어요", None)])
    assert state.screening[0].answer == "no" and levels[-1] == "none"  # settled
    levels, replies, state = converse(
        [*troubled_start(), turn, ("네 가끔 그런 생각 해요", None), ("네", None), ("네", None), ("네 있어요", None)]
    )
    assert [s.key for s in state.screening][:4] == ["wish_dead", "thoughts", "method", "intent"]
    assert levels[3:5] == ["watch", "watch"]  # a yes to the first questions keeps watch for good
    assert levels[-1] == "high"  # a yes to intent raises it
    assert replies[-1].kind == "crisis"


def test_a_classifier_read_after_a_flag_in_force_asks_even_without_hard_words():
    # A classifier-only watch earlier (still in force) makes the next read worth a question.
    levels, replies, _ = converse(
        [
            ("뭐 사는 게 다 그렇죠", classifier("watch", "suicide", 0.95)),
            ("애들 사진만 보고 있어요", classifier("watch", "suicide", 0.90)),
        ]
    )
    assert replies[1].kind == "screening" and levels == ["watch", "watch"]


def test_a_means_with_a_time_in_a_troubled_conversation_is_high_even_when_the_turn_alone_reads_none():
    levels, replies, _ = converse(
        [
            ("뭐 사는 게 다 그렇죠 괜찮아요", classifier("watch", "suicide", 0.95)),
            ("사실 밧줄 사 왔어요 애들 생일 지나면 하려고요", Risk("none")),
            ("아 농담이에요 ㅋㅋ 진짜 안 해요", Risk("none")),
        ]
    )
    assert levels[1:] == ["high", "high"] and replies[1].kind == "crisis"
    # Camping: a rope and a weekend in a calm conversation are nothing.
    levels, _, _ = converse([("캠핑 가려고 밧줄 샀어요 주말에 하려고요", None)])
    assert levels == ["none"]


def test_following_the_dead_in_dialect_is_a_passive_death_wish():
    levels, replies, _ = converse([("영감 가고 나서 혼자 밥 먹어", None), ("밤마다 영감 따라가뿔고 싶어", None)])
    assert levels[-1] == "high" and replies[-1].kind == "crisis"


# --- 2. High about someone else: how the client can help them. ---


def test_someone_elses_crisis_gets_a_reply_about_helping_them_until_the_clients_own_risk_appears():
    levels, replies, state = converse(
        [
            ("제 친구가 요즘 죽고 싶대요", None),
            ("방금 단톡에 다들 고마웠어 안녕 이렇게 올렸어요 전화도 안 받아요", read("high", "suicide", "imminent")),
            ("걔네 집 주소는 알아요", classifier("watch", "suicide", 0.9)),
        ]
    )
    assert levels == ["watch", "high", "high"] and state.about == "친구"
    crisis = replies[1]
    assert crisis.kind == "crisis" and crisis.reply_id == "crisis-other-imminent"
    assert "친구가" in crisis.text and "112" in crisis.text and "119" in crisis.text
    assert "당신이 안전한" not in crisis.text  # the client is not the one at risk
    assert not state.screening  # the client is not asked whether they want to die
    assert "곁에 있는 사람" in replies[2].text  # the lines in view say how to help them
    # The client's own risk takes over.
    history = [HistoryTurn(t, r.text, "sadness", r.reply_id) for t, r in zip(["a", "b", "c"], replies, strict=True)]
    said = "사실 저도 죽고 싶어요"
    out = care_turn(said, emotion(), assess_risk(said), state, history, lambda *a: Reply("", "empathy", "x"))
    assert out.reply.kind == "crisis" and not out.reply.reply_id.startswith("crisis-other")
    assert out.state.about == ""


def test_a_violent_partner_as_subject_leaves_the_client_as_the_one_at_risk():
    _, replies, state = converse([("남편이 술 먹으면 칼 들고 죽인다고 해요", None)])
    assert state.level == "high" and state.about == ""
    assert not replies[0].reply_id.startswith("crisis-other")


@pytest.mark.parametrize("lead", sorted(ABOUT_OTHER))
def test_replies_about_someone_else_carry_their_situations_lines_and_say_what_every_crisis_reply_says(lead):
    reply = crisis_about_other("친구", [lead])
    assert all(n in reply.text for n in numbers_for([lead]))
    assert all(w in reply.text for w in MUST_SAY) and "친구" in reply.text and "{" not in reply.text
    assert reply.spoken_text and len(reply.spoken_text) <= SPOKEN_MAX_CHARS
    assert numbers_for([lead])[0] in reply.spoken_text


# --- 3. A first sign only the classifier read needs a word of its domain. ---


@pytest.mark.parametrize(
    ("text", "risk"),
    [
        ("우리 강아지가 어제 무지개다리 건넜어요 십오 년을 같이 살았는데", classifier("high", "suicide", 0.92)),
        ("애가 열이 37.8도예요 해열제 먹였어요", classifier("high", "medical", 0.91)),
        ("롤 하다가 또 죽었어요 ㅋㅋ", classifier("high", "suicide", 0.90)),
        ("야근이 계속돼서 그냥 너무 피곤해요", classifier("high", "suicide", 0.90)),
        ("그냥 아무한테나 말하고 싶어서 왔어요", classifier("high", "suicide", 0.93)),
        ("밤마다 혼자 있으면 무섭고 불안해서 잠을 못 자요", classifier("watch", "caregiver", 0.90)),
    ],
)
def test_a_first_classifier_read_without_a_word_of_its_domain_is_no_crisis_and_no_care_line(text, risk):
    levels, replies, state = converse([(text, risk), ("오늘은 일찍 자려고요", None), ("내일 또 얘기해요", None)])
    assert "high" not in levels and replies[0].kind != "crisis"
    assert not any(n in r.text for r in replies for n in CRISIS_NUMBERS), replies[0].text
    assert levels[-1] == "none"


def test_a_word_of_the_domain_keeps_the_classifiers_first_read():
    # A seizure is a medical emergency: high, and it stays high (before, it faded on two turns).
    levels, replies, _ = converse(
        [
            ("아들이 갑자기 몸을 떨면서 쓰러졌어요", classifier("high", "medical", 0.98)),
            ("오 분 넘게 안 멈춰요", None),
            ("이제 멈췄는데 불러도 대답을 안 해요", None),
        ]
    )
    assert levels == ["high", "high", "high"] and "119" in replies[0].text
    levels, replies, _ = converse([("치매 엄마 모시느라 잠을 못 자요", classifier("watch", "caregiver", 0.9))])
    assert levels == ["watch"] and "1899-9988" in replies[0].text
    assert in_domain(["suicide", "imminent"], "지금 옥상 난간 앞이에요") == ("suicide", "imminent")
    assert in_domain(["medical", "imminent"], "열이 조금 있어요") == ()


# --- 4. Replies that know who speaks about whom. ---


class Nightmares:
    """A bank that matched "잠을 못 자요" to its reply about nightmares."""

    def respond(self, text, emo, risk, history=()):
        return Reply(
            "무서운 꿈이 반복되면 잠드는 것조차 두려워지죠. 요즘 어떤 꿈을 꾸는지 들려주실 수 있어요?",
            "empathy",
            "fear-general-02",
        )


def carer_talk(turns):
    state, history, replies = CareState(), [], []
    for text in turns:
        out = care_turn(text, emotion("fear"), assess_risk(text), state, history, Nightmares().respond)
        state = out.state
        replies.append(out.reply)
        history.append(HistoryTurn(text, out.reply.text, "fear", out.reply.reply_id))
    return replies


def test_a_carers_sleepless_nights_get_a_reply_about_the_caring_not_about_nightmares():
    replies = carer_talk(["엄마가 치매 진단 받은 지 오 년 됐어요", "밤마다 집 나가려고 하셔서 제가 잠을 못 자요"])
    reply = replies[1]
    assert "꿈" not in reply.text and "어머니" in reply.text and "돌보" in reply.text, reply.text
    # Named too, with a son: the reply names him.
    replies = carer_talk(["아들이 중증 장애가 있어서 제가 혼자 돌봐요", "아들 옮기다가 허리를 다쳐서 잠을 못 자요"])
    assert "아들" in replies[1].text and "꿈" not in replies[1].text


def test_a_client_speaking_of_their_own_sleep_or_of_someone_else_keeps_the_banks_reply():
    replies = carer_talk(["요즘 악몽을 자꾸 꿔서 잠을 못 자요"])
    assert "꿈" in replies[0].text  # no one is cared for: the nightmare reply fits
    replies = carer_talk(["엄마가 치매 진단 받은 지 오 년 됐어요", "친구가 요즘 악몽 때문에 잠을 못 잔대요"])
    assert "꿈" in replies[1].text  # the turn is about the friend, not the one cared for


def test_the_new_state_round_trips_through_json():
    _, _, state = converse([("제 친구가 요즘 죽고 싶대요", None), *troubled_start()])
    again = CareState.from_json(state.as_json())
    assert again == state and again.about == "친구" and again.distressed == 2
    carried = state.carried_over()
    assert carried.about == "친구" and carried.level == "watch"


# --- A death wish told as past, as the first sign: Maum asks about now. ---


def test_a_wish_told_as_past_is_asked_about_and_a_no_settles_it():
    levels, replies, state = converse(
        [
            ("도박할 때는 빚 때문에 진짜 죽고 싶었죠 그땐 그랬어요", None),
            ("아니요 지금은 그런 생각 없어요 상담도 받고 있어요", None),
            ("이번 주말엔 딸이랑 놀이공원 가기로 했어요", None),
        ]
    )
    assert levels == ["watch", "none", "none"]
    assert replies[0].kind == "screening" and not any(n in replies[0].text for n in CRISIS_NUMBERS)
    assert state.screening[0].answer == "no"
    levels, _, _ = converse(
        [("발표를 완전 망쳐서 진짜 사라지고 싶었어요 ㅋㅋ", None), ("아니 그 정도는 아니고요", None)]
    )
    assert levels == ["watch", "none"]
    # Yesterday is now; a wish not in the past tense is now; both stay a crisis.
    for said in ("어제 진짜 죽고 싶었어요", "예전부터 죽고 싶어요"):
        levels, replies, _ = converse([(said, None)])
        assert levels == ["high"] and replies[0].kind == "crisis", said


def test_a_carer_who_names_no_one_maum_knows_still_hears_about_the_caring_and_the_dementia_line():
    replies = carer_talk(["우리 영감이 치매가 온 지 삼 년째예요", "밤에 자꾸 밖에 나가려고 해서 내가 잠을 못 자요"])
    reply = replies[1]
    assert "꿈" not in reply.text and "돌보" in reply.text and "1899-9988" in reply.text, reply.text


def test_a_wish_to_follow_someone_who_died_is_the_clients_own_risk():
    levels, replies, state = converse([("아빠가 돌아가시고 나서 따라가고 싶은 생각만 들어요", None)])
    assert levels == ["high"] and state.about == ""
    assert replies[0].kind == "crisis" and not replies[0].reply_id.startswith("crisis-other")


def test_a_bullied_friend_gets_the_school_lines_and_a_helper_named_later_is_not_the_one_at_risk():
    levels, replies, state = converse(
        [
            ("제 친구가 반에서 애들한테 계속 따돌림 당하고 맞아요", None),
            ("엄마한테 말했어요 엄마가 지금 전화하고 있어요", read("high", "abuse", "imminent")),
        ]
    )
    assert replies[0].reply_id == "crisis-other-school_violence" and "117" in replies[0].text
    assert state.about == "친구" and "친구" in replies[1].text


def test_after_a_friends_crisis_the_lines_in_view_are_about_helping_the_friend():
    levels, replies, _ = converse(
        [
            ("제 친구가 반에서 애들한테 계속 따돌림 당하고 맞아요", None),
            ("인스타에 사진을 올렸다가 지웠어요", None),
        ]
    )
    assert levels == ["high", "high"]
    assert "117" in replies[1].text and "1366" not in replies[1].text, replies[1].text
    assert replies[1].text.count("117") == 1
