"""The conversation summary, the list snippet and the chart's axis: made from the stored data only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from pipeline.types import EMOTION_LABELS
from tests.test_counsellor import converse, page, signed_in
from webapp.counsellor.summary import (
    SNIPPET_CHARS,
    care_state_items,
    emotion_phases,
    facts,
    snippet,
    summarize,
)
from webapp.counsellor.views import axis_max

T0 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


def scores(**values: float) -> dict[str, float]:
    base = {label: 0.02 for label in EMOTION_LABELS}
    base.update(values)
    return base


def turn(index, text, level="none", reasons=(), categories=(), **emotion):
    label = max(emotion or {"neutral": 1}, key=(emotion or {"neutral": 1}).get)
    return SimpleNamespace(
        index=index,
        user_text=text,
        risk_level=level,
        risk_reasons=list(reasons),
        risk_categories=list(categories),
        emotion_label=label,
        emotion_scores=scores(**emotion),
    )


def conversation(turns, reviewed_at=None, **extra):
    return SimpleNamespace(
        turns=turns,
        updated_at=T0 + timedelta(minutes=len(turns)),
        reviewed_at=reviewed_at,
        reviewed_by=SimpleNamespace(email="kim@maum.example") if reviewed_at else None,
        **extra,
    )


STORY = [
    turn(0, "회사에서 상사가 소리를 질러서 화가 났어요", anger=0.6, sadness=0.2),
    turn(1, "남편과 이혼 얘기가 나왔고 엄마한테는 말도 못 했어요", sadness=0.5, anger=0.3),
    turn(2, "가끔은 죽고 싶다는 생각이 들어요", "high", ["죽고 싶다"], ["suicide"], sadness=0.4),
    turn(3, "잠이 안 와요", "watch", ["잠이 안 와"], ["suicide"], fear=0.4),
    turn(4, "오늘은 친구가 연락해 줘서 조금 기뻤어요", happiness=0.5, neutral=0.3),
    turn(5, "회사 일은 여전히 힘들어요", sadness=0.3, happiness=0.2),
]


def test_summary_lists_risk_reasons_categories_and_links_to_each_risky_turn():
    summary = summarize(conversation(STORY))
    assert summary.risk_level == "high"
    assert summary.reasons == ("죽고 싶다", "잠이 안 와")
    assert summary.categories == ("suicide",)
    assert [(t.number, t.level, t.anchor) for t in summary.risky_turns] == [
        (3, "high", "turn-3"),
        (4, "watch", "turn-4"),
    ]
    assert [t.number for t in summary.high_turns] == [3]


def test_categories_follow_the_agreed_order_whatever_order_turns_gave():
    turns = [
        turn(0, "지금 다리 위에 있어요", "high", ["다리 위"], ["imminent", "suicide"]),
        turn(1, "아빠가 때려요", "high", ["때려요"], ["abuse"]),
    ]
    assert summarize(conversation(turns)).categories == ("suicide", "abuse", "imminent")


def test_emotions_compare_the_first_half_with_the_second():
    phases = summarize(conversation(STORY)).phases
    assert [(p.first, p.last) for p in phases] == [(1, 3), (4, 6)]
    first, second = phases
    assert first.top[0][0] == "sadness"  # (0.2 + 0.5 + 0.4) / 3 beats anger (0.6 + 0.3 + 0.02) / 3
    assert first.top[0][1] == pytest.approx((0.2 + 0.5 + 0.4) / 3)
    assert [label for label, _ in second.top] == ["happiness", "fear"]  # 0.24 and 0.147 of the last three
    assert len(first.top) == 2


def test_one_turn_is_one_phase_and_no_turn_is_none():
    assert [(p.first, p.last) for p in emotion_phases([(1, scores(fear=0.9))])] == [(1, 1)]
    assert emotion_phases([(1, scores(fear=0.9))])[0].top[0] == ("fear", 0.9)
    assert emotion_phases([]) == ()
    empty = summarize(conversation([]))
    assert empty.risk_level == "none" and empty.phases == () and empty.risky_turns == ()


def test_facts_are_the_clients_own_people_events_and_topics():
    summary = summarize(conversation(STORY))
    assert set(summary.people) >= {"상사", "남편", "엄마", "친구"}
    assert summary.events == ("이혼",)
    assert summary.topics[0] == "회사", "the most frequent noun leads"
    every_word = " ".join(t.user_text for t in STORY)
    for word in summary.people + summary.events + summary.topics:
        assert word in every_word, f"{word} was not said"
    assert "생각" not in summary.topics and "오늘" not in summary.topics, "general words say nothing"


def test_facts_count_only_what_the_nouns_function_returns():
    people, events, topics = facts(["a", "b"], nouns_of=lambda text: [("민수", "NNP"), ("산책", "NNG")])
    assert people == ("민수",) and events == () and topics == ("산책",)


def test_review_state_and_reviewer():
    assert summarize(conversation(STORY)).review_state == "never"
    done = summarize(conversation(STORY, reviewed_at=T0 + timedelta(hours=1)))
    assert done.review_state == "reviewed" and done.reviewed_by == "kim@maum.example"
    assert summarize(conversation(STORY, reviewed_at=T0)).review_state == "stale"


def test_care_state_is_shown_only_when_there_is_one():
    assert summarize(conversation(STORY)).care_state == ()
    assert summarize(conversation(STORY, care_state=None)).care_state == ()
    state = {"level": "high", "screening": ["예", "아니요"], "nested": {"x": 1}, "flag": True}
    assert care_state_items(state) == (("level", "high"), ("screening", "예, 아니요"))
    assert summarize(conversation(STORY, care_state="escalated")).care_state == (("상태", "escalated"),)
    assert care_state_items(object()) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("짧은 말이에요", "짧은 말이에요"),
        ("  여러   칸\n띄어 쓴 말  ", "여러 칸 띄어 쓴 말"),
        ("가" * 100, "가" * SNIPPET_CHARS + "…"),
        ("", ""),
    ],
)
def test_snippet_shortens_at_a_word_boundary(text, expected):
    assert snippet(text) == expected


def test_a_long_snippet_never_cuts_a_word():
    words = (
        "요즘은 계속 우울하고 이유 없이 눈물이 나요 그리고 회사에서도 집에서도 마음 편히 쉴 곳이 없어서 너무 힘들어요"
    )
    short = snippet(words, limit=30)
    assert short.endswith("…") and len(short) <= 31
    assert words.startswith(short[:-1])
    assert words[len(short) - 1] == " ", "cut where a word ends"


@pytest.mark.parametrize(
    ("highest", "expected"), [(0.0, 0.5), (0.31, 0.5), (0.5, 0.5), (0.51, 0.6), (0.6, 0.6), (0.97, 1.0), (1.0, 1.0)]
)
def test_chart_axis_is_rounded_up_from_the_data(highest, expected):
    assert axis_max([0.01, highest]) == expected


# --- through the pages (fake pipeline, the real risk rules) -----------------------------------


def test_detail_page_summary_links_to_the_risky_turn(app):
    conversation_id = converse(app, "회사에서 상사가 소리를 질렀어요", "죽고 싶어요", "오늘은 친구를 만났어요")
    client = signed_in(app, "kim@maum.example")
    html = page(client, f"/counsellor/conversations/{conversation_id}")
    overview = html[html.index('id="overview"') : html.index('id="timeline-title"')]
    assert re.search(r'<a href="#turn-2" class="jump risk-high">2번째 차례', overview)
    assert 'id="turn-2"' in html
    assert "자살 위험" in overview
    assert "상사" in overview and "친구" in overview
    assert html.count("<h1") == 1


def test_list_shows_an_escaped_snippet_of_the_riskiest_turn(app):
    risky = converse(app, "<b>안녕</b> 하세요", "죽고 싶어요 정말로", "오늘은 친구를 만났어요")
    calm = converse(app, "<script>alert(1)</script> 오늘은 날씨가 좋아요")
    client = signed_in(app, "kim@maum.example")
    html = page(client, "/counsellor/")
    rows = {m.group(1): m.group(2) for m in re.finditer(r'data-conversation="(\w+)">(.*?)</tr>', html, re.S)}
    assert "죽고 싶어요 정말로" in rows[risky] and "2번째 · 위험 높음" in rows[risky]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 오늘은 날씨가 좋아요" in rows[calm]
    assert "<script>alert" not in html
