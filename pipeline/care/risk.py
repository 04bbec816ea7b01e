"""Crisis and risk detection for Korean client utterances.

``assess_risk(text)`` reads one utterance (typed, or a speech-recognition transcript without
punctuation) and says whether a person has to look at it:

* ``high``: suicide intent, plans or means, self-harm, intent to harm others, or violence and
  abuse against the client;
* ``watch``: hopelessness and passive ideation, or a risk phrase softened by its context (denied,
  long past and recovered, said about somebody else);
* ``none``: everything else, including intensifier idioms (배고파 죽겠어요) and news.

How it works:

1. Normalise: NFKC, lowercase Latin, drop spaces, punctuation and emotive jamo (ㅋㅋ, ㅠㅠ), keep
   sentence ends as ``.``. Every normalised character remembers which original characters it came
   from, so reasons are quoted exactly as the client wrote them.
2. Match the phrase patterns of ``data/risk_patterns.json``. That file is data for clinicians to
   review and extend: each pattern has a category, a level, a kind and a note.
3. Soften or drop matches with *suppressors* (idioms such as 시험에 목을 매다, "to be desperate
   for an exam"), the *intensifier* rule (X-아/어 죽겠다, where X is a stem of discomfort or
   pleasure), and *context rules* (negation, recovered past, third-person grammar, hearsay, news).
4. The highest remaining level wins; all reasons are reported in text order, the categories in
   the order of ``CATEGORIES``. A modifier category (``imminent``) counts only beside a high
   finding of another category.

Before matching, one-jamo near misses of key words (송목 for 손목, a speech-recognition error) are
corrected; see ``near_variants`` and the ``near_misses`` section of the pattern file.

The detector errs on the side of safety: when a rule cannot tell that a phrase is harmless, the
phrase keeps its level. It is pure Python (``re``, ``unicodedata``), needs no model or network, and
takes well under a millisecond per sentence.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.types import RISK_CATEGORIES, RISK_LEVELS, Risk

__all__ = [
    "CATEGORIES",
    "KINDS",
    "MODIFIER_CATEGORIES",
    "PATTERNS_FILE",
    "Normalized",
    "RuleAssessment",
    "assess_details",
    "assess_risk",
    "connective_syllables",
    "expand_macros",
    "load_rules",
    "normalize",
]

#: What kind of risk a pattern signals (the shared ``Risk.categories`` vocabulary), in the order
#: ``Risk.categories`` lists them when several apply.
CATEGORIES: tuple[str, ...] = RISK_CATEGORIES

#: Categories that only qualify another finding: ``imminent`` (danger right now: standing on a
#: bridge, pills in hand, tonight) is reported beside a high finding of another category and
#: never raises the level on its own.
MODIFIER_CATEGORIES: frozenset[str] = frozenset({"imminent"})

#: How a pattern speaks: ``desire`` is a first-person wish or intention (Korean marks a third
#: person's wish with -어하다: 죽고 싶어해), ``event`` an act or thing whose actor is the subject of
#: the clause (자살했다, 유서), ``state`` a feeling or condition (희망이 없어).
KINDS: tuple[str, ...] = ("desire", "event", "state")

#: Name of the pattern file inside ``pipeline/care/data``.
PATTERNS_FILE = "risk_patterns.json"

#: What the normalised text uses for the end of a sentence.
BOUNDARY = "."

_RANK = {level: rank for rank, level in enumerate(RISK_LEVELS)}
_MACRO = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
_TARGET_GROUP = re.compile(r"t[0-9]*")

# Sentence ends after NFKC (full-width ！？ become ! ?; the ideographic full stop stays 。).
_SENTENCE_END = frozenset(".!?。\n")
# Compatibility jamo that only carry feeling (ㅋㅋ laughter, ㅠㅠ tears, ㄷㄷ trembling); other
# jamo stay because chat abbreviations such as ㅈㅅ (자살) carry meaning.
_EMOTIVE_JAMO = frozenset("ㅋㅎㅠㅜㅡㄷㅇㅗ")


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalized:
    """Text prepared for matching, with a map back to the original.

    Attributes:
        text: lowercase, no spaces or punctuation, sentence ends as ``.``.
        starts: for each character of ``text``, the index in ``source`` where it begins.
        ends: for each character of ``text``, the index in ``source`` just after it.
        source: the original text.
    """

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    source: str

    def original(self, start: int, end: int) -> str:
        """The original characters behind ``text[start:end]`` (spaces inside included)."""
        return self.source[self.starts[start] : self.ends[end - 1]]


def _is_continuation(ch: str) -> bool:
    """Whether ``ch`` belongs to the character before it (so NFKC must see them together)."""
    code = ord(ch)
    # Conjoining medial/final jamo (decomposed Hangul, e.g. text pasted from macOS), combining
    # marks and variation selectors all attach to the preceding character.
    return (
        0x1160 <= code <= 0x11FF
        or 0xD7B0 <= code <= 0xD7FF
        or unicodedata.combining(ch) != 0
        or (0xFE00 <= code <= 0xFE0F)
    )


def _keep(ch: str) -> bool:
    return (
        "가" <= ch <= "힣"
        or "a" <= ch <= "z"
        or "0" <= ch <= "9"
        or ("\u3131" <= ch <= "\u318e" and ch not in _EMOTIVE_JAMO)
    )


def normalize(text: str) -> Normalized:
    """Normalise ``text`` for matching and keep a map back to it.

    Spacing is dropped entirely because clients (and the speech recogniser) space Korean
    freely: 죽고싶어, 죽고 싶어 and 죽 고 싶 어 all become 죽고싶어. Sentence ends are kept as
    ``.`` so that context rules do not reach across sentences; an ellipsis is a hesitation,
    not an end, and is dropped.

    Args:
        text: the client's utterance.

    Returns:
        The normalised text and its character map.
    """
    pieces: list[tuple[str, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and _is_continuation(text[j]):
            j += 1
        cluster = text[i:j]
        if j - i == 1 and "\u3131" <= cluster <= "\u318e":
            piece = cluster  # NFKC would turn compatibility jamo into conjoining jamo
        else:
            piece = unicodedata.normalize("NFKC", cluster).lower()
        pieces.extend((ch, i, j) for ch in piece)
        i = j

    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for k, (ch, start, end) in enumerate(pieces):
        if ch in _SENTENCE_END:
            dotted = ch == "." and (
                (k > 0 and pieces[k - 1][0] == ".") or (k + 1 < len(pieces) and pieces[k + 1][0] == ".")
            )
            if dotted or not out or out[-1] == BOUNDARY:
                continue
            out.append(BOUNDARY)
        elif _keep(ch):
            out.append(ch)
        else:
            continue
        starts.append(start)
        ends.append(end)
    return Normalized("".join(out), tuple(starts), tuple(ends), text)


def connective_syllables() -> str:
    """Hangul syllables that can end the -아/-어 connective form of a predicate.

    These are open syllables (no final consonant) with the vowels the connective produces:
    ㅏ ㅐ ㅓ ㅔ ㅕ ㅘ ㅙ ㅝ (배고파, 피곤해, 힘들어, 설레, 졸려, 좋아, 돼, 더워). 서 (-아서/-어서)
    is among them. The intensifier rule uses them to recognise "X 죽겠다".

    Returns:
        All such syllables, as one string.
    """
    vowels = (0, 1, 4, 5, 6, 9, 10, 14)  # ㅏ ㅐ ㅓ ㅔ ㅕ ㅘ ㅙ ㅝ
    return "".join(chr(0xAC00 + (lead * 21 + vowel) * 28) for lead in range(19) for vowel in vowels)


# --------------------------------------------------------------------------------------------
# Recognition-error tolerance (jamo-level near matches of key words)
# --------------------------------------------------------------------------------------------

_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_MEDIALS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
_SLOTS = ("initial", "medial", "final")


def decompose(syllable: str) -> tuple[str, str, str]:
    """A Hangul syllable → (initial, medial, final) compatibility jamo; the final may be ``""``.

    Raises:
        ValueError: ``syllable`` is not one precomposed Hangul syllable (가…힣).
    """
    if len(syllable) != 1 or not "가" <= syllable <= "힣":
        raise ValueError(f"not a Hangul syllable: {syllable!r}")
    code = ord(syllable) - 0xAC00
    return _INITIALS[code // 588], _MEDIALS[code % 588 // 28], _FINALS[code % 28]


def compose(initial: str, medial: str, final: str = "") -> str:
    """(initial, medial, final) compatibility jamo → the Hangul syllable."""
    return chr(0xAC00 + (_INITIALS.index(initial) * 21 + _MEDIALS.index(medial)) * 28 + _FINALS.index(final))


def near_variants(word: str, confusable: dict[str, list[str]]) -> set[str]:
    """Spellings of ``word`` that differ from it in exactly one confusable jamo.

    Speech recognition writes what it hears, and Korean sound changes make some jamo sound alike:
    손목 is pronounced [솜목] and comes back as 송목; 농약 [농냑]. ``confusable`` names, per slot
    (``initial``, ``medial``, ``final``), groups of jamo that can stand for each other, e.g.
    ``{"final": ["ㄴㅇㅁ"]}``.

    Args:
        word: a key word in Hangul syllables.
        confusable: the groups per slot.

    Returns:
        Every one-substitution variant (``word`` itself excluded).
    """
    variants: set[str] = set()
    for i, syllable in enumerate(word):
        parts = decompose(syllable)
        for slot, jamo in zip(_SLOTS, parts, strict=True):
            for group in confusable.get(slot, ()):
                if not jamo or jamo not in group:  # "" (no final) is in every string
                    continue
                for other in group:
                    if other != jamo:
                        changed = list(parts)
                        changed[_SLOTS.index(slot)] = other
                        variants.add(word[:i] + compose(*changed) + word[i + 1 :])
    variants.discard(word)
    return variants


def _near_miss_table(spec: dict[str, Any]) -> dict[str, str]:
    groups = spec.get("confusable", {})
    unknown = set(groups) - set(_SLOTS)
    if unknown:
        raise ValueError(f"near_misses.confusable: unknown slot(s) {sorted(unknown)}")
    alphabets = dict(zip(_SLOTS, (_INITIALS, _MEDIALS, "".join(_FINALS)), strict=True))
    for slot, slot_groups in groups.items():
        for group in slot_groups:
            if len(group) < 2 or any(j not in alphabets[slot] for j in group):
                raise ValueError(f"near_misses.confusable.{slot}: {group!r} is not a group of {slot} jamo")
    table: dict[str, str] = {}
    keywords = spec.get("keywords", ())
    # Groups that hold for one key word only: 손목 is heard as 손묵 (ㅗ/ㅜ), a pair too common to
    # allow everywhere (소면 is one ㅗ/ㅜ step from 수면).
    per_word = spec.get("word_confusable", {})
    for word, extra in per_word.items():
        if word not in keywords:
            raise ValueError(f"near_misses.word_confusable: {word!r} is not a key word")
        for slot, slot_groups in extra.items():
            if slot not in alphabets or any(
                len(g) < 2 or any(j not in alphabets[slot] for j in g) for g in slot_groups
            ):
                raise ValueError(f"near_misses.word_confusable.{word}.{slot}: {slot_groups!r} is not a group of jamo")
    for word in keywords:
        if len(word) < 2 or not all("가" <= ch <= "힣" for ch in word):
            raise ValueError(f"near_misses: key word {word!r} must be two or more Hangul syllables")
        extra = per_word.get(word, {})
        word_groups = {slot: [*groups.get(slot, ()), *extra.get(slot, ())] for slot in _SLOTS}
        for variant in near_variants(word, word_groups):
            if variant not in keywords:  # a variant that is itself a key word stays itself
                table.setdefault(variant, word)
    return table


def correct_near_misses(norm: Normalized, table: dict[str, str] | None = None) -> Normalized:
    """Read one-jamo near misses of the key words in ``norm`` as the key words.

    A near miss counts only where the client (or the recogniser) wrote it as one word, from the
    start of a word: 송목을 그었어 is corrected, 진짜 살기 좋아 (짜살, one jamo from 자살 across a
    space) is not. A variant has as many syllables as its key word, so the map back to the
    original stays valid and a reason quotes 송목 as the transcript had it.

    Args:
        norm: normalised text (see ``normalize``).
        table: variant → key word; the pattern file's ``near_misses`` when omitted.

    Returns:
        ``norm`` with the corrected text (the same object when nothing changed).
    """
    table = _rules().near_misses if table is None else table
    text = norm.text
    if not table or not text:
        return norm
    out = list(text)
    for m in _variant_regex(tuple(sorted(table, key=len, reverse=True))).finditer(text):
        i, j = m.span()
        first = norm.starts[i]
        at_word_start = first == 0 or not _is_hangul(norm.source[first - 1])
        if at_word_start and not any(ch.isspace() for ch in norm.original(i, j)):
            out[i:j] = table[m.group()]
    corrected = "".join(out)
    return norm if corrected == text else Normalized(corrected, norm.starts, norm.ends, norm.source)


@lru_cache(maxsize=4)
def _variant_regex(variants: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(map(re.escape, variants)))


def _is_hangul(ch: str) -> bool:
    return "가" <= ch <= "힣" or "\u3131" <= ch <= "\u318e"


# --------------------------------------------------------------------------------------------
# Rules (loaded once from the JSON file)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pattern:
    id: str
    category: str
    level: str
    kind: str
    regex: re.Pattern[str]
    intensifiable: bool
    exempt: frozenset[str]


@dataclass(frozen=True)
class _Suppressor:
    id: str
    regex: re.Pattern[str]
    groups: tuple[str, ...]  # t, t2, ...: the neutralised words (alternatives may name their own)
    action: str
    patterns: frozenset[str]
    categories: frozenset[str]


@dataclass(frozen=True)
class _Condition:
    side: str  # left | right | sentence | subject
    regex: re.Pattern[str] | None
    subject: str = ""  # third | third_loose, for side == "subject"


@dataclass(frozen=True)
class _ContextRule:
    id: str
    level: str | None
    category: str | None
    kinds: frozenset[str]
    categories: frozenset[str]
    all_of: tuple[_Condition, ...]
    any_of: tuple[_Condition, ...]
    none_of: tuple[_Condition, ...] = ()
    softens_classifier: bool = True  # a match it lowers counts as a recognised look-alike


@dataclass(frozen=True)
class _Intensifier:
    connective: frozenset[str]
    not_stems: tuple[str, ...]
    particle_endings: tuple[str, ...]  # 밤에, 집에서: a noun with a particle, not a predicate
    light_verb_nouns: tuple[str, ...]  # 짜증 나, 화 나: the word 나 is the verb 나다 after these
    distress: re.Pattern[str]
    right_clause: re.Pattern[str]


@dataclass(frozen=True)
class _Rules:
    patterns: tuple[_Pattern, ...]
    suppressors: tuple[_Suppressor, ...]
    context_rules: tuple[_ContextRule, ...]
    third_subject: re.Pattern[str]
    first_subject: re.Pattern[str]
    clause_break: re.Pattern[str]
    strict_subject_gap: int
    intensifier: _Intensifier
    near_misses: dict[str, str]  # a one-jamo variant of a key word -> the key word


def expand_macros(regex: str, macros: dict[str, str]) -> str:
    """Replace ``{NAME}`` macros in a pattern with their definitions, recursively.

    Args:
        regex: a pattern from the JSON file.
        macros: the file's ``macros`` (values starting with ``@`` are computed, see
            ``_computed_macros``).

    Returns:
        The pattern with every macro expanded.

    Raises:
        ValueError: a macro is unknown or the macros refer to each other in a loop.
    """
    for _ in range(10):
        names = set(_MACRO.findall(regex))
        if not names:
            return regex
        unknown = names - set(macros)
        if unknown:
            raise ValueError(f"unknown macro(s) {sorted(unknown)} in {regex!r}")
        regex = _MACRO.sub(lambda m: macros[m.group(1)], regex)
    raise ValueError(f"macros nest too deeply in {regex!r}")


def _computed_macros(macros: dict[str, str]) -> dict[str, str]:
    resolved = dict(macros)
    for name, value in macros.items():
        if value == "@connective":
            resolved[name] = "[" + connective_syllables() + "]"
        elif value.startswith("@"):
            raise ValueError(f"macro {name}: unknown computed value {value!r}")
    return resolved


def _compile(regex: str, macros: dict[str, str], where: str) -> re.Pattern[str]:
    try:
        return re.compile(expand_macros(regex, macros))
    except (re.error, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _read_data() -> dict[str, Any]:
    try:
        text = resources.files("pipeline.care").joinpath("data", PATTERNS_FILE).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, TypeError):  # e.g. running from a bare checkout
        text = (Path(__file__).resolve().parent / "data" / PATTERNS_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _condition(spec: dict[str, Any], macros: dict[str, str], where: str) -> _Condition:
    if len(spec) != 1:
        raise ValueError(f"{where}: a condition has exactly one of left/right/sentence/subject")
    ((side, value),) = spec.items()
    if side == "subject":
        if value not in ("third", "third_loose"):
            raise ValueError(f"{where}: subject must be 'third' or 'third_loose'")
        return _Condition("subject", None, value)
    if side not in ("left", "right", "sentence"):
        raise ValueError(f"{where}: unknown condition side {side!r}")
    return _Condition(side, _compile(value, macros, where))


def load_rules(data: dict[str, Any] | None = None) -> _Rules:
    """Compile the risk rules and check that every entry is valid.

    Args:
        data: the parsed pattern file; the packaged ``data/risk_patterns.json`` when omitted.

    Returns:
        The compiled rules.

    Raises:
        ValueError: a pattern does not compile, or has an unknown category, level, kind or rule.
    """
    data = _read_data() if data is None else data
    macros = _computed_macros(data["macros"])
    rule_ids = {rule["id"] for rule in data["context_rules"]}

    patterns: list[_Pattern] = []
    seen: set[str] = set()
    for spec in data["patterns"]:
        pid = spec["id"]
        if pid in seen:
            raise ValueError(f"pattern {pid}: duplicate id")
        seen.add(pid)
        if spec["category"] not in CATEGORIES:
            raise ValueError(f"pattern {pid}: unknown category {spec['category']!r}")
        if spec["level"] not in ("watch", "high"):
            raise ValueError(f"pattern {pid}: level must be watch or high")
        if spec["kind"] not in KINDS:
            raise ValueError(f"pattern {pid}: unknown kind {spec['kind']!r}")
        exempt = frozenset(spec.get("exempt_rules", ()))
        if exempt - rule_ids:
            raise ValueError(f"pattern {pid}: unknown exempt rule(s) {sorted(exempt - rule_ids)}")
        regex = _compile(spec["regex"], macros, f"pattern {pid}")
        if regex.search(""):
            raise ValueError(f"pattern {pid}: matches the empty string")
        patterns.append(
            _Pattern(pid, spec["category"], spec["level"], spec["kind"], regex, bool(spec.get("intensifiable")), exempt)
        )

    suppressors: list[_Suppressor] = []
    for spec in data["suppressors"]:
        sid = spec["id"]
        regex = _compile(spec["regex"], macros, f"suppressor {sid}")
        groups = tuple(name for name in regex.groupindex if _TARGET_GROUP.fullmatch(name))
        if not groups:
            raise ValueError(f"suppressor {sid}: needs a (?P<t>...) group marking the neutralised words")
        if spec["action"] not in ("drop", "watch"):
            raise ValueError(f"suppressor {sid}: action must be drop or watch")
        targets = frozenset(spec.get("patterns", ()))
        if targets - seen:
            raise ValueError(f"suppressor {sid}: unknown pattern(s) {sorted(targets - seen)}")
        categories = frozenset(spec.get("categories", ()))
        if categories - set(CATEGORIES):
            raise ValueError(f"suppressor {sid}: unknown categories {sorted(categories - set(CATEGORIES))}")
        suppressors.append(_Suppressor(sid, regex, groups, spec["action"], targets, categories))

    rules: list[_ContextRule] = []
    for spec in data["context_rules"]:
        rid = spec["id"]
        level = spec.get("level")
        category = spec.get("category")
        if level not in (None, "none", "watch"):
            raise ValueError(f"context rule {rid}: level must be none or watch")
        if category is not None and category not in CATEGORIES:
            raise ValueError(f"context rule {rid}: unknown category {category!r}")
        if level is None and category is None:
            raise ValueError(f"context rule {rid}: sets neither level nor category")
        kinds = frozenset(spec.get("kinds", KINDS))
        categories = frozenset(spec.get("categories", CATEGORIES))
        if kinds - set(KINDS) or categories - set(CATEGORIES):
            raise ValueError(f"context rule {rid}: unknown kinds or categories")
        all_of = tuple(_condition(c, macros, f"context rule {rid}") for c in spec.get("all_of", ()))
        any_of = tuple(_condition(c, macros, f"context rule {rid}") for c in spec.get("any_of", ()))
        none_of = tuple(_condition(c, macros, f"context rule {rid}") for c in spec.get("none_of", ()))
        if not all_of and not any_of:
            raise ValueError(f"context rule {rid}: has no conditions")
        softens = spec.get("softens_classifier", True)
        if not isinstance(softens, bool):
            raise ValueError(f"context rule {rid}: softens_classifier must be true or false")
        rules.append(_ContextRule(rid, level, category, kinds, categories, all_of, any_of, none_of, softens))

    lex = data["lexicons"]
    inten = data["intensifier"]
    intensifier = _Intensifier(
        connective=frozenset(connective_syllables()),
        not_stems=tuple(sorted(inten["not_stems"], key=len, reverse=True)),
        particle_endings=tuple(sorted(inten["particle_endings"], key=len, reverse=True)),
        light_verb_nouns=tuple(inten["light_verb_nouns"]),
        distress=_compile(inten["distress"], macros, "intensifier.distress"),
        right_clause=_compile(inten["right_clause"], macros, "intensifier.right_clause"),
    )
    return _Rules(
        patterns=tuple(patterns),
        suppressors=tuple(suppressors),
        context_rules=tuple(rules),
        third_subject=_compile(lex["third_subject"], macros, "lexicons.third_subject"),
        first_subject=_compile(lex["first_subject"], macros, "lexicons.first_subject"),
        clause_break=_compile(lex["clause_break"], macros, "lexicons.clause_break"),
        strict_subject_gap=int(lex.get("strict_subject_gap", 12)),
        intensifier=intensifier,
        near_misses=_near_miss_table(data.get("near_misses", {})),
    )


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    return load_rules()


# --------------------------------------------------------------------------------------------
# Assessment
# --------------------------------------------------------------------------------------------


@dataclass
class _Hit:
    pattern: _Pattern
    start: int
    end: int
    level: str
    category: str


def _cap(level: str, ceiling: str) -> str:
    return level if _RANK[level] <= _RANK[ceiling] else ceiling


def _subject(left: str, rules: _Rules, strict: bool) -> bool:
    """Whether the clause's subject, just before the match, is somebody other than the client.

    Korean drops the subject when it is "I", so the absence of a subject means the client. Only
    an explicit third-person subject (친구가, 동생이, 주인공이) counts, and a first-person subject
    after it (나는, 제가) wins. ``strict`` also requires the subject to be close, in the same
    clause (no -서/-는데/-지만 in between): in 엄마가 아파서 자해했어 the client self-harms.
    """
    third_end = -1
    for m in rules.third_subject.finditer(left):
        third_end = m.end()
    if third_end < 0:
        return False
    first_end = -1
    for m in rules.first_subject.finditer(left):
        first_end = m.end()
    if first_end >= third_end:
        return False
    if not strict:
        return True
    gap = left[third_end:]
    return len(gap) <= rules.strict_subject_gap and not rules.clause_break.search(gap)


def _holds(cond: _Condition, left: str, right: str, sentence: str, rules: _Rules) -> bool:
    if cond.side == "subject":
        return _subject(left, rules, strict=cond.subject == "third")
    assert cond.regex is not None
    target = {"left": left, "right": right, "sentence": sentence}[cond.side]
    return cond.regex.search(target) is not None


def _stem_before(norm: Normalized, start: int, sent_start: int, cfg: _Intensifier) -> str | None:
    """The predicate right before a match, when it is in the -아/-어(서) connective form."""
    text = norm.text
    if start <= sent_start or text[start - 1] not in cfg.connective:
        return None
    src = norm.source
    o = norm.starts[start]
    if o > 0 and src[o - 1].isspace():
        # The client's own spacing, when there is any, says where the previous word begins.
        words = _words_before(src, o)
        if not words:
            return None
        word = words[-1]
        if word == "나" and len(words) > 1 and words[-2].endswith(cfg.light_verb_nouns):
            return words[-2] + word  # 짜증 나 죽겠어: 나 is the verb 나다, not the pronoun
        if word in cfg.not_stems or word.endswith(cfg.particle_endings):
            return None
        return word
    # Written together (or spacing lost in transcription): judge from the normalised text. A
    # one-syllable word such as 나 or 다 only counts as a pronoun/adverb at the sentence start.
    before = text[sent_start:start]
    for word in cfg.not_stems:
        if before.endswith(word) and (len(word) > 1 or len(before) == 1):
            return None
    if before.endswith(cfg.particle_endings):
        return None
    return before[-6:]


def _words_before(src: str, end: int, count: int = 2) -> list[str]:
    """The last ``count`` space-separated words (Hangul only) of ``src[:end]``, oldest first."""
    words: list[str] = []
    k = end - 1
    while k >= 0 and len(words) < count:
        while k >= 0 and src[k].isspace():
            k -= 1
        stop = k + 1
        while k >= 0 and not src[k].isspace():
            k -= 1
        word = "".join(ch for ch in src[k + 1 : stop] if "가" <= ch <= "힣")
        if word:
            words.append(word)
    return words[::-1]


def _intensifier(norm: Normalized, hit: _Hit, bounds: tuple[int, int], cfg: _Intensifier) -> str | None:
    """``none``/``watch`` when the match is the 죽겠다 half of an "X-아/어 죽겠다" idiom.

    배고파 죽겠어, 웃겨서 죽을 것 같아: the stem before 죽 says what the client suffers from or
    enjoys, so the phrase is an intensifier, not a wish to die. It stays at ``watch`` when the
    stem is emotional distress (힘들어 죽겠어, 괴로워서 죽을 것 같아), which a counsellor should see.
    The stem may also follow (죽겠어 진짜 배고파서).
    """
    sent_start, sent_end = bounds
    if not norm.text.startswith("죽", hit.start):
        return None  # 그냥 죽을래: a word between the stem and 죽 breaks the idiom
    stem = _stem_before(norm, hit.start, sent_start, cfg)
    if stem is None:
        m = cfg.right_clause.search(norm.text[hit.end : sent_end])
        if m is None:
            return None
        stem = m.group(0)
    return "watch" if cfg.distress.search(stem) else "none"


def _sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    left = text.rfind(BOUNDARY, 0, start) + 1
    right = text.find(BOUNDARY, end)
    return left, len(text) if right < 0 else right


@dataclass(frozen=True)
class RuleAssessment:
    """What the rules found in one utterance.

    Attributes:
        risk: the verdict (see ``assess_risk``).
        softened: a risk phrase matched and was let go or lowered as a look-alike (an idiom, the
            X-아/어 죽겠다 intensifier, a film, a resolved past, a denial, somebody else): the rules
            know why the words weigh less here, which the hybrid assessor respects.
        imminent: phrases of imminence (지금 다리 위야, 오늘 밤에 할 거예요) as the client said
            them, found even where no high finding of another category let them count in ``risk``:
            the hybrid assessor reads them beside the classifier's signal.
    """

    risk: Risk
    softened: bool = False
    imminent: tuple[str, ...] = ()


def assess_risk(text: str) -> Risk:
    """Assess the risk in one client utterance.

    Args:
        text: what the client said or typed, in Korean (spacing and punctuation optional).

    Returns:
        The level (``none``, ``watch`` or ``high``; the highest of all matches), the phrases that
        raised it as they appear in ``text`` (in order, without repeats), and their categories
        (from ``CATEGORIES``, in that order, without repeats).
    """
    return assess_details(text).risk


def _starts_inside_word(norm: Normalized, start: int, end: int) -> bool:
    """Whether a match that crosses a space begins with the last syllable of another word.

    Matching ignores spaces so that split words (번개 탄, 자 살) are still found, but then
    "혼자 살아요" ("I live alone") and "여자 살인 사건" would read as 자살. A match that crosses a
    space and whose part before the space is a single syllable glued to a longer word is such an
    accident; one that starts a word ("자 살") or carries more than one syllable before the space
    ("그냥죽고 싶다", a merged recognition) is kept.
    """
    first = norm.starts[start]
    if first == 0 or not _is_hangul(norm.source[first - 1]):
        return False
    original = norm.source[first : norm.ends[end - 1]]
    head, space, _ = original.partition(" ")
    return bool(space) and len(head) == 1


def assess_details(text: str) -> RuleAssessment:
    """``assess_risk``, and whether a matched risk phrase was let go as a look-alike."""
    if not text or not text.strip():
        return RuleAssessment(Risk())
    rules = _rules()
    norm = normalize(text)
    if not norm.text:
        return RuleAssessment(Risk())
    norm = correct_near_misses(norm, rules.near_misses)
    s = norm.text

    hits = [
        _Hit(p, m.start(), m.end(), p.level, p.category)
        for p in rules.patterns
        for m in p.regex.finditer(s)
        if m.end() > m.start() and not _starts_inside_word(norm, m.start(), m.end())
    ]
    if not hits:
        return RuleAssessment(Risk())

    # Words that suppressors neutralise: (start, end, suppressor).
    targets = [
        (m.start(g), m.end(g), sup)
        for sup in rules.suppressors
        for m in sup.regex.finditer(s)
        for g in sup.groups
        if m.start(g) >= 0
    ]

    kept: list[_Hit] = []
    softened = False
    for hit in hits:
        p = hit.pattern
        initial = hit.level
        for t_start, t_end, sup in targets:
            if t_start < hit.end and hit.start < t_end:
                if (not sup.patterns or p.id in sup.patterns) and (not sup.categories or p.category in sup.categories):
                    hit.level = _cap(hit.level, "none" if sup.action == "drop" else "watch")
        if hit.level == "none":
            softened |= p.category not in MODIFIER_CATEGORIES
            continue
        bounds = _sentence_bounds(s, hit.start, hit.end)
        if p.intensifiable:
            verdict = _intensifier(norm, hit, bounds, rules.intensifier)
            if verdict is not None:
                hit.level = _cap(hit.level, verdict)
                if hit.level == "none":
                    softened |= p.category not in MODIFIER_CATEGORIES
                    continue
        left, right, sentence = s[bounds[0] : hit.start], s[hit.end : bounds[1]], s[bounds[0] : bounds[1]]
        for rule in rules.context_rules:
            if rule.id in p.exempt or p.kind not in rule.kinds or hit.category not in rule.categories:
                continue
            if not all(_holds(c, left, right, sentence, rules) for c in rule.all_of):
                continue
            if rule.any_of and not any(_holds(c, left, right, sentence, rules) for c in rule.any_of):
                continue
            if any(_holds(c, left, right, sentence, rules) for c in rule.none_of):
                continue
            if rule.level is not None:
                if not rule.softens_classifier:
                    initial = _cap(initial, rule.level)  # not a look-alike: somebody else, a person should see
                hit.level = _cap(hit.level, rule.level)
            if rule.category is not None:
                hit.category = rule.category
        if hit.level != "none":
            kept.append(hit)
        if hit.level != initial:
            softened |= p.category not in MODIFIER_CATEGORIES
    imminent = tuple(
        dict.fromkeys(norm.original(h.start, h.end).strip() for h in kept if h.category in MODIFIER_CATEGORIES)
    )
    # A modifier (imminent) qualifies a high finding of another category; alone it says nothing.
    if not any(h.level == "high" and h.category not in MODIFIER_CATEGORIES for h in kept):
        kept = [h for h in kept if h.category not in MODIFIER_CATEGORIES]
    if not kept:
        return RuleAssessment(Risk(), softened, imminent)

    # A phrase inside a longer phrase of the same category (자살 in 자살 시도) is one reason.
    kept.sort(key=lambda h: (h.start, -h.end))
    final: list[_Hit] = []
    for hit in kept:
        if any(
            o.start <= hit.start
            and hit.end <= o.end
            and o.category == hit.category
            and _RANK[o.level] >= _RANK[hit.level]
            for o in final
        ):
            continue
        final.append(hit)

    level = max((h.level for h in final), key=_RANK.__getitem__)
    reasons = tuple(dict.fromkeys(norm.original(h.start, h.end).strip() for h in final))
    categories = tuple(sorted({h.category for h in final}, key=CATEGORIES.index))
    return RuleAssessment(Risk(level=level, reasons=reasons, categories=categories), softened, imminent)
