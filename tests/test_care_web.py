"""The conversation's care state through the web app, the counsellor page and the command line."""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.care.conversation import CareState
from tests.test_cli import FAKE_ENV, run_cli
from tests.test_counsellor import converse, page, signed_in
from tests.web import say, start
from webapp.db import Conversation, db


def stored_state(app, conversation_id: str) -> CareState:
    with app.app_context():
        raw = db.session.scalar(sa.select(Conversation.care_state).where(Conversation.id == conversation_id))
    return CareState.from_json(raw)


def test_the_api_returns_the_conversations_risk_and_keeps_it_high(app, client):
    conversation_id, token = start(client)
    first = say(client, conversation_id, token, "남자친구가 화나면 저를 때려요").json
    assert first["conversation_risk"] == {"level": "high", "categories": ["abuse"]}
    assert first["reply"]["kind"] == "crisis" and "1366" in first["reply"]["text"] and "112" in first["reply"]["text"]
    assert first["reply"]["spoken_text"] and "112" in first["reply"]["spoken_text"]
    calm = say(client, conversation_id, token, "오늘은 그냥 집에 있어요").json
    assert calm["risk"]["level"] == "none"
    assert calm["conversation_risk"]["level"] == "high"  # sticky: the crisis lines stay one tap away
    fear = say(client, conversation_id, token, "헤어지자고 하면 무슨 일이 생길지 무서워요").json
    assert fear["risk"]["level"] == "high" and fear["reply"]["kind"] == "crisis"
    state = stored_state(app, conversation_id)
    assert state.level == "high" and state.turns == 3 and state.facts[0].who == "남자친구"


def test_screening_answers_are_stored_with_the_conversation(app, client):
    conversation_id, token = start(client)
    asked = say(client, conversation_id, token, "요즘 아무 희망이 없어요").json
    assert asked["reply"]["kind"] == "screening" and asked["conversation_risk"]["level"] == "watch"
    say(client, conversation_id, token, "아니요")
    state = stored_state(app, conversation_id)
    assert [(i.key, i.answer, i.answer_text) for i in state.screening] == [
        ("wish_dead", "no", "아니요"),
        ("thoughts", "", ""),
    ]


def test_the_counsellor_sees_the_risk_state_reasons_and_screening_near_the_top(app):
    conversation_id = converse(app, "요즘 아무 희망이 없어요", "네 가끔요", "아니요")
    with signed_in(app, "c@example.org") as client:
        html = page(client, f"/counsellor/conversations/{conversation_id}")
    care = html.index('id="care-state"')
    assert care < html.index('id="turns-title"')  # above the transcript
    section = html[care : html.index("</section>", care)]
    assert "대화 전체의 위험" in section and "위험 주의" in section
    assert "희망이 없" in section  # the reason, in the client's words
    assert "죽고 싶은 바람" in section and "자살 생각" in section  # the questions asked
    assert "네 가끔요" in section and ">예<" in section and ">아니요<" in section  # and the answers


def test_a_conversation_from_before_the_care_state_still_opens(app):
    conversation_id = converse(app, "안녕하세요")
    with app.app_context():
        db.session.execute(sa.update(Conversation).values(care_state=None))
        db.session.commit()
    with signed_in(app, "c@example.org") as client:
        html = page(client, f"/counsellor/conversations/{conversation_id}")
    assert "기록하기 전에 시작됐어요" in html


def test_the_command_line_carries_the_state_across_lines():
    proc, lines = run_cli(["reply"], "죽고 싶어요\n오늘 날씨 좋네요\n", FAKE_ENV)
    assert proc.returncode == 0, proc.stderr
    assert [line["risk"] for line in lines] == ["high", "none"]
    assert [line["conversation_risk"]["level"] for line in lines] == ["high", "high"]
    assert lines[0]["reply_spoken"] and "109" in lines[0]["reply_spoken"]
    assert set(lines[1]) >= {"text", "emotion", "risk", "reply"}


def test_a_turn_built_on_a_stale_state_is_refused_and_changes_nothing(app, client, monkeypatch):
    conversation_id, token = start(client)
    say(client, conversation_id, token, "죽고 싶어요")
    before = stored_state(app, conversation_id)
    # another request stored a turn after this one read the conversation: it saw no turns
    monkeypatch.setattr("webapp.api.views.history_of", lambda _id: [])
    monkeypatch.setattr("webapp.api.views.care_state_of", lambda _id: CareState())
    response = say(client, conversation_id, token, "오늘 날씨 좋네요")
    assert response.status_code == 409 and response.json["error"]["code"] == "conflict"
    assert stored_state(app, conversation_id) == before and before.level == "high"


def test_the_json_export_carries_the_care_state(app):
    from webapp.counsellor.export import conversation_json

    conversation_id = converse(app, "요즘 아무 희망이 없어요", "아니요")
    with app.app_context():
        document = conversation_json(db.session.get(Conversation, conversation_id))
    care = document["care_state"]
    assert care["level"] == "watch" and care["screening"][0]["answer"] == "no"
