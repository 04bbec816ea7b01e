"""The summary at the top of a conversation, and the snippet of a list row, made only from stored data.

Nothing here writes prose about the client: every line of the summary is a value read from the
turns (risk levels, the phrases the risk rules matched, emotion scores, the client's own nouns) or
from the conversation (its review, and a care state when the running schema has one).

- Risk: the conversation's highest level, the matched phrases of every turn (first seen first),
  the categories in the order of ``RISK_CATEGORIES``, and one jump link per risky turn.
- Emotions: the mean of each label's score over the first half of the turns and over the second
  half (the first half takes the middle turn of an odd count); each half shows its two strongest.
- Topics and facts: nouns of the client's words by Kiwi (the app's ``Pipeline.kiwi``, see
  ``pipeline/text/morphology.py``), sorted into people and life events by two small word lists;
  the other nouns are topics, most frequent first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.text.morphology import cached_per_analyser, shared_kiwi
from pipeline.types import EMOTION_LABELS, RISK_CATEGORIES, RISK_LEVELS

#: Longest snippet shown in the conversation list, in characters (before the ellipsis).
SNIPPET_CHARS = 60

#: How many topics the summary lists.
MAX_TOPICS = 8

#: Strongest emotions shown for each half of a conversation.
EMOTIONS_PER_PHASE = 2

#: Nouns naming a person in the client's life (Kiwi splits compounds such as 남자친구 into 남자 + 친구).
PEOPLE_WORDS = frozenset(
    "엄마 어머니 아빠 아버지 부모 부모님 남편 아내 부인 와이프 남친 여친 애인 친구 동생 언니 오빠 형 누나 "
    "아들 딸 아이 아기 애기 자녀 손주 할머니 할아버지 시어머니 시아버지 장모 장인 시댁 처가 가족 "
    "상사 팀장 부장 과장 사장 동료 선생님 선생 담임 교수 선배 후배 반장 의사".split()
)

#: Nouns naming a life event.
EVENT_WORDS = frozenset(
    "이혼 이별 장례 장례식 사고 교통사고 수술 입원 퇴원 진단 암 시험 수능 면접 취업 실직 퇴사 해고 이직 이사 "
    "결혼 임신 출산 유산 졸업 입학 전학 휴학 자퇴 입대 제대 군대 폭행 폭력 왕따 괴롭힘 따돌림 사망 죽음 "
    "파산 빚 대출 소송 재판 학대".split()
)

#: Nouns too general to say what the conversation was about.
_STOP_NOUNS = frozenset(
    "것 수 때 거 등 데 번 좀 뭐 게 분 중 년 월 일 날 쪽 말 얘기 이야기 생각 정도 요즘 오늘 어제 내일 지금 "
    "나 저 우리 자신 마음 기분 사람 뿐 앞 뒤 속 안 밖 위 아래 이유 느낌 하루 매일 계속 혼자 가끔 정말 "
    "진짜 자꾸 너무 그냥 안녕".split()
)

_RISK_RANK = {level: rank for rank, level in enumerate(RISK_LEVELS)}


@dataclass(frozen=True)
class RiskyTurn:
    """A turn whose risk was not ``none``; the summary links to it."""

    number: int  # 1-based, as the page shows it
    level: str
    categories: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def anchor(self) -> str:
        """The id of the turn's element on the detail page."""
        return f"turn-{self.number}"


@dataclass(frozen=True)
class EmotionPhase:
    """Mean emotion scores over a run of turns."""

    first: int  # 1-based turn numbers, both included
    last: int
    top: tuple[tuple[str, float], ...]  # (label, mean score), strongest first


@dataclass(frozen=True)
class ConversationSummary:
    """What the detail page shows above the chart."""

    risk_level: str
    reasons: tuple[str, ...]
    categories: tuple[str, ...]
    risky_turns: tuple[RiskyTurn, ...]
    phases: tuple[EmotionPhase, ...]
    people: tuple[str, ...]
    events: tuple[str, ...]
    topics: tuple[str, ...]
    review_state: str  # "never", "reviewed" or "stale" (the client spoke again since)
    reviewed_at: datetime | None
    reviewed_by: str
    care_state: tuple[tuple[str, str], ...]

    @property
    def high_turns(self) -> tuple[RiskyTurn, ...]:
        """The risky turns whose level was high."""
        return tuple(t for t in self.risky_turns if t.level == "high")


def summarize(conversation: Any, *, nouns_of: Any = None, kiwi: Any = None) -> ConversationSummary:
    """Summarise a conversation from its turns and review.

    Args:
        conversation: a ``webapp.db.Conversation`` with its turns loaded (anything with the same
            attributes will do).
        nouns_of: ``text -> [(noun, tag)]``; Kiwi's nouns when None.
        kiwi: the Kiwi those nouns come from (the app's ``Pipeline.kiwi``);
            ``pipeline.text.morphology.shared_kiwi()`` when None (scripts, tests).

    Returns:
        The summary; an empty one (level ``none``, no phases) for a conversation without turns.
    """
    turns = sorted(conversation.turns, key=lambda t: t.index)
    risk_level = max((t.risk_level for t in turns), key=lambda lv: _RISK_RANK.get(lv, 0), default="none")
    risky = tuple(
        RiskyTurn(
            number=t.index + 1,
            level=t.risk_level,
            categories=tuple(t.risk_categories or ()),
            reasons=tuple(t.risk_reasons or ()),
        )
        for t in turns
        if _RISK_RANK.get(t.risk_level, 0) > 0
    )
    reasons = _unique(r for t in risky for r in t.reasons)
    seen_categories = {c for t in risky for c in t.categories}
    categories = tuple(c for c in RISK_CATEGORIES if c in seen_categories) + tuple(
        sorted(seen_categories - set(RISK_CATEGORIES))
    )
    people, events, topics = facts([t.user_text for t in turns], nouns_of=nouns_of, kiwi=kiwi)
    reviewed_at = conversation.reviewed_at
    if reviewed_at is None:
        review_state = "never"
    elif conversation.updated_at is not None and reviewed_at < conversation.updated_at:
        review_state = "stale"
    else:
        review_state = "reviewed"
    reviewer = getattr(conversation, "reviewed_by", None)
    return ConversationSummary(
        risk_level=risk_level,
        reasons=reasons,
        categories=categories,
        risky_turns=risky,
        phases=emotion_phases([(t.index + 1, t.emotion_scores or {}) for t in turns]),
        people=people,
        events=events,
        topics=topics,
        review_state=review_state,
        reviewed_at=reviewed_at,
        reviewed_by=getattr(reviewer, "email", "") or "",
        care_state=care_state_items(getattr(conversation, "care_state", None)),
    )


def emotion_phases(scored: Sequence[tuple[int, Mapping[str, float]]]) -> tuple[EmotionPhase, ...]:
    """Mean scores of the first and second half of ``(turn number, scores)``; one phase for a single turn."""
    if not scored:
        return ()
    if len(scored) == 1:
        halves = [scored]
    else:
        middle = (len(scored) + 1) // 2
        halves = [scored[:middle], scored[middle:]]
    phases = []
    for half in halves:
        means = {label: sum(float(s.get(label, 0.0)) for _, s in half) / len(half) for label in EMOTION_LABELS}
        ranked = sorted(means.items(), key=lambda kv: (-kv[1], EMOTION_LABELS.index(kv[0])))
        phases.append(EmotionPhase(first=half[0][0], last=half[-1][0], top=tuple(ranked[:EMOTIONS_PER_PHASE])))
    return tuple(phases)


def facts(
    texts: Iterable[str], *, nouns_of: Any = None, kiwi: Any = None
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``(people, events, topics)`` among the nouns of ``texts``, each most frequent first (ties: first seen).

    ``nouns_of`` and ``kiwi`` are as for ``summarize``.
    """
    if nouns_of is None:
        analyser = kiwi if kiwi is not None else shared_kiwi()
        nouns_of = lambda text: _kiwi_nouns(analyser, text)  # noqa: E731
    counts: Counter[str] = Counter()
    proper: set[str] = set()
    for text in texts:
        for noun, tag in nouns_of(text or ""):
            if noun in _STOP_NOUNS or (len(noun) < 2 and noun not in PEOPLE_WORDS and noun not in EVENT_WORDS):
                continue
            counts[noun] += 1
            if tag == "NNP":
                proper.add(noun)
    ordered = [noun for noun, _ in sorted(counts.items(), key=lambda kv: -kv[1])]  # stable: first seen wins ties
    people = tuple(n for n in ordered if n in PEOPLE_WORDS or n in proper)
    events = tuple(n for n in ordered if n in EVENT_WORDS)
    topics = tuple(n for n in ordered if n not in people and n not in events)[:MAX_TOPICS]
    return people, events, topics


@cached_per_analyser(maxsize=4096)
def _kiwi_nouns(kiwi: Any, text: str) -> tuple[tuple[str, str], ...]:
    """Nouns of one turn. Kiwi takes a few ms a sentence; a conversation viewed again costs nothing."""
    return tuple((t.form, t.tag) for t in kiwi.tokenize(text) if t.tag in ("NNG", "NNP"))


def care_state_items(state: Any) -> tuple[tuple[str, str], ...]:
    """A care state (another part of Maum may add one to conversations) as ``(name, value)`` rows.

    Text becomes one row; a mapping becomes one row per key whose value is text, a number or a list
    of those. Anything else, and None, shows nothing.
    """
    if state is None:
        return ()
    if isinstance(state, str):
        return (("상태", state),) if state.strip() else ()
    if isinstance(state, Mapping):
        rows = []
        for key, value in state.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                rows.append((str(key), str(value)))
            elif isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
                rows.append((str(key), ", ".join(str(v) for v in value)))
        return tuple(rows)
    return ()


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


_SPACES = re.compile(r"\s+")


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The first words of ``text``: whitespace collapsed, cut at a word boundary before ``limit``, "…" added.

    A first word longer than ``limit`` is cut inside the word.
    """
    flat = _SPACES.sub(" ", text or "").strip()
    if len(flat) <= limit:
        return flat
    cut = flat[: limit + 1]
    space = cut.rfind(" ")
    head = cut[:space] if space > 0 else flat[:limit]
    return head.rstrip(" ,.·…") + "…"
