"""Standard pronunciation (표준발음법) of Korean text, with every applied rule reported.

Hand-written: no PyPI grapheme-to-phoneme converter works offline here (g2pkk downloads data at
import). Morphology comes from Kiwi, handed in by the caller (``Pipeline.kiwi``; ``shared_kiwi`` of
``pipeline.text.morphology`` when none is given): it decides, for example, whether
신고 is the noun (신고[신고]) or the verb 신다 + 고 (신고[신ː꼬], 제24항).

The text is first read out (numbers and symbols in Hangul, ``pipeline.text.normalize``); characters that
are neither Hangul syllables nor spaces are dropped. Every syllable keeps its place: the output has
exactly one pronounced syllable for each spelled syllable and the spaces where the input had them,
so ``RuleChange.index`` points into both ``Pronunciation.spoken`` and ``Pronunciation.hangul``.

Rules, in the order they apply (articles of 표준어 규정 제2부 표준 발음법):

* 제29항 'ㄴ' 첨가 in compounds and derivatives (솜이불[솜ː니불]), also across two words read as
  one phrase (한 일[한닐]);
* 제17항 구개음화 (굳이[구지], 굳히다[구치다]);
* 제12항 'ㅎ': 격음화 (놓고[노코], 각하[가카], 옷 한 벌[오탄벌]), ㅎ+ㅅ → ㅆ (닿소[다ː쏘]),
  ㅎ+ㄴ → ㄴ (놓는[논는]), ㅎ 탈락 before a vowel (낳은[나은]);
* 제16항 names of the letters (디귿이[디그시]);
* 제13–15항 연음: as spelled before a grammatical morpheme (옷이[오시], 넋이[넉씨]); through the
  representative sound before a vowel-initial content morpheme or word (겉옷[거돋], 밭 아래[바다래]);
* 제23–27항 경음화: after obstruents (국밥[국빱]), after verb and adjective stems ending in ㄴ, ㅁ
  (신고[신ː꼬]), ㄼ, ㄾ (핥다[할따]), ㄹ + ㄷㅅㅈ inside Sino-Korean nouns (갈등[갈뜽]), after the
  adnominal -(으)ㄹ (할 것을[할꺼슬]) and in endings that begin with it (할수록[할쑤록]);
* 제9–11항 받침: the seven final sounds and double finals, incl. 밟-[밥], 넓죽하다[넙쭈카다] and
  verb-stem ㄺ before ㄱ (맑게[말께]);
* 제19항 'ㄹ'의 비음화 (침략[침냑], 석류[성뉴]), 제20항 유음화 (신라[실라], 칼날[칼랄]) and its
  exceptions (생산량[생산냥]), 제18항 비음화 (국물[궁물], 밥 먹는다[밤멍는다]);
* 제5항 vowels: 'ㅢ' after a consonant is [ㅣ] (희망[히망]); 져, 쪄, 쳐 are [저, 쩌, 처].

Where the standard allows two pronunciations, the first (the principle) is produced, except for
맛있다/멋있다, which come out as the allowed [마싣따]/[머싣따] that speakers actually use.
Compounds without an 사이시옷 that still take a tense consonant (제28항: 문고리[문꼬리]) are
lexical and are not predicted; neither is vowel length.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.pronunciation.ipa import (
    CODA_REPRESENTATIVE,
    hangul_to_ipa_symbols,
    ipa_string,
    is_hangul_syllable,
    join_syllable,
    split_syllable,
)
from pipeline.text.morphology import cached_per_analyser, shared_kiwi

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

#: rule id → (Korean name, default article)
RULES: dict[str, tuple[str, str]] = {
    "vowel_ui": ("'ㅢ'의 발음", "제5항"),
    "vowel_jeo": ("'져, 쪄, 쳐'의 발음", "제5항"),
    "coda_neutralization": ("받침의 대표음", "제9항"),
    "double_coda": ("겹받침의 발음", "제10항"),
    "aspiration": ("거센소리되기(격음화)", "제12항"),
    "h_tensing": ("'ㅎ' 뒤 'ㅅ'의 된소리", "제12항"),
    "h_nasal": ("'ㅎ'의 'ㄴ' 되기", "제12항"),
    "h_deletion": ("'ㅎ' 탈락", "제12항"),
    "liaison": ("연음", "제13항"),
    "palatalization": ("구개음화", "제17항"),
    "nasalization": ("비음화", "제18항"),
    "r_nasalization": ("'ㄹ'의 비음화", "제19항"),
    "lateralization": ("유음화", "제20항"),
    "tensing": ("된소리되기(경음화)", "제23항"),
    "n_insertion": ("'ㄴ' 첨가", "제29항"),
}


@dataclass(frozen=True)
class RuleChange:
    """One application of a pronunciation rule.

    Attributes:
        rule: stable id (a key of ``RULES``), e.g. ``"nasalization"``.
        name: the rule's Korean name, e.g. ``"비음화"``.
        article: the article of 표준 발음법, e.g. ``"제18항"``.
        index: index of the first syllable the rule changed, in ``Pronunciation.spoken`` / ``.hangul``.
        length: how many characters of ``spoken``/``hangul`` the changed syllables span (from ``index``).
        word: the written word (between spaces) the change starts in.
        before: the syllables the rule looked at (the changed one and its neighbour across the
            joint) just before it applied, e.g. ``"국물"``.
        after: the same syllables just after, e.g. ``"궁물"``.
        detail: what changed, in plain Korean, e.g. ``"받침 ㄱ이 ㅁ 앞에서 [ㅇ]으로 바뀌어요"``.
    """

    rule: str
    name: str
    article: str
    index: int
    length: int
    word: str
    before: str
    after: str
    detail: str = ""

    @property
    def label(self) -> str:
        """``"제18항 비음화"``."""
        return f"{self.article} {self.name}"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (also carries ``label``)."""
        return {
            "rule": self.rule,
            "name": self.name,
            "article": self.article,
            "label": self.label,
            "index": self.index,
            "length": self.length,
            "word": self.word,
            "before": self.before,
            "after": self.after,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Pronunciation:
    """The standard pronunciation of a text.

    Attributes:
        text: the input as given.
        spoken: the text read out (numbers in Hangul), Hangul syllables and single spaces only.
        hangul: the standard pronunciation in Hangul, syllable for syllable with ``spoken``.
        ipa: the same in IPA (``pipeline.pronunciation.ipa``), words separated by spaces.
        rules: every rule change, in the order applied.
    """

    text: str
    spoken: str
    hangul: str
    ipa: str
    rules: tuple[RuleChange, ...] = field(default_factory=tuple)

    def rules_at(self, index: int) -> tuple[RuleChange, ...]:
        """The changes that touch the syllable at ``index`` of ``hangul``."""
        return tuple(r for r in self.rules if r.index <= index < r.index + r.length)


# --------------------------------------------------------------------------------------------
# Sound classes

_LAX_TO_TENSE = {"ㄱ": "ㄲ", "ㄷ": "ㄸ", "ㅂ": "ㅃ", "ㅅ": "ㅆ", "ㅈ": "ㅉ"}
_ASPIRATED = {"ㄱ": "ㅋ", "ㄷ": "ㅌ", "ㅂ": "ㅍ", "ㅈ": "ㅊ"}
_OBSTRUENT_CODAS = frozenset("ㄱㄲㅋㄳㄺㄷㅅㅆㅈㅊㅌㅂㅍㄼㄿㅄ")
_H_CODAS = {"ㅎ": "", "ㄶ": "ㄴ", "ㅀ": "ㄹ"}  # coda with ㅎ → what stays when ㅎ goes
_DOUBLE_CODAS = {
    "ㄳ": ("ㄱ", "ㅅ"), "ㄵ": ("ㄴ", "ㅈ"), "ㄶ": ("ㄴ", "ㅎ"), "ㄺ": ("ㄹ", "ㄱ"), "ㄻ": ("ㄹ", "ㅁ"),
    "ㄼ": ("ㄹ", "ㅂ"), "ㄽ": ("ㄹ", "ㅅ"), "ㄾ": ("ㄹ", "ㅌ"), "ㄿ": ("ㄹ", "ㅍ"), "ㅀ": ("ㄹ", "ㅎ"),
    "ㅄ": ("ㅂ", "ㅅ"),
}  # fmt: skip
_ARTICLE_11_CODAS = frozenset("ㄺㄻㄿ")
# coda before an initial ㅎ → (what stays as the coda, the aspirated initial)
_ASPIRATE_BEFORE_H = {
    "ㄱ": ("", "ㅋ"), "ㄲ": ("", "ㅋ"), "ㅋ": ("", "ㅋ"), "ㄳ": ("", "ㅋ"), "ㄺ": ("ㄹ", "ㅋ"),
    "ㄷ": ("", "ㅌ"), "ㅅ": ("", "ㅌ"), "ㅆ": ("", "ㅌ"), "ㅊ": ("", "ㅌ"), "ㅌ": ("", "ㅌ"), "ㅈ": ("", "ㅊ"),
    "ㄵ": ("ㄴ", "ㅊ"), "ㅂ": ("", "ㅍ"), "ㅍ": ("", "ㅍ"), "ㄼ": ("ㄹ", "ㅍ"), "ㄿ": ("ㄹ", "ㅍ"), "ㅄ": ("", "ㅍ"),
}  # fmt: skip
_NASAL_OF = {"ㄱ": "ㅇ", "ㄷ": "ㄴ", "ㅂ": "ㅁ"}
# Vowels after which 제15항 applies (ㅏ ㅓ ㅗ ㅜ ㅟ); before ㅣ ㅑ ㅕ ㅛ ㅠ 'ㄴ' is added instead (제29항).
_N_INSERTION_VOWELS = frozenset("ㅣㅑㅕㅛㅠ")

_CONTENT_TAGS = frozenset({"NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "VX", "MM", "MAG", "MAJ", "IC", "XR", "XPN",
                           "SL", "SH", "SN", "VV-I", "VV-R", "VA-I", "VA-R", "VX-I", "VX-R"})  # fmt: skip
_NOUN_TAGS = frozenset({"NNG", "NNP", "NNB", "NR", "NP"})
_STEM_TAGS = frozenset({"VV", "VA", "VX", "VV-I", "VV-R", "VA-I", "VA-R", "VX-I", "VX-R"})

# Sino-Korean suffixes after which ㄴ+ㄹ stays [ㄴㄴ] (제20항 다만: 생산량[생산냥], 의견란[의ː견난]).
_NN_SUFFIXES = frozenset("란량력령례로론료류율")
# Words whose spelled ㄴ-insertion context does not add ㄴ in the standard pronunciation
# (제29항 다만 and common Sino-Korean words built from one-syllable roots).
_NO_N_INSERTION_WORDS = frozenset({
    "송별연", "등용문", "석유", "절약", "독약", "목욕", "금요일", "목요일", "월요일", "일요일", "토요일", "화요일",
    "수요일", "활용", "작업", "금융", "검열", "첫인상", "식욕", "억양", "직업", "직역", "발육", "필요", "중요",
})  # fmt: skip
_SINO_CODAS = frozenset("ㄱㄴㄹㅁㅂㅇ")
_NATIVE_ONLY_NOUNS = frozenset({"잎", "엿", "윷"})
# Letter names whose final is read as ㅅ/ㄱ/ㅂ before a vowel (제16항: 디귿이[디그시]).
_LETTER_NAME_CODA = {"귿": "ㅅ", "읒": "ㅅ", "읓": "ㅅ", "읕": "ㅅ", "읗": "ㅅ", "읔": "ㄱ", "읖": "ㅂ"}
_LETTER_NAME_FIRST = frozenset("디지치키티피히")


def _subject(jamo: str) -> str:
    """``jamo`` + 이/가 (consonant names all end in a consonant; vowels take 가)."""
    return f"{jamo}{'이' if jamo in _CONSONANT_JAMO else '가'}"


def _toward(jamo: str) -> str:
    """``[jamo]`` + 으로/로 (ㄹ and vowels take 로)."""
    return f"[{jamo}]{'로' if jamo == 'ㄹ' or jamo not in _CONSONANT_JAMO else '으로'}"


_CONSONANT_JAMO = frozenset("ㄱㄲㄳㄴㄵㄶㄷㄸㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅃㅄㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ")


# --------------------------------------------------------------------------------------------
# Morphology


@dataclass(frozen=True)
class _Morph:
    form: str
    tag: str
    start: int  # syllable index of its first syllable
    end: int  # syllable index of its last syllable


@dataclass
class _Syl:
    onset: str
    vowel: str
    coda: str
    spelled: str
    word: int
    spelled_onset: str
    spelled_coda: str

    def render(self) -> str:
        return join_syllable(self.onset, self.vowel, self.coda)


_DATA = Path(__file__).resolve().parent / "data"


@functools.cache
def tensed_compounds() -> dict[str, frozenset[int]]:
    """제28항 compounds (``data/tensed_compounds.tsv``): word → syllable offsets whose initial is tensed."""
    out: dict[str, frozenset[int]] = {}
    for line in (_DATA / "tensed_compounds.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        word, pron = line.split("\t")[:2]
        offsets = frozenset(
            k for k, (a, b) in enumerate(zip(word, pron, strict=True))
            if split_syllable(a)[0] != split_syllable(b)[0] and split_syllable(b)[0] in _LAX_TO_TENSE.values()
        )  # fmt: skip
        out[word] = offsets
    return out


def _base_tag(tag: str) -> str:
    return tag.split("-")[0]


@cached_per_analyser(maxsize=4096)
def _known_word(kiwi: Kiwi, part: str, tags: frozenset[str]) -> bool:
    """Whether Kiwi reads ``part`` alone as one known (non-OOV) morpheme with a tag in ``tags``."""
    tokens = kiwi.tokenize(part)
    return len(tokens) == 1 and tokens[0].form == part and not tokens[0].oov and _base_tag(tokens[0].tag) in tags


_FIRST_PART_TAGS = frozenset({"NNG", "NNP", "MM", "XPN", "MAG"})
_SECOND_PART_TAGS = frozenset({"NNG", "NNP", "VV", "VA"})


@cached_per_analyser(maxsize=4096)
def _compound_joints(kiwi: Kiwi, form: str) -> frozenset[int]:
    """Positions k inside a one-morpheme word where two known words meet before a vowel.

    Kiwi keeps compounds such as 겉옷, 솜이불 or 색연필 as one morpheme; the joint matters for
    제15항 and 제29항. A joint is a syllable with a final followed by one that starts with a
    vowel, where both sides are known words on their own (a 사이시옷 first part counts by its
    stem: 나뭇 → 나무).
    """
    joints: set[int] = set()
    for k in range(1, len(form)):
        if not (is_hangul_syllable(form[k - 1]) and is_hangul_syllable(form[k])):
            continue
        onset, _vowel, _coda = split_syllable(form[k])
        coda = split_syllable(form[k - 1])[2]
        if onset != "ㅇ" or not coda:
            continue
        first, second = form[:k], form[k:]
        if first == second:  # reduplication: 유들유들, 이죽이죽
            joints.add(k)
            continue
        if not _known_word(kiwi, second, _SECOND_PART_TAGS):
            continue
        if _known_word(kiwi, first, _FIRST_PART_TAGS):
            joints.add(k)
        elif coda == "ㅅ":  # 사이시옷: 나뭇잎, 깻잎, 뒷일
            o, v, _ = split_syllable(form[k - 1])
            stem = first[:-1] + join_syllable(o, v)
            if _known_word(kiwi, stem, _FIRST_PART_TAGS):
                joints.add(k)
    return frozenset(joints)


# --------------------------------------------------------------------------------------------
# The engine


class _Engine:
    def __init__(self, spoken: str, kiwi: Kiwi) -> None:
        self.spoken = spoken
        self.kiwi = kiwi
        self.syls: list[_Syl] = []
        self.pos: list[int] = []  # syllable index → character index in ``spoken``
        word = 0
        for ci, ch in enumerate(spoken):
            if ch == " ":
                word += 1
                continue
            onset, vowel, coda = split_syllable(ch)
            self.syls.append(_Syl(onset, vowel, coda, ch, word, onset, coda))
            self.pos.append(ci)
        self.words = spoken.split(" ")
        self.changes: list[RuleChange] = []
        self._analyse()

    # ---- morphology -------------------------------------------------------------------------
    def _analyse(self) -> None:
        n = len(self.syls)
        self.morphs: list[_Morph] = []
        if not n:
            return
        char_to_syl = {c: i for i, c in enumerate(self.pos)}
        for tok in self.kiwi.tokenize(self.spoken, split_complex=True):
            first = char_to_syl.get(tok.start)
            last = char_to_syl.get(tok.start + max(tok.len, 1) - 1)
            if first is None or last is None:
                continue
            self.morphs.append(_Morph(tok.form, tok.tag, first, last))
        self.ends_at: list[list[_Morph]] = [[] for _ in range(n)]
        self.starts_at: list[list[_Morph]] = [[] for _ in range(n)]
        self.lexical_tense: set[int] = set()
        compounds = tensed_compounds()
        for m in self.morphs:
            self.ends_at[m.end].append(m)
            self.starts_at[m.start].append(m)
            if _base_tag(m.tag) not in {"NNG", "NNP"}:
                continue
            for word, offsets in compounds.items():
                if m.form == word or (len(m.form) > len(word) and (m.form.startswith(word) or m.form.endswith(word))):
                    base = m.start + (0 if m.form.startswith(word) else len(m.form) - len(word))
                    self.lexical_tense.update(base + k for k in offsets)

    def same_word(self, i: int) -> bool:
        return i + 1 < len(self.syls) and self.syls[i].word == self.syls[i + 1].word

    def left_morph(self, i: int) -> _Morph | None:
        """The morpheme that ends at syllable i (last one when several share the syllable)."""
        return self.ends_at[i][-1] if self.ends_at[i] else None

    def right_morph(self, i: int) -> _Morph | None:
        """The morpheme that starts at syllable i + 1, when a morpheme boundary lies there."""
        if i + 1 >= len(self.syls):
            return None
        return self.starts_at[i + 1][0] if self.starts_at[i + 1] else None

    def inner_morph(self, i: int) -> _Morph | None:
        """The morpheme spanning both syllables i and i + 1 (no boundary between them)."""
        for m in self.morphs:
            if m.start <= i and m.end >= i + 1:
                return m
        return None

    def morph_boundary(self, i: int) -> bool:
        return bool(self.ends_at[i]) and bool(self.right_morph(i)) and self.inner_morph(i) is None

    def inner_joint(self, i: int) -> bool:
        """Whether a compound joint (see ``_compound_joints``) lies between syllables i and i + 1."""
        m = self.inner_morph(i)
        if m is None or _base_tag(m.tag) not in _NOUN_TAGS | _STEM_TAGS | {"XR", "MAG"}:
            return False
        return (i + 1 - m.start) in _compound_joints(self.kiwi, m.form)

    def next_is_content(self, i: int) -> bool:
        """Whether syllable i + 1 begins a content (실질) morpheme or a new word."""
        if not self.same_word(i):
            return True
        if self.inner_joint(i):
            return True
        right = self.right_morph(i)
        return right is not None and self.morph_boundary(i) and _base_tag(right.tag) in _CONTENT_TAGS

    def word_text(self, i: int) -> str:
        return self.words[self.syls[i].word]

    # ---- recording --------------------------------------------------------------------------
    def render(self, i: int, j: int) -> str:
        out = []
        for k in range(i, j + 1):
            if k > i and self.syls[k].word != self.syls[k - 1].word:
                out.append(" ")
            out.append(self.syls[k].render())
        return "".join(out)

    def apply(self, rule: str, i: int, j: int, fn: Callable[[], None], detail: str = "", article: str = "") -> bool:
        before = self.render(i, j)
        old = [self.syls[k].render() for k in range(i, j + 1)]
        fn()
        after = self.render(i, j)
        if before == after:
            return False
        changed = [k for k in range(i, j + 1) if self.syls[k].render() != old[k - i]]
        name, default_article = RULES[rule]
        start = self.pos[changed[0]]
        length = self.pos[changed[-1]] - start + 1
        self.changes.append(
            RuleChange(rule, name, article or default_article, start, length, self.word_text(i), before, after, detail)
        )
        return True

    def pairs(self) -> range:
        return range(len(self.syls) - 1)

    # ---- rules ------------------------------------------------------------------------------
    def run(self) -> None:
        self.letter_names()
        self.n_insertion()
        self.palatalization()
        self.h_rules()
        self.liaison()
        self.tensing_and_codas()
        self.assimilation()
        self.vowels()

    def n_insertion(self) -> None:
        """제29항: 'ㄴ' before 이/야/여/요/유 where a compound or two words meet."""
        for i in self.pairs():
            left, right = self.syls[i], self.syls[i + 1]
            if not left.coda or right.onset != "ㅇ" or right.vowel not in _N_INSERTION_VOWELS:
                continue
            if self.same_word(i):
                word = self.word_text(i)
                if any(w in word for w in _NO_N_INSERTION_WORDS):
                    continue
                lm, rm = self.left_morph(i), self.right_morph(i)
                joint = self.inner_joint(i)
                if joint and not self._native_joint(i):
                    continue
                if not joint:
                    if not (self.morph_boundary(i) and lm and rm):
                        continue
                    lt, rt = _base_tag(lm.tag), _base_tag(rm.tag)
                    if rm.form[:1] != right.spelled:  # a contraction (반짝이어 → 반짝여), not a new word
                        continue
                    left_ok = lt in _NOUN_TAGS | {"XPN", "MM", "MAG", "XR"}
                    right_ok = rt in _NOUN_TAGS | {"XR"} or (rt == "XSN" and lt in _NOUN_TAGS and rm.form != "이")
                    if not (left_ok and right_ok):
                        continue
            else:
                # Across a space (제29항 붙임 2: 한 일[한닐], 옷 입다[온닙따], 먹을 엿[머글렫]): before a
                # noun, or before a verb right after a bare noun or a one-syllable adverb (잘 입다[잘립따],
                # 못 읽어[몬닐거]; a longer adverb is read apart: 일찍 일어나[일찌기러나]).
                rm = self.starts_at[i + 1][0] if self.starts_at[i + 1] else None
                lm = self.left_morph(i)
                if rm is None or lm is None or rm.form[:1] != right.spelled:
                    continue
                lt, rt = _base_tag(lm.tag), _base_tag(rm.tag)
                bare = lt == "NNG" or (lt == "MAG" and len(lm.form) == 1)
                modifier = lt in {"ETM", "MM", "NR"}  # 한 일, 할 일, 먹은 엿, 삼 연대
                if not ((rt in {"NNG", "NNB", "NNP"} and modifier) or (rt in _STEM_TAGS and bare)):
                    continue
                if lt in {"JKS", "JKO", "JX", "JKB", "JKG", "JC", "EC", "EF"}:
                    continue
            added = "ㄹ" if CODA_REPRESENTATIVE[left.coda] == "ㄹ" else "ㄴ"

            def insert(r: _Syl = right) -> None:
                r.onset = "ㄴ"

            detail = f"두 말이 이어지며 '{right.spelled}' 앞에 [ㄴ] 소리가 더해져요"
            if added == "ㄹ":
                detail += " (ㄹ 받침 뒤에서는 [ㄹ]로 소리 나요)"
            self.apply("n_insertion", i, i + 1, insert, detail)

    def _native_joint(self, i: int) -> bool:
        """Whether a compound joint inside one morpheme may take an added 'ㄴ' (제29항).

        Sino-Korean words built from one-syllable roots do not (생일[생일], 종일, 한약, 기념일), and
        their syllables only ever end in ㄱ ㄴ ㄹ ㅁ ㅂ ㅇ. So after such a final, a one-syllable
        second part must be a native noun that has no Sino-Korean twin (잎, 엿, 윷: 솔잎[솔립]),
        and a second part 일 (日 as often as "work") never adds 'ㄴ'. A final no Sino-Korean
        syllable has (꽃잎, 깻잎, 홑이불) marks a native compound.
        """
        m = self.inner_morph(i)
        if m is None:
            return True
        first, second = m.form[: i + 1 - m.start], m.form[i + 1 - m.start :]
        if self.syls[i].spelled_coda not in _SINO_CODAS:
            return True
        if second.startswith("일"):
            return False
        return not (len(first) == 1 and len(second) == 1 and second not in _NATIVE_ONLY_NOUNS)

    def palatalization(self) -> None:
        """제17항: ㄷ, ㅌ(ㄾ) + 이 → [지, 치]; ㄷ + 히 → [치]."""
        for i in self.pairs():
            left, right = self.syls[i], self.syls[i + 1]
            if not self.same_word(i) or left.coda not in {"ㄷ", "ㅌ", "ㄾ"} or right.vowel not in {"ㅣ", "ㅕ"}:
                continue
            if self.next_is_content(i) and not self.inner_morph(i):
                continue
            if right.onset == "ㅇ" and right.vowel == "ㅣ":
                new_onset = {"ㄷ": "ㅈ", "ㅌ": "ㅊ", "ㄾ": "ㅊ"}[left.coda]
            elif right.onset == "ㅎ" and left.coda == "ㄷ":
                new_onset = "ㅊ"
            else:
                continue
            old = left.coda

            def change(lf: _Syl = left, rt: _Syl = right, onset: str = new_onset, coda: str = old) -> None:
                lf.coda = "ㄹ" if coda == "ㄾ" else ""
                rt.onset = onset

            tail = "ㅌ" if old == "ㄾ" else old
            detail = f"받침 {_subject(tail)} '{right.spelled}'와 만나 {_toward(new_onset)} 바뀌어요"
            self.apply("palatalization", i, i + 1, change, detail)

    def h_rules(self) -> None:
        """제12항: aspiration, ㅎ+ㅅ → ㅆ, ㅎ+ㄴ → ㄴ, ㅎ deletion before a vowel."""
        for i in self.pairs():
            left, right = self.syls[i], self.syls[i + 1]
            coda, onset = left.coda, right.onset
            within = self.same_word(i)
            if coda in _H_CODAS:
                if not within and onset not in _ASPIRATED:
                    continue
                rest = _H_CODAS[coda]
                if onset in _ASPIRATED and onset != "ㅂ":
                    new = _ASPIRATED[onset]
                    self._set(i, "aspiration", rest, new, f"받침 ㅎ과 {onset}이 합쳐져 {_toward(new)} 소리 나요")
                elif onset == "ㅅ":
                    self._set(i, "h_tensing", rest, "ㅆ", "받침 ㅎ 뒤의 ㅅ은 [ㅆ]으로 소리 나요")
                elif onset == "ㄴ":
                    if coda == "ㅎ":
                        self._set(i, "h_nasal", "ㄴ", "ㄴ", "받침 ㅎ이 ㄴ 앞에서 [ㄴ]으로 소리 나요")
                    else:
                        self._set(i, "h_deletion", rest, "ㄴ", f"받침 {coda}의 ㅎ은 ㄴ 앞에서 소리 나지 않아요")
                elif onset == "ㅇ":
                    self._set(i, "h_deletion", rest, "ㅇ", "받침 ㅎ은 모음 앞에서 소리 나지 않아요")
            elif onset == "ㅎ" and coda in _ASPIRATE_BEFORE_H:
                # ㄱ(ㄺ), ㄷ, ㅂ(ㄼ), ㅈ(ㄵ) + ㅎ → ㅋ, ㅌ, ㅍ, ㅊ; ㅅ ㅈ ㅊ ㅌ read [ㄷ] give ㅌ (붙임 2).
                rest, new = _ASPIRATE_BEFORE_H[coda]
                if coda == "ㅈ" and not within:
                    new = "ㅌ"
                base = _DOUBLE_CODAS.get(coda, ("", coda))[1] if coda in _DOUBLE_CODAS else coda
                self._set(i, "aspiration", rest, new, f"받침 {_subject(base)} ㅎ과 합쳐져 {_toward(new)} 소리 나요")

    def _set(self, i: int, rule: str, coda: str, onset: str, detail: str) -> None:
        left, right = self.syls[i], self.syls[i + 1]

        def change() -> None:
            left.coda = coda
            right.onset = onset

        self.apply(rule, i, i + 1, change, detail)

    def letter_names(self) -> None:
        """제16항: names of the letters (디귿이[디그시], 키읔을[키으글])."""
        for i in range(1, len(self.syls) - 1):
            s = self.syls[i]
            if s.spelled in _LETTER_NAME_CODA and self.syls[i - 1].spelled in _LETTER_NAME_FIRST:
                if self.same_word(i) and self.syls[i + 1].onset == "ㅇ" and s.coda == s.spelled_coda:
                    new = _LETTER_NAME_CODA[s.spelled]
                    right = self.syls[i + 1]

                    def change(sy: _Syl = s, rt: _Syl = right, c: str = new) -> None:
                        sy.coda = ""
                        rt.onset = c

                    detail = f"글자 이름의 받침은 {_toward(new)} 이어서 소리 나요"
                    self.apply("liaison", i, i + 1, change, detail, "제16항")

    def liaison(self) -> None:
        """제13–15항: a final moves to the next syllable when that one starts with a vowel."""
        for i in self.pairs():
            left, right = self.syls[i], self.syls[i + 1]
            if not left.coda or left.coda == "ㅇ" or right.onset != "ㅇ":
                continue
            if not self.same_word(i) and CODA_REPRESENTATIVE[left.coda] not in {"ㄱ", "ㄷ", "ㅂ"}:
                # Across a space only an obstruent final moves (밭 아래[바다래], 제15항); ㄴ ㄹ ㅁ keep
                # their place, so each word still reads as itself (탄 얼굴[탄 얼굴]).
                continue
            inner = self.inner_morph(i)
            in_noun = inner is not None and _base_tag(inner.tag) in _NOUN_TAGS
            if self.next_is_content(i) or (in_noun and left.coda in _DOUBLE_CODAS):
                spelled_word = self.word_text(i)
                if re.search(r"[맛멋]있", spelled_word) and left.coda == "ㅅ" and right.spelled.startswith("있"):
                    # 제15항 다만: 맛있다, 멋있다 are also standard as [마싣따], [머싣따] (what speakers say).
                    moved, stays = "ㅅ", ""
                    article = "제15항"
                    detail = "받침 ㅅ이 뒤 음절 첫소리로 넘어가요 ([마딛따]도 표준 발음이에요)"
                else:
                    rep = CODA_REPRESENTATIVE[left.coda]
                    moved, stays = rep, ""
                    article = "제15항"
                    detail = (
                        f"뒤에 오는 말이 모음으로 시작하는 실질 형태소여서 받침 {left.coda}이 대표음 "
                        f"[{rep}]으로 바뀐 뒤 넘어가요"
                        if rep != left.coda
                        else f"받침 {_subject(rep)} 뒤 음절 첫소리로 넘어가요"
                    )
            elif left.coda in _DOUBLE_CODAS:
                stays, moved = _DOUBLE_CODAS[left.coda]
                if moved == "ㅅ":
                    moved = "ㅆ"
                article = "제14항"
                detail = f"겹받침 {left.coda}의 뒤엣것이 다음 음절 첫소리로 넘어가요" + (
                    " (ㅅ은 [ㅆ]으로)" if moved == "ㅆ" else ""
                )
            else:
                moved, stays = left.coda, ""
                article = "제13항"
                detail = f"받침 {_subject(moved)} 뒤 음절 첫소리로 넘어가요"

            def change(lf: _Syl = left, rt: _Syl = right, m: str = moved, s: str = stays) -> None:
                lf.coda = s
                rt.onset = m

            self.apply("liaison", i, i + 1, change, detail, article)

    def tensing_and_codas(self) -> None:
        """제23–27항 경음화, then 제9–11항 (every final reduced to one of seven sounds)."""
        n = len(self.syls)
        for i in range(n):
            s = self.syls[i]
            nxt = self.syls[i + 1] if i + 1 < n else None
            if nxt is not None and nxt.onset in _LAX_TO_TENSE and nxt.onset == nxt.spelled_onset and s.coda:
                article = self._tensing_article(i)
                if article:
                    tense = _LAX_TO_TENSE[nxt.onset]

                    def change(rt: _Syl = nxt, t: str = tense) -> None:
                        rt.onset = t

                    self.apply("tensing", i, i + 1, change, self._tensing_detail(article, s, nxt, tense), article)
            if s.coda and s.coda not in "ㄱㄴㄷㄹㅁㅂㅇ":
                self._reduce_coda(i)

    def _tensing_article(self, i: int) -> str:
        s, nxt = self.syls[i], self.syls[i + 1]
        coda = s.coda
        lm, rm = self.left_morph(i), self.right_morph(i)
        boundary = self.morph_boundary(i)
        if i + 1 in self.lexical_tense and self.same_word(i):
            return "제28항"
        # 제27항: after the adnominal -(으)ㄹ, and inside endings that begin with it.
        if coda == "ㄹ" or coda in {"ㄾ", "ㄼ"}:
            adnominal = lm is not None and _base_tag(lm.tag) == "ETM" and lm.form[-1:] in {"ᆯ", "을", "ㄹ"}
            if adnominal and (boundary or not self.same_word(i)):
                return "제27항"
            inner = self.inner_morph(i)
            if inner and _base_tag(inner.tag).startswith("E") and inner.form[:1] in {"ᆯ", "을"} and inner.start == i:
                return "제27항"
            if inner and _base_tag(inner.tag).startswith("E") and inner.form.startswith("을") and inner.start == i:
                return "제27항"
        if not self.same_word(i) and coda not in _OBSTRUENT_CODAS:
            return ""
        # 제23항: after an obstruent final (also across words: 밥 먹고 → [밥 먹꼬] is 제23항 inside).
        if coda in _OBSTRUENT_CODAS and coda not in {"ㄼ"}:
            return "제23항"
        if coda == "ㄼ":
            if lm and _base_tag(lm.tag) in _STEM_TAGS and boundary:
                return "제25항"
            return "제23항"
        stem_ending = (
            boundary and lm is not None and rm is not None and _base_tag(lm.tag) in _STEM_TAGS
            and _base_tag(rm.tag).startswith("E") and split_syllable(lm.form[-1])[2] == s.spelled_coda
            if lm and is_hangul_syllable(lm.form[-1:] or " ") else False
        )  # fmt: skip
        # 제24항: verb/adjective stems ending in ㄴ(ㄵ), ㅁ(ㄻ) before an ending.
        if coda in {"ㄴ", "ㄵ", "ㅁ", "ㄻ"} and stem_ending and nxt.onset in {"ㄱ", "ㄷ", "ㅅ", "ㅈ"}:
            return "제24항"
        # 제25항: stems ending in ㄾ (ㄼ above).
        if coda == "ㄾ" and stem_ending and nxt.onset in {"ㄱ", "ㄷ", "ㅅ", "ㅈ"}:
            return "제25항"
        # 제26항: ㄹ + ㄷ, ㅅ, ㅈ inside a Sino-Korean noun (not in doubled syllables: 허허실실).
        if coda == "ㄹ" and nxt.onset in {"ㄷ", "ㅅ", "ㅈ"} and s.spelled_coda == "ㄹ":
            if boundary and lm and rm and {_base_tag(lm.tag), _base_tag(rm.tag)} <= {"NNG", "NR", "NNB"}:
                if len(lm.form) == 1 and len(rm.form) == 1:  # 일시: two one-syllable Sino-Korean roots
                    return "제26항"
            inner = self.inner_morph(i)
            if inner and _base_tag(inner.tag) in {"NNG", "NNP", "XR"} and not self.inner_joint(i):
                if not (nxt.spelled in inner.form[: i - inner.start + 1] or s.spelled == nxt.spelled):
                    if not _repeated(inner.form, i - inner.start):
                        return "제26항"
        return ""

    @staticmethod
    def _tensing_detail(article: str, s: _Syl, nxt: _Syl, tense: str) -> str:
        lax = nxt.onset
        if article == "제27항":
            return f"'-ㄹ' 뒤에서 {_subject(lax)} 된소리 {_toward(tense)} 나요"
        if article == "제24항":
            return f"받침 {s.spelled_coda}으로 끝나는 어간 뒤에서 어미의 {_subject(lax)} {_toward(tense)} 소리 나요"
        if article == "제25항":
            return f"어간 받침 {s.spelled_coda} 뒤에서 {_subject(lax)} {_toward(tense)} 소리 나요"
        if article == "제28항":
            return f"두 말이 합쳐진 낱말이라 뒤 말의 {_subject(lax)} 된소리 {_toward(tense)} 나요"
        if article == "제26항":
            return f"한자어에서 ㄹ 받침 뒤의 {_subject(lax)} {_toward(tense)} 소리 나요"
        return f"받침 [{CODA_REPRESENTATIVE[s.coda]}] 뒤에서 {_subject(lax)} 된소리 {_toward(tense)} 나요"

    def _reduce_coda(self, i: int) -> None:
        s = self.syls[i]
        nxt = self.syls[i + 1] if i + 1 < len(self.syls) and self.same_word(i) else None
        coda = s.coda
        rep = CODA_REPRESENTATIVE[coda]
        lm = self.left_morph(i) or self.inner_morph(i)
        word = self.word_text(i)
        if coda == "ㄼ":
            stem = lm.form if lm else ""
            if (lm and stem.endswith("밟")) or re.search(r"넓(죽|둥)", word):
                rep = "ㅂ"
        elif coda == "ㄺ" and nxt is not None and nxt.onset in {"ㄱ", "ㄲ"}:
            if lm and _base_tag(lm.tag) in _STEM_TAGS:
                rep = "ㄹ"
        if coda in _DOUBLE_CODAS:
            article = "제11항" if coda in _ARTICLE_11_CODAS else "제10항"
            rule = "double_coda"
            detail = f"겹받침 {coda}은 자음 앞이나 끝에서 {_toward(rep)} 소리 나요"
        else:
            article, rule = "제9항", "coda_neutralization"
            detail = f"받침 {_subject(coda)} 자음 앞이나 끝에서 대표음 {_toward(rep)} 소리 나요"

        def change(sy: _Syl = s, r: str = rep) -> None:
            sy.coda = r

        self.apply(rule, i, i, change, detail, article)

    def assimilation(self) -> None:
        """제19항 ㄹ의 비음화, 제20항 유음화, 제18항 비음화 at each joint, left to right."""
        for i in self.pairs():
            left, right = self.syls[i], self.syls[i + 1]
            within = self.same_word(i)
            inserted = any(c.rule == "n_insertion" and c.index == self.pos[i + 1] for c in self.changes)
            if right.onset == "ㄹ" and left.coda in {"ㅁ", "ㅇ", "ㄱ", "ㅂ", "ㄷ"} and within:

                def r_nasal(rt: _Syl = right) -> None:
                    rt.onset = "ㄴ"

                self.apply("r_nasalization", i, i + 1, r_nasal, f"받침 {left.coda} 뒤의 ㄹ은 [ㄴ]으로 소리 나요")
            if left.coda == "ㄴ" and right.onset == "ㄹ" and within:
                if self._nn_exception(i):

                    def to_n(rt: _Syl = right) -> None:
                        rt.onset = "ㄴ"

                    detail = "이 말에서는 ㄴ 뒤의 ㄹ이 [ㄴ]으로 소리 나요"
                    self.apply("r_nasalization", i, i + 1, to_n, detail, "제20항")
                else:

                    def to_l(lf: _Syl = left) -> None:
                        lf.coda = "ㄹ"

                    self.apply("lateralization", i, i + 1, to_l, "받침 ㄴ이 ㄹ 앞에서 [ㄹ]로 소리 나요")
            elif left.coda == "ㄹ" and right.onset == "ㄴ" and (within or inserted):

                def to_l2(rt: _Syl = right) -> None:
                    rt.onset = "ㄹ"

                self.apply("lateralization", i, i + 1, to_l2, "ㄴ이 받침 ㄹ 뒤에서 [ㄹ]로 소리 나요")
            if left.coda in _NASAL_OF and right.onset in {"ㄴ", "ㅁ"}:
                nasal = _NASAL_OF[left.coda]

                def nasalize(lf: _Syl = left, c: str = nasal) -> None:
                    lf.coda = c

                self.apply(
                    "nasalization", i, i + 1, nasalize,
                    f"받침 {_subject(left.coda)} {right.onset} 앞에서 {_toward(nasal)} 바뀌어요",
                )  # fmt: skip

    def _nn_exception(self, i: int) -> bool:
        """제20항 다만: a two-syllable Sino-Korean word + 란/량/력/… keeps [ㄴㄴ] (생산량[생산냥])."""
        right = self.syls[i + 1]
        if right.spelled not in _NN_SUFFIXES:
            return False
        m = self.inner_morph(i)
        if m is not None:
            if _base_tag(m.tag) != "NNG" or m.end != i + 1 or i + 1 - m.start < 2:
                return False
            return _known_word(self.kiwi, m.form[: i + 1 - m.start], frozenset({"NNG"}))
        rm = self.right_morph(i)
        lm = self.left_morph(i)
        return bool(lm and rm and _base_tag(lm.tag) == "NNG" and len(lm.form) >= 2 and rm.end == i + 1)

    def vowels(self) -> None:
        """제5항: 'ㅢ' after a consonant → [ㅣ]; 져, 쪄, 쳐 → [저, 쩌, 처]."""
        for i, s in enumerate(self.syls):
            if s.vowel == "ㅢ" and s.spelled_onset != "ㅇ" and s.onset != "ㅇ":

                def to_i(sy: _Syl = s) -> None:
                    sy.vowel = "ㅣ"

                self.apply("vowel_ui", i, i, to_i, "자음 뒤의 'ㅢ'는 [ㅣ]로 소리 나요")
            elif s.vowel == "ㅕ" and s.onset in {"ㅈ", "ㅉ", "ㅊ"}:

                def to_eo(sy: _Syl = s) -> None:
                    sy.vowel = "ㅓ"

                detail = f"'{s.render()}'는 [{join_syllable(s.onset, 'ㅓ', s.coda)}]로 소리 나요"
                self.apply("vowel_jeo", i, i, to_eo, detail)


def _repeated(form: str, k: int) -> bool:
    """Whether the syllable at k (with its follower) is part of a doubled pair (실실, 절절)."""
    if k + 1 >= len(form):
        return False
    return form[k] == form[k + 1] or (k + 3 < len(form) and form[k : k + 2] == form[k + 2 : k + 4])


# --------------------------------------------------------------------------------------------
# Public API

_NON_HANGUL = re.compile(r"[^\uac00-\ud7a3\s]+")
_SPACES = re.compile(r"\s+")


def spoken_form(text: str) -> str:
    """Text read out (``pipeline.text.normalize``), kept to Hangul syllables and single spaces."""
    try:
        from pipeline.text.normalize import normalize
    except ImportError:  # pragma: no cover - normalize ships with the pipeline
        normalize = None
    spoken = normalize(text) if normalize is not None else text
    spoken = _NON_HANGUL.sub(" ", spoken)
    return _SPACES.sub(" ", spoken).strip()


def pronounce(text: str, kiwi: Kiwi | None = None) -> Pronunciation:
    """The standard pronunciation of ``text`` (the last few thousand are remembered per analyser).

    Args:
        text: any Korean text; numbers are read out, other non-Hangul characters dropped.
        kiwi: the analyser to read morphology with (``Pipeline.kiwi`` in the app); ``shared_kiwi()``
            when None (scripts and tests without a ``Pipeline``).

    Returns:
        ``Pronunciation`` with the Hangul and IPA pronunciation and every rule applied, in order.
        Empty strings when the text has no Korean in it.
    """
    return _pronounce(kiwi if kiwi is not None else shared_kiwi(), text)


@cached_per_analyser(maxsize=2048)
def _pronounce(kiwi: Kiwi, text: str) -> Pronunciation:
    spoken = spoken_form(text)
    engine = _Engine(spoken, kiwi)
    engine.run()
    out: list[str] = []
    for k, syl in enumerate(engine.syls):
        if k and syl.word != engine.syls[k - 1].word:
            out.append(" ")
        out.append(syl.render())
    hangul = "".join(out)
    return Pronunciation(
        text=text,
        spoken=spoken,
        hangul=hangul,
        ipa=ipa_string(hangul_to_ipa_symbols(hangul)),
        rules=tuple(engine.changes),
    )


def pronounce_many(texts: Sequence[str], kiwi: Kiwi | None = None) -> list[Pronunciation]:
    """``pronounce`` for each text."""
    return [pronounce(t, kiwi) for t in texts]


def to_ipa_symbols(text: str, kiwi: Kiwi | None = None) -> list[str]:
    """Korean text → its standard pronunciation as IPA phoneme symbols.

    The text goes through ``pronounce`` (numbers read out, 표준발음법 rules applied), then each
    pronounced syllable is converted. Words are separated by one
    ``WORD_BOUNDARY`` (``" "``), which is not in ``IPA_SYMBOLS``; drop it for a phoneme-only
    sequence. Punctuation and non-Korean letters are dropped. ``kiwi`` is as for ``pronounce``.

    Example: ``to_ipa_symbols("국물")`` → ``["k", "u", "ŋ", "m", "u", "l"]``.
    """
    return hangul_to_ipa_symbols(pronounce(text, kiwi).hangul)
