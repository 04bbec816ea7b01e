"""The ``care`` responder: curated counselling replies chosen by meaning and emotion.

Order of decisions for one turn:
1. high risk → a crisis reply with the Korean crisis lines (never anything else);
2. nothing heard → a gentle request to say it again;
3. a short social turn (greeting, thanks, goodbye, "who are you") → a fitting answer;
4. otherwise the bank reply whose client cues are closest in meaning (e5 cosine), nudged
   towards the detected emotion, never one already used in this conversation. When no cue is
   close (``care_min_match``), the reply comes from the ``general`` situation of a clearly
   detected emotion, or, when the emotion is unclear too, is a reflective invitation to say
   more (``listen``): better to ask than to answer a situation the client never mentioned.
   A ``watch`` level adds a soft pointer to a human line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import numpy as np

from pipeline.backends.e5 import shared_embedder
from pipeline.care.bank import BankReply, cue_embeddings, load_bank
from pipeline.settings import Settings
from pipeline.types import Emotion, HistoryTurn, Reply, Risk

# How much the classifier's probability for a reply's emotion adds to its cosine score.
EMOTION_WEIGHT = 0.25
# Social turns are short; longer messages that merely contain 감사 or 안녕 are about something.
SHORT_TURN_CHARS = 25

WATCH_NOTE = "마음이 더 무거워지면 언제든 자살예방상담전화 109에서 사람과 바로 이야기 나눌 수 있어요."

_INTENT_PATTERNS = (
    (
        "identity",
        re.compile(
            r"누구(야|세요|예요|에요|니|냐|신가요)|너\s*뭐|정체가|사람(이야|이에요|인가요|이세요|이니)|"
            r"(ai|에이아이|로봇|인공지능|챗봇)(이야|야|이에요|예요|인가요|이니|냐)",
            re.I,
        ),
    ),
    (
        "goodbye",
        re.compile(
            r"잘\s*있어|안녕히|(갈|가\s*볼|그만\s*할|나갈|잘)\s*게요?|이만\s*(갈|할|줄)|"
            r"다음에\s*(또|봐|봬|올)|bye|바이바이|잘\s*자",
            re.I,
        ),
    ),
    ("thanks", re.compile(r"고마워|고맙|감사(해|합|드려)|땡큐|thank", re.I)),
    ("greeting", re.compile(r"^\s*(안녕|안뇽|하이|hi\b|hello|헬로|반가워|반갑|처음\s*(뵙|왔))", re.I)),
)


def detect_intent(text: str) -> str:
    """The social intent of a short turn, or "" for a turn with content."""
    if len(text) > SHORT_TURN_CHARS:
        return ""
    for intent, pattern in _INTENT_PATTERNS:
        if pattern.search(text):
            return intent
    return ""


def _first_unused(candidates: Sequence[BankReply], used: set[str]) -> BankReply:
    return next((c for c in candidates if c.id not in used), candidates[len(used) % len(candidates)])


class CareResponder:
    """``Responder`` over the curated bank (see ``pipeline/care/data/README.md``)."""

    name = "care"

    def __init__(self, settings: Settings, embed=None) -> None:
        self.min_match = settings.care_min_match
        self.min_emotion = settings.care_min_emotion
        self.bank = load_bank(settings.replies_path or None)
        self.embed = embed or shared_embedder().embed_queries
        cache = None if embed else settings.resolved_cache_dir  # test embedders are not cached
        self.cue_matrix = cue_embeddings(self.bank, self.embed, cache)
        _, self.cue_owner = self.bank.cue_rows()

    def respond(self, text: str, emotion: Emotion, risk: Risk, history: Sequence[HistoryTurn] = ()) -> Reply:
        start = time.perf_counter()
        used = {turn.reply_id for turn in history if turn.reply_id}
        if risk.level == "high":
            chosen, kind = _first_unused(self.bank.crisis, used), "crisis"
        elif not text.strip():
            chosen, kind = _first_unused(self.bank.intents["fallback"], used), "fallback"
        elif intent := detect_intent(text):
            chosen, kind = _first_unused(self.bank.intents[intent], used), intent
        else:
            chosen, kind = self._closest(text, emotion, used)
        reply_text = chosen.text
        if risk.level == "watch" and kind == "empathy":
            reply_text = f"{reply_text} {WATCH_NOTE}"
        return Reply(text=reply_text, kind=kind, reply_id=chosen.id, latency_ms=(time.perf_counter() - start) * 1000.0)

    def rank(self, text: str, emotion: Emotion) -> tuple[np.ndarray, float]:
        """Score of every bank reply for ``text`` (higher fits better) and the best cue cosine."""
        query = np.asarray(self.embed([text]), dtype=np.float32)[0]
        cue_scores = self.cue_matrix @ query
        scores = np.full(len(self.bank.replies), -np.inf, dtype=np.float32)
        np.maximum.at(scores, self.cue_owner, cue_scores)
        bonus = np.array([emotion.scores.get(r.emotion, 0.0) for r in self.bank.replies], dtype=np.float32)
        return scores + EMOTION_WEIGHT * bonus, float(cue_scores.max())

    def _closest(self, text: str, emotion: Emotion, used: set[str]) -> tuple[BankReply, str]:
        """The best unused bank reply and its kind (``empathy``, or ``listen`` when none fits)."""
        scores, best_match = self.rank(text, emotion)
        allowed = np.ones(len(scores), dtype=bool)
        if best_match < self.min_match:
            if emotion.scores[emotion.label] < self.min_emotion:
                return _first_unused(self.bank.intents["listen"], used), "listen"
            allowed = np.array([r.situation == "general" for r in self.bank.replies])
        for i in np.argsort(-scores, kind="stable"):
            if allowed[i] and self.bank.replies[i].id not in used:
                return self.bank.replies[i], "empathy"
        return _first_unused(self.bank.intents["listen"], used), "listen"  # a very long conversation
