"""Risk across the conversation without false alarms: weak signals fade, real risk stays.

Scripted conversations of our own (not the development or holdout sets). The detector is the
phrase rules (``assess_risk``); where a test needs what the trained classifier adds, it gives a
``Risk`` whose only reason is the classifier's line, exactly as ``RiskAssessor`` reports it.
"""

from __future__ import annotations

from pipeline.care.assessor import CLASSIFIER_REASON
from pipeline.care.conversation import CareState, Mark, observe
from pipeline.care.policy import care_turn, reply_emotion, unsupported_claim
from pipeline.care.risk import assess_risk
from pipeline.types import EMOTION_LABELS, Emotion, HistoryTurn, Reply, Risk

CRISIS_NUMBERS = ("109", "1577-0199", "112", "119", "1366", "1388", "117", "1899-9988")


def emotion(label="sadness"):
    return Emotion(label, {lab: (0.7 if lab == label else 0.05) for lab in EMOTION_LABELS})


def classifier(level, category, score=0.93):
    """What the hybrid assessor reports for a sentence only its classifier flagged."""
    return Risk(level, (f"{CLASSIFIER_REASON}: 위험 {score:.2f}",), (category,))


class Bank:
    """A responder like the care bank: a watch turn gets its line with 109 appended."""

    def respond(self, text, emo, risk, history=()):
        note = " 마음이 더 무거워지면 자살예방상담전화 109에 전화할 수 있어요." if risk.level == "watch" else ""
        return Reply(f"그런 일이 있었군요. 조금 더 들려주실래요?{note}", "empathy", f"bank-{len(history)}")


def converse(turns, state=None, label="sadness"):
    """Run (text, detector risk or None for the rules) through ``care_turn``: (levels, replies, state)."""
    state, history, levels, replies = state or CareState(), [], [], []
    for text, risk in turns:
        out = care_turn(text, emotion(label), risk or assess_risk(text), state, history, Bank().respond)
        state = out.state
        levels.append(state.level)
        replies.append(out.reply)
        history.append(HistoryTurn(text, out.reply.text, label, out.reply.reply_id))
    return levels, replies, state


def test_venting_about_work_with_idioms_stays_none_for_seven_turns_and_shows_no_crisis_numbers():
    turns = [
        ("아 진짜 회사 때문에 죽겠어요", None),  # the rules read 죽겠 as watch: an intensifier here
        ("팀장이 오늘도 야근하라고 해서 미치는 줄 알았어요", None),
        ("배고파 죽겠는데 점심도 못 먹었어요", None),
        ("이러다 과로사하겠다 싶더라고요", None),
        ("진짜 다 때려치우고 회사 그만두고 싶어요", None),
        ("월급날만 보고 버티는 중이에요", None),
        ("그래도 이번 주말엔 친구랑 캠핑 가기로 했어요", None),
    ]
    levels, replies, state = converse(turns, label="anger")
    assert levels == ["none"] * 7
    assert not state.screening  # nothing warranted a question about wishing to be dead
    for reply in replies:
        assert reply.kind != "crisis" and not any(n in reply.text for n in CRISIS_NUMBERS), reply.text


def test_grief_without_ideation_is_never_high_and_asks_nothing_on_the_classifiers_word_alone():
    turns = [
        ("지난달에 할머니가 돌아가셨어요", None),
        ("아직도 실감이 안 나요 전화하면 받으실 것 같고", classifier("watch", "suicide", 0.94)),
        ("장례식 때는 눈물이 안 났는데 요즘 자꾸 울어요", None),
        ("할머니가 해 주시던 된장찌개가 생각나요", classifier("watch", "suicide", 0.91)),
        ("보고 싶어서 사진을 자주 봐요", None),
        ("엄마도 많이 힘들어하셔서 제가 잘해야 할 것 같아요", classifier("watch", "caregiver", 0.93)),
        ("주말엔 가족들이랑 산소에 다녀오려고요", None),
        ("할머니 좋아하시던 꽃을 사 가려고요", None),
    ]
    levels, replies, state = converse(turns)
    assert "high" not in levels and not any(r.kind == "crisis" for r in replies)
    assert levels[0] == "none" and levels[-1] == "none"  # classifier-only watches faded after calm turns
    assert not state.screening and not state.marks
    assert "할머니" in replies[0].text  # the loss itself is acknowledged


def test_gaming_and_exam_slang_stays_out_of_crisis():
    turns = [
        ("어제 롤 하다가 다섯 번 죽었어요 ㅋㅋ", None),
        ("팀원이 트롤해서 완전 멸망했어요 진짜 개빡쳐", None),
        ("시험 망해서 인생 끝났다 ㅋㅋ", None),
        ("엄마한테 성적표 보여주면 나 죽었다", None),
        ("내일 피시방 가서 복수전 할 거예요 방법도 다 생각해 놨어요", None),
        ("이번에 떨어지면 끝장이에요", classifier("watch", "suicide", 0.97)),  # classifier-only, no context
        ("이번엔 꼭 이길 거예요", None),
        ("내일 또 친구들이랑 게임해요", None),
    ]
    levels, replies, state = converse(turns, label="neutral")
    assert "high" not in levels and not any(r.kind == "crisis" for r in replies)
    assert levels[:5] == ["none"] * 5
    assert levels[-1] == "none"  # the weak signal faded
    assert not any(f.event == "died" for f in state.facts)  # "나 죽었다" is no death of 엄마
    assert "돌아가" not in replies[3].text
    assert not any(n in r.text for r in replies for n in CRISIS_NUMBERS)


def test_high_stays_through_minimising_and_calm_turns_with_the_lines_in_every_reply():
    turns = [
        ("요즘 다 내려놓고 싶어요", None),
        ("그냥 죽고 싶다는 생각이 자꾸 들어요", None),
        ("아니 죽겠다는 건 아니고요 그냥 해 본 말이에요", None),
        ("오늘은 밥 먹었어요", None),
        ("드라마 보고 잤어요", None),
        ("내일은 출근해요", None),
    ]
    levels, replies, state = converse(turns)
    assert levels[1:] == ["high"] * 5
    assert replies[1].kind == "crisis"
    for reply in replies[2:]:
        assert "109" in reply.text, reply.text  # one tap away, in every turn after high
    assert any(m.sticky and m.level == "high" for m in state.marks)


def test_a_mild_watch_fades_after_calm_turns_but_a_real_cue_stays():
    # A classifier-only watch with no context counts for its turn and the next, then fades.
    levels, _, state = converse(
        [
            ("다음 주 발표가 걱정돼요", None),
            ("이번 발표 망하면 끝이에요", classifier("watch", "suicide", 0.95)),
            ("준비는 거의 다 했어요", None),
            ("친구가 도와준대요", None),
            ("오늘은 일찍 자려고요", None),
        ]
    )
    assert levels == ["none", "watch", "watch", "none", "none"]
    assert not state.marks  # nothing left of it
    # Hopelessness told in the client's own words is a risk-relevant step: it stays.
    levels, replies, state = converse([("요즘 아무 희망이 없어요", None), ("밥은 먹었어요", None), ("잤어요", None)])
    assert levels == ["watch", "watch", "watch"]
    assert replies[0].kind == "screening"


def test_classifier_signal_with_context_counts_and_escalation_needs_risk_steps():
    # With a hopeless cue before it, the classifier's high is real.
    levels, replies, _ = converse(
        [
            ("요즘 아무 희망이 없어요", None),
            ("아니요", None),
            ("이제 정말 끝내고 싶어요", classifier("high", "suicide")),
        ]
    )
    assert levels[-1] == "high" and replies[-1].kind == "crisis"
    # Sadness and stress over many turns are no steps towards high.
    sad = [("너무 슬퍼요", None), ("스트레스 받아요", None), ("우울해요", None), ("힘들어요", None)]
    levels, _, state = converse(sad)
    assert levels == ["none"] * 4 and not state.signals


def test_no_reply_asserts_a_feeling_the_client_did_not_express():
    happy = emotion("happiness")
    said = "요즘 회사 일이 너무 많아요"
    assert reply_emotion(said, happy).label == "neutral"  # the head's happy guess is not spoken to
    assert reply_emotion("합격해서 너무 기뻐요", happy).label == "happiness"
    invented = "회사가 즐겁다니 정말 반가운 이야기예요! 요즘 일하면서 가장 신나는 순간은 언제예요?"
    assert unsupported_claim(invented, said, [], ()) == "feeling_not_said"

    class Cheerful:
        def respond(self, text, emo, risk, history=()):
            return Reply(invented, "empathy", "cheerful")

    out = care_turn(said, happy, assess_risk(said), CareState(), [], Cheerful().respond)
    assert "즐겁" not in out.reply.text and "신나" not in out.reply.text
    assert "회사 일이 너무 많" in out.reply.text  # reflects the client's own words instead


def test_a_carried_over_state_keeps_sticky_risk_and_answers_but_drops_fading_marks():
    _, _, state = converse([("요즘 아무 희망이 없어요", None), ("아니요", None), ("죽고 싶어요", None)])
    assert state.level == "high"
    carried = CareState.from_json(state.carried_over().as_json())
    assert carried.level == "high" and carried.turns == 0 and "suicide" in carried.categories
    assert carried.answers == {"wish_dead": "no"}
    assert carried.pending is None  # an unanswered question is not carried
    fading = CareState(level="watch", categories=("suicide",), marks=(Mark(3, "watch", ("suicide",), sticky=False),))
    assert fading.carried_over().level == "none"


def test_a_state_stored_before_marks_keeps_its_level():
    old = {"level": "high", "categories": ["abuse"], "reasons": ["때려요"], "turns": 2}
    state = CareState.from_json(old)
    after = observe(state, "오늘은 괜찮아요", Risk("none")).state
    assert after.level == "high" and after.categories == ("abuse",)


def test_a_first_sign_only_the_classifier_read_is_asked_about_and_kept_at_watch_until_answered():
    # The classifier alone reads suicide-type risk in a first turn: a crisis reply, then the
    # screening questions, and the conversation keeps watch while the answers are unclear.
    script = [
        ("요즘은 그냥 다 내려놓고 싶어요", classifier("high", "suicide", 0.95)),
        ("밥은 먹었어요", None),
        ("그냥 그래요", None),
        ("잘 모르겠어요", None),
    ]
    levels, replies, state = converse(script)
    assert levels[0] == "high" and replies[0].kind == "crisis"
    assert replies[1].kind == "screening"
    assert levels[2:] == ["watch", "watch"]  # not faded on calm turns
    assert any(m.provisional for m in state.marks)


def test_a_clear_no_to_the_first_screening_question_settles_the_classifiers_first_sign():
    levels, replies, state = converse(
        [
            ("요즘은 그냥 다 내려놓고 싶어요", classifier("high", "suicide", 0.95)),
            ("밥은 먹었어요", None),
            ("아니요 그런 생각은 해 본 적 없어요", None),
            ("오늘은 일찍 자려고요", None),
        ]
    )
    assert replies[1].kind == "screening" and state.screening[0].answer == "no"
    assert levels[2:] == ["none", "none"]
    assert not any(m.provisional for m in state.marks)


def test_a_first_sign_of_another_kind_read_only_by_the_classifier_still_fades():
    # Screening settles only suicide-type risk; a child's ordinary fever flagged by the classifier fades.
    levels, _, _ = converse(
        [
            ("애가 열이 좀 나요", classifier("high", "medical", 0.92)),
            ("해열제 먹였어요", None),
            ("지금은 잘 자요", None),
            ("내일 병원 가 보려고요", None),
        ]
    )
    assert levels[-1] == "none"


# --- Care across the conversation, round 3: why safe conversations were flagged, and what stays. ---


def test_a_weak_signal_ends_on_a_calm_turn_but_holds_through_a_troubled_one():
    # Before: a classifier-only watch held its own turn and the next whatever the next one said.
    levels, replies, _ = converse(
        [
            ("솔직히 다 그만두고 이직하고 싶어요", classifier("watch", "suicide", 0.94)),
            ("그래도 다음 주에 친구들이랑 여행 가기로 했어요 ㅎㅎ", None),
        ]
    )
    assert levels == ["watch", "none"]
    assert not any(n in r.text for r in replies for n in CRISIS_NUMBERS)
    # A troubled next turn keeps it one more turn (caregiving, isolation: no calm words).
    levels, _, _ = converse(
        [
            ("치매 걸린 어머니를 혼자 모신 지 삼 년째예요", classifier("watch", "caregiver", 0.95)),
            ("형제들은 다 멀리 살아서 저 혼자 다 해야 돼요", None),
            ("오늘은 어머니가 일찍 주무셨어요", None),
        ]
    )
    assert levels == ["watch", "watch", "none"]


def test_the_classifiers_provisional_watch_does_not_confirm_its_own_next_guess():
    # Before: the provisional watch counted as held suicide risk, so the classifier's next watch
    # became sticky and the conversation stayed flagged after a clear no.
    levels, replies, state = converse(
        [
            ("마지막에 제 품에서 조용히 갔어요", classifier("high", "suicide", 0.90)),
            ("밥그릇을 아직도 못 치우겠어요", classifier("watch", "suicide", 0.87)),
            ("아니요 그런 생각은 해 본 적 없어요", None),
            ("주말에 사진으로 앨범 만들어 주려고요", None),
        ]
    )
    assert replies[1].kind == "screening" and state.screening[0].answer == "no"
    assert levels[-1] == "none" and not state.marks


def test_someone_elses_story_is_no_crisis_but_someone_elses_risk_now_is_a_concern():
    # A third person's past told as past: seen for its turn, no crisis reply, then it fades.
    story = "제 사촌이 고등학교 때 자살 시도를 한 적이 있었어요"
    assert assess_risk(story).level == "high"
    levels, replies, state = converse([(story, None), ("지금은 결혼해서 잘 살아요", None), ("고마워요", None)])
    assert levels == ["watch", "watch", "none"]
    assert replies[0].kind != "crisis" and not state.crisis_turns
    # Fiction with no first-person subject, rules and classifier together.
    drama = "다음 화에 주인공이 다리에서 뛰어내리려는 장면이 예고에 나왔어요"
    both = Risk("high", ("다리에서 뛰어내", f"{CLASSIFIER_REASON}: 위험 0.84"), ("suicide",))
    levels, replies, _ = converse([(drama, both), ("재밌겠죠", None)])
    assert levels == ["watch", "none"] and replies[0].kind != "crisis"
    # The client in the story is the client's risk; someone else's risk now is real.
    levels, replies, _ = converse([("저도 드라마 주인공처럼 옥상에서 뛰어내리고 싶어요", None)])
    assert levels == ["high"] and replies[0].kind == "crisis"
    for said in ("친구가 요즘 죽고 싶대요", "친구가 어제 자살 시도를 했어요"):
        assert assess_risk(said).level == "watch"
        levels, _, state = converse([(said, None), ("오늘 밥은 먹었어요", None), ("잤어요", None)])
        assert levels == ["watch", "watch", "watch"], said  # before: an idiom, none
        assert any(m.sticky for m in state.marks)


def test_ideation_taken_back_as_a_joke_at_once_is_asked_about_not_a_crisis():
    said = "시험 망해서 죽고 싶다 ㅋㅋ 아 농담이에요 그 정도는 아니고요"
    assert assess_risk(said).level == "high"
    script = [(said, None), ("아니요 그런 생각은 없어요", None), ("엄마 기대가 좀 부담돼요", None)]
    levels, replies, state = converse(script)
    assert levels[0] == "watch" and replies[0].kind == "screening"  # asked gently, no crisis reply
    assert state.screening[0].key == "wish_dead" and state.screening[0].answer == "no"
    assert levels[1:] == ["watch", "watch"]  # a no settles nothing below watch: the words were said
    # Without the joke it is what it says.
    levels, replies, _ = converse([("요즘 진짜 죽고 싶어요 ㅋㅋ", None)])
    assert levels == ["high"] and replies[0].kind == "crisis"


def test_a_no_the_classifier_reads_as_risk_and_a_denied_cue_raise_nothing():
    # "아니요 그런 생각은 없어요 …": only the classifier flagged it, and it says no.
    levels, _, _ = converse(
        [("아니요 그런 생각은 없어요 가족들 생각하면 힘내야죠", classifier("watch", "suicide", 0.98))]
    )
    assert levels == ["none"]
    # A cue denied in the same breath is no cue (before: a passive wish to die, high).
    levels, replies, state = converse([("엄마 따라가고 싶다 그런 건 전혀 아니에요 그냥 보고 싶어요", None)])
    assert levels == ["none"] and replies[0].kind != "crisis" and not state.signals
    # Said without the denial it stays high.
    levels, _, _ = converse([("요즘은 나도 엄마 따라가고 싶어요", None)])
    assert levels == ["high"]


def test_a_means_counts_with_a_farewell_across_turns():
    # Before: a means was no step of its own, so a farewell after it raised nothing lasting.
    levels, replies, _ = converse(
        [
            ("잠이 안 와서 수면제를 좀 모아 두고 있어요", classifier("watch", "suicide", 0.91)),
            ("고양이는 동생한테 부탁해 뒀어요", None),
        ]
    )
    assert levels == ["watch", "high"] and replies[1].kind == "crisis"
    # A means alone starts nothing beyond the detector's own reading.
    levels, _, _ = converse([("감기약 좀 사 놨어요", None)])
    assert levels == ["none"]


def test_a_follow_up_that_only_makes_sense_with_the_turn_before_is_asked_about():
    # Before: "그래서 아까 먹었어요" alone is nothing; after a hard day it may be an overdose.
    levels, replies, _ = converse([("오늘 진짜 많이 힘들었어요", None), ("그래서 아까 먹었어요", None)])
    assert levels == ["none", "watch"]
    assert "무엇을 드셨는지" in replies[1].text and "119" in replies[1].text
    levels, _, _ = converse([("점심을 못 먹어서 힘들었어요", None), ("그래서 아까 빵 먹었어요", None)])
    assert levels == ["none", "none"]


def test_a_means_then_a_time_on_the_next_turn_is_a_plan():
    levels, replies, _ = converse(
        [("잠이 안 와서 수면제를 좀 모아 두고 있어요", classifier("watch", "suicide", 0.91)), ("오늘 밤에요", None)]
    )
    assert levels == ["watch", "high"] and replies[1].kind == "crisis"


def test_someone_elses_risk_gets_lines_for_helping_them_not_the_clients_own_note():
    _, replies, _ = converse([("친구가 요즘 죽고 싶대요", None)])
    assert "그 사람이 걱정" in replies[0].text and "109" in replies[0].text
    assert "마음이 더 무거워지면" not in replies[0].text  # the bank's note about the client's own risk


def test_a_calm_conversation_hears_no_crisis_line_but_a_caregiver_keeps_the_care_line():
    class Harassment:
        def respond(self, text, emo, risk, history=()):
            return Reply(
                "많이 불쾌하셨겠어요. 혼자 감당하기 어려우면 1366에서도 도움을 받을 수 있어요.", "empathy", "h"
            )

    said = "동기들이랑 회사 폭파하고 싶다고 농담해요 ㅋㅋ"
    out = care_turn(said, emotion("neutral"), assess_risk(said), CareState(), [], Harassment().respond)
    assert "1366" not in out.reply.text and "불쾌" in out.reply.text
    # A fading caregiver signal still points to the dementia care line (support, not a crisis line).
    _, replies, _ = converse(
        [
            ("치매 걸린 어머니를 혼자 모신 지 삼 년째예요", classifier("watch", "caregiver", 0.95)),
            ("밤마다 어머니가 깨셔서 저도 잠을 못 자요", classifier("watch", "suicide", 0.90)),
        ]
    )
    assert "1899-9988" in replies[1].text and "109" not in replies[1].text
