"""Care replies: crisis lines by situation, direct questions, screening in the flow, grounding, memory."""

from __future__ import annotations

import json

import pytest

from pipeline.care.conversation import CareState
from pipeline.care.crisis import RISK_CATEGORIES, SPOKEN_MAX_CHARS, crisis_reply, default_path, load_crisis, shipped
from pipeline.care.policy import care_turn, direct_question, unsupported_claim
from pipeline.care.risk import assess_risk
from pipeline.care.screening import QUESTIONS
from pipeline.errors import ModelFilesError
from pipeline.types import EMOTION_LABELS, Emotion, HistoryTurn, Reply, Risk


def emotion(label="sadness"):
    return Emotion(label, {lab: (0.7 if lab == label else 0.05) for lab in EMOTION_LABELS})


class Scripted:
    """A responder that says what it is told (to check what the care layer lets through)."""

    def __init__(self, text="그런 일이 있었군요. 조금 더 들려주실래요?"):
        self.text = text
        self.calls = []

    def respond(self, text, emo, risk, history=()):
        self.calls.append((text, risk))
        return Reply(self.text, "empathy", f"scripted-{len(history)}")


def converse(lines, responder=None, label="sadness"):
    """Run lines through ``care_turn``; returns the replies and the final state."""
    responder = responder or Scripted()
    state, history, replies = CareState(), [], []
    for text in lines:
        out = care_turn(text, emotion(label), assess_risk(text), state, history, responder.respond)
        state = out.state
        replies.append(out.reply)
        history.append(HistoryTurn(text, out.reply.text, label, out.reply.reply_id))
    return replies, state


@pytest.mark.parametrize(
    ("categories", "numbers"),
    [
        (("suicide",), ("109", "1577-0199", "112", "119")),
        (("self_harm",), ("109", "1577-0199", "119")),
        (("suicide", "imminent"), ("112", "119", "109")),
        (("child_at_risk",), ("112", "1388")),
        (("school_violence",), ("117", "1388")),
        (("abuse",), ("1366", "112")),
        (("harm_to_others",), ("112",)),
        (("medical",), ("119",)),
        (("caregiver",), ("1899-9988",)),
        (("abuse", "suicide"), ("1366", "112", "109", "1577-0199")),
    ],
)
def test_each_situation_gets_its_numbers_and_says_it_is_an_ai(categories, numbers):
    reply = crisis_reply(categories)
    assert reply.kind == "crisis"
    for number in numbers:
        assert number in reply.text
    assert "AI" in reply.text and "상담 선생님" in reply.text
    assert reply.spoken_text and len(reply.spoken_text) <= SPOKEN_MAX_CHARS
    assert "AI" in reply.spoken_text


def test_danger_now_and_medical_emergencies_put_112_119_first():
    imminent = crisis_reply(("suicide", "imminent")).text
    assert imminent.index("112") < imminent.index("109")
    medical = crisis_reply(("medical",))
    assert medical.text.index("119") < 40 and medical.spoken_text.startswith("지금 바로 119")


def test_the_harm_to_others_reply_refuses_the_plan():
    text = crisis_reply(("harm_to_others",)).text
    assert "도울 수 없어요" in text or "돕거나 응원할 수 없어요" in text


def test_the_shipped_crisis_data_covers_every_category_and_cites_sources():
    data = shipped()
    assert set(data.replies) == set(RISK_CATEGORIES)
    assert all(line.source for line in data.lines.values())


def test_a_crisis_reply_missing_its_number_is_refused(tmp_path):
    raw = json.loads(default_path().read_text(encoding="utf-8"))
    raw["situations"]["school_violence"]["replies"][0]["text"] = (
        "힘들었겠어요. 저는 AI이고 상담 선생님과 이어 드릴게요."
    )
    path = tmp_path / "crisis.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ModelFilesError, match="misses 117"):
        load_crisis(path)


def test_a_child_with_a_high_fever_gets_119_not_a_reply_about_worry():
    responder = Scripted("걱정이 많으시겠어요.")
    out = care_turn(
        "아이가 열이 40도예요",
        emotion("fear"),
        Risk("high", ("열이 40도",), ("medical",)),
        CareState(),
        [],
        responder.respond,
    )
    assert out.reply.kind == "crisis" and "119" in out.reply.text
    assert responder.calls == []  # nothing else is said at high risk


def test_a_revenge_plan_is_never_praised():
    replies, state = converse(
        ["나 괴롭힌 애들 다 찾아가서 똑같이 갚아 줄 거예요 방법도 다 생각해 놨어요"],
        Scripted("계획까지 세우셨다니 대단해요!"),
    )
    assert replies[0].kind == "crisis" and "112" in replies[0].text
    assert "대단" not in replies[0].text and "응원" not in replies[0].text.replace("응원할 수 없어요", "")
    assert unsupported_claim("정말 대단한 계획이에요", "걔네한테 똑같이 갚아 줄 거예요", [], []) == "praise_of_harm"


@pytest.mark.parametrize(
    ("text", "kind", "must"),
    [
        ("어떻게 해야 할까요?", "what_to_do", "상담 선생님"),
        ("병원에 가 봐야 할까요?", "hospital", "진단은 할 수 없어요"),
        ("사람이랑 얘기할 수 있어요?", "human", "1577-0199"),
        ("상담사랑 직접 통화하고 싶어요", "human", "1577-0199"),
        ("자살 상담 전화번호가 뭐예요", "hotline", "109"),
        ("친구한테 알려 주려고요 자살 예방 상담 번호 좀 알려 주세요", "hotline", "1577-0199"),
        ("힘들 때 어디에 전화하면 돼요", "hotline", "109"),
        ("너 누구야", "identity", "AI"),
        ("AI야?", "identity", "AI"),
        ("이거 녹음돼요?", "recording", "녹음도 함께 저장돼요"),
        ("제 이야기 저장돼요?", "recording", "저장되고"),
    ],
)
def test_direct_questions_are_answered_honestly(text, kind, must):
    assert direct_question(text) == kind
    replies, _ = converse([text], label="neutral")
    assert replies[0].kind == "answer" and must in replies[0].text
    assert "상담 선생님" in replies[0].text or "상담사" in replies[0].text


def test_everyday_sentences_are_not_direct_questions():
    assert direct_question("오늘 회사에서 힘들었어요") == ""
    assert direct_question("친구랑 영화를 봤어요") == ""
    assert direct_question("새 전화번호로 바꿨어요") == ""
    assert direct_question("피자 가게에 전화했어요") == ""


def test_the_hospital_answer_gives_no_diagnosis_or_medication():
    replies, _ = converse(["병원에 가 봐야 할까요?"], label="fear")
    assert not any(word in replies[0].text for word in ("우울증이에요", "처방", "복용", "mg"))


def test_screening_asks_one_question_per_turn_and_settles_at_watch():
    replies, state = converse(["요즘 아무 희망이 없어요", "아니요", "아뇨", "없어요", "그냥 좀 지쳤어요"])
    kinds = [r.kind for r in replies]
    assert kinds[:4] == ["screening", "screening", "screening", "empathy"]
    assert all(sum(q in r.text for q in QUESTIONS.values()) == 1 for r in replies[:3])  # one question a turn
    assert [(i.key, i.answer) for i in state.screening] == [
        ("wish_dead", "no"),
        ("thoughts", "no"),
        ("behaviour", "no"),
    ]
    assert state.level == "watch"
    assert replies[3].text.startswith("솔직하게 답해 주셔서 고마워요.")


def test_a_yes_to_a_plan_gets_a_crisis_reply():
    # wish to be dead: yes; thoughts: yes; method: yes; intent: no; plan: yes
    replies, state = converse(["사는 게 의미가 없어요", "네", "네 있어요", "네", "아니요", "네 날짜도 정했어요"])
    assert [r.kind for r in replies][:5] == ["screening"] * 5
    assert replies[-1].kind == "crisis" and "109" in replies[-1].text
    assert state.level == "high"


def test_after_a_crisis_reply_the_screening_continues_while_the_client_talks():
    replies, state = converse(["죽고 싶어요", "그냥 다 지쳤어요"])
    assert replies[0].kind == "crisis"
    assert replies[1].kind == "screening" and state.screening[0].key == "method"


def test_a_high_conversation_keeps_a_crisis_line_in_view_on_calm_turns():
    responder = Scripted()
    converse(["남자친구가 화나면 저를 때려요", "오늘은 그냥 집에 있어요"], responder)
    [(_, risk)] = responder.calls
    assert risk.level == "watch" and "abuse" in risk.categories  # the responder adds its line with 112/1366


def test_a_death_nobody_mentioned_is_never_told_to_the_client():
    invented = "아빠가 갑자기 떠나셨다니 아직 믿기지 않으실 것 같아요. 지금 마음이 어떠세요?"
    replies, _ = converse(["아빠가 담배를 갑자기 끊으셨대요"], Scripted(invented), label="surprise")
    assert "떠나셨" not in replies[0].text and "돌아가" not in replies[0].text
    assert "담배를 끊으셨군요" in replies[0].text  # what the client did say, instead


def test_a_hard_week_is_never_called_uneventful():
    replies, _ = converse(
        ["이번 주에 회사에서 정말 힘들었어요"], Scripted("별일 없이 하루를 보내셨군요. 어떤 하루였어요?")
    )
    assert "별일 없이" not in replies[0].text
    assert replies[0].text.startswith("이번 주에 회사에서 정말 힘드셨군요.")  # their own words, said back


def test_a_person_the_client_never_named_is_not_invented():
    assert unsupported_claim("팀장님 때문에 힘드셨군요", "요즘 너무 지쳐요", [], []).startswith("person_not_named")
    assert unsupported_claim("팀장님 때문에 힘드셨군요", "팀장이 또 소리를 질렀어요", [], []) == ""


def test_a_supported_reply_is_kept():
    text = "아버지를 떠나보내신 마음이 얼마나 아프실까요."
    replies, _ = converse(["어제 아빠가 돌아가셨어요"], Scripted(text))
    assert replies[0].text == text


def test_a_fathers_death_is_remembered_three_turns_later():
    lines = [
        "지난주에 아빠가 돌아가셨어요",
        "요즘 잠을 잘 못 자요",
        "밥도 잘 안 넘어가요",
        "엄마랑 자꾸 싸워서 속상해요",
    ]
    replies, state = converse(lines, Scripted("어떤 이야기를 하다가 다툼이 시작됐어요?"))
    assert "아버지께서 돌아가셨다고 하셨죠." in replies[1].text
    assert "아버지께서 돌아가셨다고 하셨죠." not in replies[2].text  # not every turn
    assert "아버지께서 돌아가셨다고 하셨죠." in replies[3].text  # three turns later, still remembered
    assert state.facts[0].who == "아버지"


def test_a_reply_that_reports_what_the_client_never_said_is_replaced():
    invented = "성적이 올랐다니 정말 기쁜 소식이에요! 스스로 가장 칭찬하고 싶은 점은 뭐예요?"
    replies, _ = converse(["시험에 붙었어요!"], Scripted(invented), label="happiness")
    assert "성적" not in replies[0].text and "시험에 붙었어요" in replies[0].text
    assert (
        unsupported_claim("사람들을 만나고 오셨군요.", "친구가 제 험담을 하고 다녀요", [], []) == "claim_not_said: 만나"
    )
    assert unsupported_claim("팀장님 때문에 많이 속상하셨군요.", "팀장이 또 소리를 질렀어요", [], []) == ""


def test_a_death_answered_as_a_visit_is_replaced_by_an_acknowledgement():
    visit = "아빠를 만나고 오셨군요. 오랜만의 만남이었다면 여러 마음이 오갔을 것 같아요."
    replies, _ = converse(["지난주에 아빠가 돌아가셨어요"], Scripted(visit), label="neutral")
    assert replies[0].text.startswith("아버지께서 돌아가셨다니")
    assert "만나" not in replies[0].text


@pytest.fixture(scope="module")
def real_pipeline():
    from pipeline.settings import Settings
    from pipeline.turn import Pipeline

    return Pipeline(Settings(transcriber="fake", synthesizer="fake"))


def real_conversation(pipe, lines):
    state, history, out = CareState(), [], []
    for text in lines:
        result = pipe.run_text(text, history, synthesize=False, care_state=state)
        state = result.care_state
        history.append(HistoryTurn(text, result.reply.text, result.emotion.label, result.reply.reply_id))
        out.append(result)
    return out


@pytest.mark.slow
def test_on_the_real_models_the_reviewers_cases_are_grounded(real_pipeline):
    [smoking] = real_conversation(real_pipeline, ["아빠가 담배를 갑자기 끊으셨대요"])
    assert not any(w in smoking.reply.text for w in ("떠나", "돌아가", "잃으")), smoking.reply.text
    [week] = real_conversation(real_pipeline, ["이번 주에 회사에서 정말 힘들었어요"])
    assert "별일 없" not in week.reply.text and "평범한 하루" not in week.reply.text, week.reply.text
    lines = [
        "지난주에 아빠가 돌아가셨어요",
        "요즘 잠을 잘 못 자요",
        "밥도 잘 안 넘어가요",
        "엄마랑 자꾸 싸워서 속상해요",
    ]
    turns = real_conversation(real_pipeline, lines)
    assert "돌아가" in turns[0].reply.text or "떠나" in turns[0].reply.text, turns[0].reply.text
    assert "아버지" in turns[3].reply.text, turns[3].reply.text
    [revenge] = real_conversation(
        real_pipeline, ["나 괴롭힌 애들 다 찾아가서 똑같이 갚아 줄 거예요 방법도 다 생각해 놨어요"]
    )
    assert revenge.reply.kind == "crisis" and "112" in revenge.reply.text


def test_caregiver_exhaustion_at_watch_points_to_the_dementia_line_not_the_suicide_line():
    responder = Scripted()
    risk = Risk("watch", ("돌보느라 너무 지쳤어요",), ("caregiver",))
    out = care_turn("치매 엄마 돌보느라 너무 지쳤어요", emotion(), risk, CareState(), [], responder.respond)
    assert "1899-9988" in out.reply.text and out.reply.kind != "crisis"
    assert responder.calls[0][1].level == "none"  # the bank's 109 note is not added on top
    assert out.state.level == "watch" and out.state.next_screening_question() == ""


def test_an_unclear_answer_is_heard_first_and_the_question_comes_back_once():
    replies, state = converse(
        ["요즘 아무 희망이 없어요", "오늘 점심은 김밥 먹었어요", "음", "배고파요", "밥 먹으러 갈래요"]
    )
    assert [r.kind for r in replies] == ["screening", "empathy", "screening", "empathy", "screening"]
    assert replies[2].reply_id == "screening-wish_dead"  # asked again after the unclear answer
    assert not replies[1].text.startswith("솔직하게 답해 주셔서")
    assert [i.answer for i in state.screening[:2]] == ["unclear", "unclear"]
    assert replies[4].reply_id == "screening-thoughts"  # not a third time


def test_after_a_burden_crisis_the_screening_asks_about_thoughts_first():
    replies, state = converse(["제가 없어지면 다들 편할 것 같아요", "모르겠어요"])
    assert replies[0].kind == "crisis"
    assert replies[1].reply_id == "screening-wish_dead"


def test_a_question_with_its_situation_is_acknowledged_before_the_answer():
    replies, _ = converse(["팀장님이 계속 괴롭히는데 어떻게 해야 할까요?"], label="fear")
    assert replies[0].kind == "answer" and replies[0].text.startswith("그 일로 고민이 많으시군요.")
    replies, _ = converse(["어떻게 해야 할까요?"], label="fear")
    assert replies[0].text.startswith("제가 정답을 드릴 수는 없지만")
