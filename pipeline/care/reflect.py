"""Reflecting the client's own words: key nouns found with Kiwi, particles that fit them.

A counsellor who repeats the client's word ("팀장님 때문에 …") shows that they listened. Maum
does this only where the Korean stays right:

* the word must be a noun (Kiwi ``NNG``/``NNP``, compounds and 님/들 joined) that is listed for
  the reply's situation in the bank's ``reflect_words`` (so pronouns, vague nouns such as 것 or
  생각, and risk words such as 약 or 칼 are never repeated);
* it must not lie inside a phrase the risk detector flagged;
* the template names the particle by its form after a consonant (``{N|이}``) and the particle is
  chosen from the word's last syllable: 이/가, 은/는, 을/를, 과/와, 으로/로 (ㄹ takes 로), 이랑/랑.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.care.bank import SLOT, BankReply, ReflectTemplate, lexicon_key

# After a final consonant / after a vowel.
_PAIRS = {"이": ("이", "가"), "은": ("은", "는"), "을": ("을", "를"), "과": ("과", "와"), "이랑": ("이랑", "랑")}
_NOUN_TAGS = frozenset({"NNG", "NNP"})
_SUFFIXES = frozenset({"님", "들"})  # XSN that stay with the word: 팀장님, 친구들
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])\s+(.+)$", re.S)


def final_consonant(syllable: str) -> int | None:
    """Index of the final consonant (종성) of a Hangul syllable: 0 for none, 8 for ㄹ; None if not Hangul."""
    code = ord(syllable) - 0xAC00
    if not 0 <= code < 11172:
        return None
    return code % 28


def particle(word: str, form: str) -> str:
    """The particle ``form`` (named by its after-consonant form, e.g. ``이``) that fits ``word``.

    Args:
        word: a Korean word ending in a Hangul syllable.
        form: one of 이 (이/가), 은 (은/는), 을 (을/를), 과 (과/와), 으로 (으로/로), 이랑 (이랑/랑).

    Returns:
        The particle as written after ``word``: 회사 → 가, 팀장님 → 이, 서울 + 으로 → 로.

    Raises:
        ValueError: the word does not end in a Hangul syllable, or ``form`` is unknown.
    """
    last = final_consonant(word[-1]) if word else None
    if last is None:
        raise ValueError(f"cannot choose a particle after {word!r}")
    if form == "으로":
        return "로" if last in (0, 8) else "으로"  # ㄹ-final words take 로: 서울로, 연필로
    if form not in _PAIRS:
        raise ValueError(f"unknown particle {form!r}")
    after_consonant, after_vowel = _PAIRS[form]
    return after_consonant if last else after_vowel


def fill(template: str, word: str) -> str:
    """Put ``word`` into the template's ``{N}`` / ``{N|particle}`` slot."""
    return SLOT.sub(lambda m: word + (particle(word, m.group(1)) if m.group(1) else ""), template)


def split_first_sentence(text: str) -> tuple[str, str]:
    """(first sentence, the rest) of a reply; the rest is empty for a one-sentence text."""
    m = _FIRST_SENTENCE.match(text)
    return (m.group(1), m.group(2)) if m else (text, "")


@dataclass(frozen=True)
class KeyWord:
    """A reflectable word found in the client's text.

    Attributes:
        key: lexicon key (no spaces).
        display: the word as Maum says it (팀장 → 팀장님).
        cls: ``person`` or ``thing``.
        situations: the situations whose lists hold it.
        start: character offset in the client's text.
        end: end offset.
        weight: how likely it is the topic (subject, topic or 때문에 marking; later in the text).
    """

    key: str
    display: str
    cls: str
    situations: tuple[str, ...]
    start: int
    end: int
    weight: float


class Reflector:
    """Finds the client's key words (Kiwi) and fills reflection templates with them."""

    def __init__(self, reflect_words: Mapping[str, Mapping[str, Mapping[str, str]]], kiwi=None) -> None:
        """Index the bank's word lists.

        Args:
            reflect_words: situation → class → lexicon key → display form (``ReplyBank.reflect_words``).
            kiwi: a kiwipiepy ``Kiwi`` (the responder's, from its ``Pipeline``);
                ``pipeline.text.morphology.shared_kiwi()`` when omitted.
        """
        self.index: dict[str, list[tuple[str, str, str]]] = {}
        for situation, classes in reflect_words.items():
            for cls, table in classes.items():
                for key, display in table.items():
                    self.index.setdefault(key, []).append((situation, cls, display))
        self._kiwi = kiwi
        self._tokens: OrderedDict[str, list] = OrderedDict()

    @property
    def kiwi(self):
        """The Kiwi morphological analyser, loaded on first use."""
        if self._kiwi is None:
            from pipeline.text.morphology import shared_kiwi

            self._kiwi = shared_kiwi()
        return self._kiwi

    def warm_up(self) -> None:
        """Load Kiwi's model now (its first analysis takes seconds), not during a client's turn."""
        if self.index:
            self.kiwi.tokenize("회사에서 팀장님 때문에 힘들었어요")

    def tokens(self, text: str) -> list:
        """Kiwi's tokens of ``text`` (the last few analyses are kept: a turn asks more than once)."""
        cached = self._tokens.get(text)
        if cached is None:
            cached = self.kiwi.tokenize(text) if text.strip() else []
            self._tokens[text] = cached
            if len(self._tokens) > 16:
                self._tokens.popitem(last=False)
        return cached

    def nouns(self, text: str) -> set[str]:
        """The nouns (NNG, NNP) of ``text`` as Kiwi writes them."""
        return {t.form for t in self.tokens(text) if t.tag in _NOUN_TAGS}

    def key_words(self, text: str, avoid: Sequence[tuple[int, int]] = ()) -> list[KeyWord]:
        """The reflectable words of ``text``, most topical first.

        Args:
            text: the client's utterance.
            avoid: character spans that must not be reflected (the risk detector's phrases).
        """
        if not self.index or not text.strip():
            return []
        tokens = self.tokens(text)
        found: dict[str, KeyWord] = {}
        i = 0
        while i < len(tokens):
            if tokens[i].tag not in _NOUN_TAGS:
                i += 1
                continue
            j = i + 1  # a run of nouns written together, with 님/들 attached
            while (
                j < len(tokens)
                and tokens[j].start == tokens[j - 1].start + tokens[j - 1].len
                and (tokens[j].tag in _NOUN_TAGS or (tokens[j].tag == "XSN" and tokens[j].form in _SUFFIXES))
            ):
                j += 1
            for start, end, key in self._spans(text, tokens, i, j):
                if any(start < a_end and a_start < end for a_start, a_end in avoid):
                    continue
                entries = self.index.get(key)
                if not entries:
                    continue
                nxt = tokens[j] if j < len(tokens) else None
                weight = 1.0 + start / max(len(text), 1) * 0.5
                if nxt is not None and (nxt.tag in ("JKS", "JX", "JKB") or nxt.form == "때문"):
                    weight += 1.0
                situations = tuple(dict.fromkeys(s for s, _, _ in entries))
                cls, display = entries[0][1], entries[0][2]
                if key not in found or found[key].weight < weight:
                    found[key] = KeyWord(key, display, cls, situations, start, end, weight)
                break  # the longest listed form of this run wins
            i = j
        words = [
            w
            for w in found.values()
            if not any(
                o is not w and o.start <= w.start and w.end <= o.end and o.end - o.start > w.end - w.start
                for o in found.values()
            )
        ]
        return sorted(words, key=lambda w: -w.weight)

    @staticmethod
    def _spans(text: str, tokens, i: int, j: int) -> Iterable[tuple[int, int, str]]:
        """Candidate (start, end, lexicon key) for the noun run ``tokens[i:j]``, longest first."""
        start, end = tokens[i].start, tokens[j - 1].start + tokens[j - 1].len
        prev = tokens[i - 1] if i > 0 else None
        if prev is not None and prev.tag in ("MM", "NNG", "NNP") and 0 < start - (prev.start + prev.len) <= 1:
            yield prev.start, end, lexicon_key(text[prev.start : end])  # 전 남친, 직장 상사, 반 친구
        yield start, end, lexicon_key(text[start:end])
        bare = j
        while bare > i + 1 and tokens[bare - 1].tag == "XSN":
            bare -= 1
        if bare < j:
            yield start, tokens[bare - 1].start + tokens[bare - 1].len, lexicon_key(text[start : tokens[bare].start])
        for k in range(bare - 1, i - 1, -1):  # the head noun, then the others: 회사일 → 일, 회사
            yield tokens[k].start, tokens[k].start + tokens[k].len, tokens[k].form

    def reflect(self, entry: BankReply, words: Sequence[KeyWord], prefer: str = "") -> tuple[str, KeyWord] | None:
        """The entry's text with its first sentence rewritten around one of ``words``, if one fits.

        Args:
            entry: the chosen bank entry (its ``reflect`` templates).
            words: key words of the client's turn (``key_words``).
            prefer: a lexicon key to use first when it fits (the topic the conversation stays on).

        Returns:
            (new text, the word used), or None when no template and word go together.
        """
        if not entry.reflect or not words:
            return None
        ordered = sorted(words, key=lambda w: (w.key != prefer, -w.weight))
        for template in entry.reflect:
            for word in ordered:
                if self._fits(template, entry, word):
                    first, rest = split_first_sentence(entry.text)
                    try:
                        sentence = fill(template.template, word.display)
                    except ValueError:
                        continue
                    return (f"{sentence} {rest}".strip() if rest else sentence), word
        return None

    @staticmethod
    def _fits(template: ReflectTemplate, entry: BankReply, word: KeyWord) -> bool:
        if word.cls != template.cls:
            return False
        if template.words:
            return word.key in template.words
        allowed = template.situations or ((entry.situation,) if entry.situation else ())
        return not allowed or any(s in allowed for s in word.situations)
