"""The ``care`` responder: curated counselling replies chosen by meaning, emotion and the conversation.

Order of decisions for one turn:

1. high risk → a crisis reply with every Korean crisis line, preferring one written for the risk
   category (suicide, self-harm, harm to others, abuse); nothing else is ever said at high risk;
2. nothing heard → a gentle request to say it again;
3. a question about medication or a diagnosis → Maum says it is an AI and cannot answer that
   (``boundary``, kind ``identity``); a short social turn (greeting, thanks, goodbye, "who are
   you") → a fitting answer; a bare "네" or "몰라요" → an unhurried invitation (``short``);
4. the conversation so far: right after a crisis reply, a reply that keeps the door to the crisis
   lines open; when the mood turns lighter or heavier, or the client stays on the same topic or in
   the same emotion, a follow-up that says so (at most one in any three replies, and never instead
   of a reply whose cue matches very closely);
5. otherwise the bank reply whose client cues are closest in meaning (e5 cosine, plus a little for
   specific nouns the turn shares with the cues), nudged towards the detected emotion and towards
   the situation the conversation is about; a reply about a situation that nothing in the turn or
   the conversation points to loses out to a ``general`` one ("요즘 너무 힘들어요" is not about
   work). When no cue is close (``care_min_match``), the reply comes from the ``general``
   situation of a clearly detected emotion, or, when the emotion is unclear too, is a reflective
   invitation to say more (``listen``): better to ask than to guess a situation.

Then the reply may repeat the client's own key word (``reflect.py``; never twice in a row), and a
``watch`` level adds one soft sentence pointing to a human line.

No reply id is used twice in a conversation while the pool it comes from has unused ones; only a
conversation that has used a whole pool gets the least recently used entry again.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from pipeline.care.bank import BankReply, cue_embeddings, load_bank
from pipeline.care.reflect import KeyWord, Reflector, split_first_sentence
from pipeline.settings import Settings
from pipeline.text.e5 import E5Embedder, shared_embedder
from pipeline.types import Emotion, HistoryTurn, Reply, Risk

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

# How much the classifier's probability for a reply's emotion adds to its cosine score. e5
# cosines of Korean sentences lie close together (0.8–0.95), so a clear emotion decides which
# emotion's replies compete and the cosine picks the situation among them.
EMOTION_WEIGHT = 0.25
# A cue this close needs no other evidence for its situation.
STRONG_MATCH = 0.97
# Lexical evidence next to e5's: each specific noun the turn shares with a reply's cues adds this
# much to the reply's match, up to two nouns. e5-small's cosines follow surface wording a lot
# ("요즘 너무 지쳐요" is as close to "일이 너무 많아서 지쳐요" as to anything); a shared 비교 or
# 발표 is stronger evidence of what the turn is about.
LEXICAL_WEIGHT = 0.015
LEXICAL_MAX_NOUNS = 2
# A noun is specific when at most this many replies use it in their cues, and it is not one of
# these words of time, degree, talk or feeling that say nothing about the situation.
LEXICAL_MAX_REPLIES = 10
GENERIC_NOUNS = frozenset(
    "오늘 요즘 요새 어제 내일 지금 아까 이제 최근 하루 날 때 거 것 수 말 생각 사람 마음 기분 일 이번 다음 주 달 년 "
    "번 정도 중 앞 뒤 속 안 밖 전 후 처음 마지막 하나 자신 얘기 이야기 느낌 아무것 아무 무엇 "
    "화 짜증 걱정 불안 눈물 스트레스 우울 행복 슬픔 기쁨 분노".split()
)
# A follow-up on the same topic or emotion is used only when no unused bank reply matches the
# turn at least this closely (the client goes on without naming a new, specific situation).
FOLLOWUP_MAX_MATCH = 0.935
# Replies on the situation the conversation is already about get this much more.
CONTEXT_BONUS = 0.02
# Replies on a situation nothing in the turn or the conversation points to get this much less:
# "요즘 너무 힘들어요" should not be answered as if it were about work.
UNSUPPORTED_PENALTY = 0.04
# A cue noun says which situation a turn is about only when at most this many situations use it.
MAX_NOUN_SITUATIONS = 2
# Social turns are short; longer messages that merely contain 감사 or 안녕 are about something.
SHORT_TURN_CHARS = 25
# Boundary questions (medication, diagnosis) are answered up to this length.
BOUNDARY_TURN_CHARS = 80
NEGATIVE_EMOTIONS = frozenset({"sadness", "fear", "anger", "disgust"})
QUERY_CACHE_SIZE = 64

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
_BOUNDARY = re.compile(
    r"(무슨|어떤|먹을)\s*약|약\s*(좀|을|은|이름)?\s*(추천|알려|처방해|바꿔도|끊어도|줄여도|늘려도)|"
    r"(약|수면제|진통제|항우울제|안정제|영양제)[^.?!]{0,8}(먹어도\s*(돼|되|될|괜찮)|먹어야\s*(해|돼|할|하나|되)|몇\s*(알|개|mg))|"
    r"진단(해|을\s*해|좀|해\s*주)|"
    r"(우울증|공황\s*장애|공황|조울증|양극성|adhd|불안\s*장애|강박증|강박\s*장애|치매|정신병|자폐|대인\s*기피증|불면증|병)"
    r"\s*(인가요|일까요|맞나요|인가|일까|맞아|인지|아닐까|인\s*것\s*같아요\?)",
    re.I,
)
_SHORT = re.compile(
    r"^(네+|넵|예|응+|웅|음+|어+|엉|흠+|그냥|그냥요|몰라|몰라요|모르겠어|모르겠어요|모르겠다|글쎄|글쎄요|아니|아니요|"
    r"아뇨|뭐|별로|별로요|그래|그래요|그렇죠|맞아|맞아요|ㅇㅇ|ㄴㄴ)$"
)


def detect_intent(text: str) -> str:
    """The social intent of a turn, or "" for a turn with content.

    ``boundary`` (asks for medication advice or a diagnosis) and ``short`` (a bare yes, no or
    "I don't know") are intents too.
    """
    compact = re.sub(r"[\s.,!?~…ㅠㅜ]+", "", text)
    if _SHORT.match(compact):
        return "short"
    if len(text) <= BOUNDARY_TURN_CHARS and _BOUNDARY.search(text):
        return "boundary"
    if len(text) > SHORT_TURN_CHARS:
        return ""
    for intent, pattern in _INTENT_PATTERNS:
        if pattern.search(text):
            return intent
    return ""


def _last_use(history: Sequence[HistoryTurn]) -> dict[str, int]:
    return {turn.reply_id: i for i, turn in enumerate(history) if turn.reply_id}


def _pick(pool: Sequence[BankReply], used: set[str]) -> BankReply | None:
    return next((c for c in pool if c.id not in used), None)


def _least_recent(pool: Sequence[BankReply], history: Sequence[HistoryTurn]) -> BankReply:
    """The pool's entry used longest ago (only when every entry has been used)."""
    last = _last_use(history)
    return min(pool, key=lambda c: last.get(c.id, -1))


class CareResponder:
    """``Responder`` over the curated bank (see ``pipeline/care/data/README.md``)."""

    name = "care"

    def __init__(
        self,
        settings: Settings,
        embed=None,
        *,
        reflect: bool = True,
        embedder: E5Embedder | None = None,
        kiwi: Kiwi | None = None,
    ) -> None:
        """Load the bank, its cue embeddings and (unless ``reflect`` is off) Kiwi.

        Args:
            settings: ``replies_path``, ``care_min_match``, ``care_min_emotion`` and the cache folder.
            embed: list[str] → (n, 384) L2-normalised array (tests); ``embedder``'s queries when omitted.
            reflect: repeat the client's key words (needs Kiwi).
            embedder: the e5 model of the ``Pipeline`` that builds this responder;
                ``shared_embedder()`` when omitted.
            kiwi: the Kiwi of the ``Pipeline`` that builds this responder, for reflection;
                ``pipeline.text.morphology.shared_kiwi()`` when omitted.
        """
        self.min_match = settings.care_min_match
        self.min_emotion = settings.care_min_emotion
        self.bank = load_bank(settings.replies_path or None)
        self.embed = embed or (embedder or shared_embedder()).embed_queries
        cache = None if embed else settings.resolved_cache_dir  # test embedders are not cached
        self.cue_matrix = cue_embeddings(self.bank, self.embed, cache)
        _, self.cue_owner = self.bank.cue_rows()
        self.entries = {entry.id: entry for entry in self.bank.everything()}
        self._followup_ids = {f.id for f in self.bank.followups}
        self._crisis_ids = {c.id for c in self.bank.crisis}
        self._social_ids = {r.id for name, group in self.bank.intents.items() if name != "listen" for r in group}
        self.reflector = Reflector(self.bank.reflect_words, kiwi) if reflect and self.bank.reflect_words else None
        self.situation_nouns: dict[str, frozenset[str]] = {}
        self.noun_replies: dict[str, np.ndarray] = {}
        if self.reflector is not None:
            self.reflector.warm_up()
            self.situation_nouns = self._situation_nouns()
            self.noun_replies = self._noun_replies()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    # -- the turn ------------------------------------------------------------------------------

    def respond(self, text: str, emotion: Emotion, risk: Risk, history: Sequence[HistoryTurn] = ()) -> Reply:
        """Answer one client turn (see the module docstring for the order of decisions)."""
        start = time.perf_counter()
        used = {turn.reply_id for turn in history if turn.reply_id}
        if risk.level == "high":
            chosen, kind = self._crisis(risk, used, history), "crisis"
            return Reply(chosen.text, kind, chosen.id, (time.perf_counter() - start) * 1000.0)
        if not text.strip():
            chosen, kind = self._intent("fallback", used, history), "fallback"
            return Reply(chosen.text, kind, chosen.id, (time.perf_counter() - start) * 1000.0)

        words = self._key_words(text, risk)
        intent = detect_intent(text)
        after_crisis = self._after_crisis(history, used) if intent in ("", "short") else None
        if after_crisis is not None:
            chosen, kind = after_crisis, "empathy"
        elif intent in self.bank.intents:
            chosen = self._intent(intent, used, history)
            kind = {"boundary": "identity", "short": "listen"}.get(intent, intent)
        elif intent in ("boundary", "short"):  # a bank without these groups
            chosen, kind = self._intent("listen", used, history), "listen"
        else:
            chosen, kind = self._content(text, emotion, history, used, words)
        reply_text = self._reflected(chosen, words, history) or chosen.text
        if risk.level == "watch" and kind != "fallback":
            reply_text = f"{reply_text} {self._watch_note(risk, history)}".strip()
        return Reply(reply_text, kind, chosen.id, (time.perf_counter() - start) * 1000.0)

    def entry(self, reply_id: str) -> BankReply | None:
        """The bank entry behind a reply id (None for unknown ids)."""
        return self.entries.get(reply_id)

    # -- ranking -------------------------------------------------------------------------------

    def _embed_query(self, text: str) -> np.ndarray:
        cached = self._queries.get(text)
        if cached is None:
            cached = np.asarray(self.embed([text]), dtype=np.float32)[0]
            self._queries[text] = cached
            if len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        else:
            self._queries.move_to_end(text)
        return cached

    def rank(self, text: str, emotion: Emotion) -> tuple[np.ndarray, float]:
        """Score of every bank reply for ``text`` (higher fits better) and the best match.

        The match of a reply is the cosine of its closest cue plus the shared-noun bonus; the score
        adds the emotion bonus. (``respond`` also weighs the conversation's situation.)
        """
        closeness = self._closeness(text) + self._lexical(text)
        bonus = np.array([emotion.scores.get(r.emotion, 0.0) for r in self.bank.replies], dtype=np.float32)
        return closeness + EMOTION_WEIGHT * bonus, float(closeness.max())

    def _closeness(self, text: str) -> np.ndarray:
        """Per reply, the cosine of its closest cue to ``text``."""
        cue_scores = self.cue_matrix @ self._embed_query(text)
        closeness = np.full(len(self.bank.replies), -np.inf, dtype=np.float32)
        np.maximum.at(closeness, self.cue_owner, cue_scores)
        return closeness

    def _noun_replies(self) -> dict[str, np.ndarray]:
        """Specific noun → indices of the replies whose cues use it."""
        assert self.reflector is not None
        owners: dict[str, set[int]] = {}
        for i, reply in enumerate(self.bank.replies):
            for cue in reply.cues:
                for noun in self.reflector.nouns(cue) - GENERIC_NOUNS:
                    owners.setdefault(noun, set()).add(i)
        return {n: np.array(sorted(i), dtype=np.int64) for n, i in owners.items() if len(i) <= LEXICAL_MAX_REPLIES}

    def _lexical(self, text: str) -> np.ndarray:
        """Per reply, the bonus for specific nouns its cues share with ``text``."""
        bonus = np.zeros(len(self.bank.replies), dtype=np.float32)
        if self.reflector is not None:
            for noun in self.reflector.nouns(text) - GENERIC_NOUNS:
                owners = self.noun_replies.get(noun)
                if owners is not None:
                    bonus[owners] += LEXICAL_WEIGHT
        return np.minimum(bonus, LEXICAL_WEIGHT * LEXICAL_MAX_NOUNS)

    def _situation_nouns(self) -> dict[str, frozenset[str]]:
        """Noun → the situations whose cues (or reflection word lists) use it, for specific nouns only."""
        assert self.reflector is not None
        seen: dict[str, set[str]] = {}
        for reply in self.bank.replies:
            if reply.situation == "general":
                continue
            for cue in reply.cues:
                for noun in self.reflector.nouns(cue) - GENERIC_NOUNS:
                    seen.setdefault(noun, set()).add(reply.situation)
        for situation, classes in self.bank.reflect_words.items():
            for table in classes.values():
                for key in table:
                    seen.setdefault(key, set()).add(situation)
        return {n: frozenset(s) for n, s in seen.items() if len(s - {"general"}) <= MAX_NOUN_SITUATIONS}

    def _evidence(self, text: str, words: list[KeyWord]) -> set[str]:
        """Situations the turn's own nouns point to."""
        found = {s for w in words for s in w.situations}
        if self.reflector is not None:
            for noun in self.reflector.nouns(text):
                found |= self.situation_nouns.get(noun, frozenset())
        return found

    def _context(self, history: Sequence[HistoryTurn]) -> str:
        """The situation of the latest reply about something (not general, not an intent)."""
        for turn in reversed(history[-3:]):
            entry = self.entries.get(turn.reply_id)
            if entry is not None and entry.situation and entry.situation != "general":
                return entry.situation
        return ""

    # -- pools -------------------------------------------------------------------------------

    def _crisis(self, risk: Risk, used: set[str], history: Sequence[HistoryTurn]) -> BankReply:
        wanted = set(risk.categories)
        pool = sorted(self.bank.crisis, key=lambda c: not (wanted & set(c.categories)))
        return _pick(pool, used) or _least_recent(pool, history)

    def _intent(self, name: str, used: set[str], history: Sequence[HistoryTurn]) -> BankReply:
        pool = self.bank.intents[name]
        return _pick(pool, used) or _least_recent(pool, history)

    def _content(
        self, text: str, emotion: Emotion, history: Sequence[HistoryTurn], used: set[str], words: list[KeyWord]
    ) -> tuple[BankReply, str]:
        """The best unused reply for a turn with content, and its kind (``empathy`` or ``listen``)."""
        closeness = self._closeness(text) + self._lexical(text)
        best_match = float(closeness.max())
        bonus = np.array([emotion.scores.get(r.emotion, 0.0) for r in self.bank.replies], dtype=np.float32)
        scores = closeness + EMOTION_WEIGHT * bonus
        if self.reflector is not None:
            evidence, context = self._evidence(text, words), self._context(history)
            for i, reply in enumerate(self.bank.replies):
                if reply.situation == context:
                    scores[i] += CONTEXT_BONUS
                elif reply.situation not in evidence and reply.situation != "general":
                    if closeness[i] < STRONG_MATCH:
                        scores[i] -= UNSUPPORTED_PENALTY
        clear = emotion.scores.get(emotion.label, 0.0) >= self.min_emotion
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        top_index = next((i for i in order if self.bank.replies[i].id not in used), None)
        top = None if top_index is None else self.bank.replies[top_index]
        top_match = -1.0 if top_index is None else float(closeness[top_index])

        followup = self._followup(emotion, clear, top_match, top, history, used, words)
        if followup is not None:
            return followup, "empathy"

        listen = self.bank.intents["listen"]
        if best_match < self.min_match:
            if not clear:
                chosen = _pick(listen, used)
                if chosen is not None:
                    return chosen, "listen"
            # Nothing is close in meaning: a general reply, or one about a situation the turn names.
            named = self._evidence(text, words) if self.reflector is not None else set()
            candidates = [i for i in order if self.bank.replies[i].situation in named | {"general"}]
            candidates.sort(key=lambda i: self.bank.replies[i].emotion != emotion.label)  # stable
        else:
            candidates = order
        for i in candidates:
            if self.bank.replies[i].id not in used:
                return self.bank.replies[i], "empathy"
        if top is not None:  # no unused general reply: any unused reply beats a repeat
            return top, "empathy"
        same_feeling = [f for f in self.bank.followups if f.when == "same_emotion" and f.emotion == emotion.label]
        chosen = _pick(listen, used) or _pick(same_feeling, used)
        if chosen is not None:
            return chosen, ("listen" if chosen in listen else "empathy")
        pool = (*self.bank.replies, *listen)  # a very long conversation: every text has been said
        chosen = _least_recent(pool, history)
        return chosen, ("listen" if chosen in listen else "empathy")

    def _followup(
        self,
        emotion: Emotion,
        clear: bool,
        top_match: float,
        top: BankReply | None,
        history: Sequence[HistoryTurn],
        used: set[str],
        words: list[KeyWord],
    ) -> BankReply | None:
        """A follow-up that fits how the conversation goes on, or None.

        ``top`` is the best unused bank reply and ``top_match`` the cosine of its closest cue.
        """
        if not history or not self.bank.followups:
            return None
        prev = history[-1]
        prev_entry = self.entries.get(prev.reply_id)
        if prev_entry is None or prev.reply_id in self._social_ids or prev.reply_id in self._followup_ids:
            return None  # the previous turn had no content to follow, or was a follow-up itself
        label = emotion.label
        if clear and prev.emotion in NEGATIVE_EMOTIONS and label == "happiness":
            wanted = [("lighter", "", "")]
        elif clear and prev.emotion == "happiness" and label in NEGATIVE_EMOTIONS:
            wanted = [("heavier", "", "")]
        elif any(t.reply_id in self._followup_ids for t in history[-2:]):
            return None  # at most one follow-up in any three replies
        elif top is not None and top_match >= FOLLOWUP_MAX_MATCH:
            return None  # a specific situation the bank answers closely deserves its own reply
        else:
            wanted = []
            situation = self._shared_topic(prev, prev_entry, top, top_match, words)
            if situation and label not in ("happiness", "surprise"):  # topic follow-ups are for worries
                wanted.append(("same_topic", "", situation))
            if clear and label == prev.emotion:
                wanted.append(("same_emotion", label, ""))
        for when, emo, situation in wanted:
            pool = [
                f
                for f in self.bank.followups
                if f.when == when and (not emo or f.emotion == emo) and (not situation or f.situation == situation)
            ]
            chosen = _pick(pool, used)
            if chosen is not None:
                return chosen
        return None

    def _after_crisis(self, history: Sequence[HistoryTurn], used: set[str]) -> BankReply | None:
        """Right after a crisis reply, a reply that keeps the crisis lines in view."""
        if not history or history[-1].reply_id not in self._crisis_ids:
            return None
        return _pick([f for f in self.bank.followups if f.when == "after_crisis"], used)

    def _shared_topic(
        self,
        prev: HistoryTurn,
        prev_entry: BankReply,
        top: BankReply | None,
        best_match: float,
        words: list[KeyWord],
    ) -> str:
        """The situation the client stays on (a key word said again, or the same situation matched)."""
        prev_situation = prev_entry.situation if prev_entry.situation != "general" else ""
        if self.reflector is not None and words:
            before = {w.key for w in self.reflector.key_words(prev.user_text)}
            for word in words:
                if word.key in before:
                    return prev_situation if prev_situation in word.situations else word.situations[0]
        if top is not None and prev_situation and best_match >= self.min_match and top.situation == prev_situation:
            return prev_situation
        return ""

    # -- wording -------------------------------------------------------------------------------

    def _key_words(self, text: str, risk: Risk) -> list[KeyWord]:
        if self.reflector is None:
            return []
        avoid = []
        for reason in risk.reasons:
            at = text.find(reason)
            if at >= 0:
                avoid.append((at, at + len(reason)))
        return self.reflector.key_words(text, avoid)

    def _reflected(self, chosen: BankReply, words: list[KeyWord], history: Sequence[HistoryTurn]) -> str | None:
        """The chosen text with the client's key word reflected, or None (never twice in a row)."""
        if self.reflector is None or not words or not chosen.reflect:
            return None
        if history and self._was_reflected(history[-1]):
            return None
        prefer = ""
        if history and chosen.id in self._followup_ids and history[-1].user_text:
            before = {w.key for w in self.reflector.key_words(history[-1].user_text)}
            prefer = next((w.key for w in words if w.key in before), "")
        result = self.reflector.reflect(chosen, words, prefer)
        return result[0] if result else None

    def _was_reflected(self, turn: HistoryTurn) -> bool:
        entry = self.entries.get(turn.reply_id)
        if entry is None or not entry.reflect:
            return False
        first, _ = split_first_sentence(entry.text)
        return not turn.reply_text.startswith(first)

    def _watch_note(self, risk: Risk, history: Sequence[HistoryTurn]) -> str:
        notes = self.bank.watch_notes
        if not notes:
            return ""
        wanted = set(risk.categories) or {"suicide"}
        pool = sorted(notes, key=lambda n: not (wanted & set(n.categories)))
        said = " ".join(turn.reply_text for turn in history)
        fresh = [n for n in pool if n.text not in said and wanted & set(n.categories)]
        return (fresh or pool)[0].text
