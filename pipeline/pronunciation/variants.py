"""Learner-like variants of a pronunciation: the competitors a verdict of "wrong" is weighed against.

A syllable is wrong only when the audio fits something else *better* than the target. The
"something else" comes from here: for each syllable of the standard pronunciation (Hangul, as
``g2p.pronounce`` gives it), the readings a learner is likely to produce instead:

* ``rule_not_applied``: a 표준발음법 rule not applied where it changes the syllable — nasalisation
  and lateralisation undone (국물 [국물] for [궁물], 신라 [신라] for [실라]), palatalisation undone
  (같이 [가티] for [가치]), tensing undone (갈등 [갈등] for [갈뜽]);
* ``substituted``: the onset swapped within its family of plain / aspirated / tense stops and
  affricates (ㄱ/ㅋ/ㄲ, ㄷ/ㅌ/ㄸ, ㅂ/ㅍ/ㅃ, ㅈ/ㅊ/ㅉ, ㅅ/ㅆ), or the vowel swapped with the one
  learners confuse it with (ㅓ/ㅗ, ㅕ/ㅛ, ㅡ/ㅜ, ㅏ/ㅓ, ㅣ/ㅔ). ㅐ/ㅔ is left out on purpose: most
  Seoul speakers no longer tell them apart, so a "wrong" there would blame native speech;
* ``omitted``: the syllable dropped (never the only syllable of a word);
* ``inserted``: the syllable said twice (a stumble).

The benchmark's labelled set plants its errors with the same functions
(``tests/data/pronunciation_set/generate.py``), so the set measures how well the scorer finds
errors of these kinds; errors of other kinds are reported as unsure at best.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.pronunciation.g2p import Pronunciation
from pipeline.pronunciation.ipa import join_syllable, split_syllable

#: Onset families a learner confuses (plain / aspirated / tense).
ONSET_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("ㄱ", "ㅋ", "ㄲ"),
    ("ㄷ", "ㅌ", "ㄸ"),
    ("ㅂ", "ㅍ", "ㅃ"),
    ("ㅈ", "ㅊ", "ㅉ"),
    ("ㅅ", "ㅆ"),
)
#: Vowel confusions (both ways). ㅐ/ㅔ is not here: merged in most Seoul speech.
VOWEL_SWAPS: dict[str, str] = {
    "ㅓ": "ㅗ",
    "ㅗ": "ㅓ",
    "ㅕ": "ㅛ",
    "ㅛ": "ㅕ",
    "ㅡ": "ㅜ",
    "ㅜ": "ㅡ",
    "ㅏ": "ㅓ",
    "ㅣ": "ㅔ",
    "ㅔ": "ㅣ",
}
_LAX = {"ㄲ": "ㄱ", "ㄸ": "ㄷ", "ㅃ": "ㅂ", "ㅆ": "ㅅ", "ㅉ": "ㅈ"}


@dataclass(frozen=True)
class Variant:
    """One learner-like reading of the whole sentence, differing from the standard at one syllable.

    Attributes:
        index: the changed syllable, an index into ``Pronunciation.hangul`` (and ``spoken``).
        kind: ``rule_not_applied``, ``substituted``, ``omitted`` or ``inserted``.
        said: the whole pronounced sentence (Hangul) with the change.
        heard: what stands at ``index`` instead ("" when dropped, the syllable twice when inserted).
        rules: the 표준발음법 labels not applied (``rule_not_applied`` only).
    """

    index: int
    kind: str
    said: str
    heard: str
    rules: tuple[str, ...] = ()


def _replace(hangul: str, index: int, new: str) -> str:
    return hangul[:index] + new + hangul[index + 1 :]


def undo_coda(hangul: str, index: int, length: int) -> tuple[int | None, str]:
    """Nasalisation / lateralisation not applied: the changed final back to its plain sound."""
    for k in range(index, min(index + max(length, 1), len(hangul) - 1)):
        onset, vowel, coda = split_syllable(hangul[k])
        nxt = hangul[k + 1]
        if nxt == " ":
            continue
        n_onset = split_syllable(nxt)[0]
        if coda == "ㅇ" and n_onset in ("ㅁ", "ㄴ"):
            return k, join_syllable(onset, vowel, "ㄱ")
        if coda == "ㄴ" and n_onset in ("ㅁ", "ㄴ"):
            return k, join_syllable(onset, vowel, "ㄷ")
        if coda == "ㅁ" and n_onset in ("ㅁ", "ㄴ"):
            return k, join_syllable(onset, vowel, "ㅂ")
        if coda == "ㄹ" and n_onset == "ㄹ":
            return k, join_syllable(onset, vowel, "ㄴ")
    return None, ""


def undo_palatal(hangul: str, index: int, length: int) -> tuple[int | None, str]:
    """Palatalisation not applied: 가치 → 가티, 해도지 → 해도디."""
    for k in range(index, min(index + length, len(hangul))):
        onset, vowel, coda = split_syllable(hangul[k])
        if k > index and onset in ("ㅊ", "ㅈ"):
            return k, join_syllable("ㅌ" if onset == "ㅊ" else "ㄷ", vowel, coda)
    return None, ""


def undo_tensing(hangul: str, index: int, length: int) -> tuple[int | None, str]:
    """Tensing not applied: the tense initial read lax (갈뜽 → 갈등)."""
    for k in range(index, min(index + length, len(hangul))):
        if hangul[k] == " ":
            continue
        onset, vowel, coda = split_syllable(hangul[k])
        if onset in _LAX:
            return k, join_syllable(_LAX[onset], vowel, coda)
    return None, ""


RULE_UNDO = {
    "nasalization": undo_coda,
    "lateralization": undo_coda,
    "palatalization": undo_palatal,
    "tensing": undo_tensing,
}


def rule_variants(pron: Pronunciation) -> list[Variant]:
    """Each rule in ``pron`` that can be undone, undone (one variant per changed syllable)."""
    out: dict[int, Variant] = {}
    hangul = pron.hangul
    for rule in pron.rules:
        undo = RULE_UNDO.get(rule.rule)
        if undo is None:
            continue
        k, new = undo(hangul, rule.index, rule.length)
        if k is None or new == hangul[k] or k in out:
            continue
        out[k] = Variant(k, "rule_not_applied", _replace(hangul, k, new), new, (rule.label,))
    return [out[k] for k in sorted(out)]


def substitutions(syllable: str) -> list[tuple[str, str]]:
    """(new syllable, "onset" or "vowel") for each learner-like swap of one Hangul syllable."""
    onset, vowel, coda = split_syllable(syllable)
    out: list[tuple[str, str]] = []
    for family in ONSET_FAMILIES:
        if onset in family:
            out.extend((join_syllable(o, vowel, coda), "onset") for o in family if o != onset)
    if vowel in VOWEL_SWAPS:
        out.append((join_syllable(onset, VOWEL_SWAPS[vowel], coda), "vowel"))
    return out


def droppable(hangul: str, index: int) -> bool:
    """Whether a syllable may be dropped: not a space, and not the only syllable of its word."""
    if hangul[index] == " ":
        return False
    return len(hangul.split(" ")[hangul[:index].count(" ")]) >= 2


def competitors(pron: Pronunciation) -> list[Variant]:
    """Every learner-like variant of ``pron`` (see the module docstring), in syllable order."""
    hangul = pron.hangul
    out = list(rule_variants(pron))
    ruled = {v.index: v.said for v in out}
    for k, char in enumerate(hangul):
        if char == " ":
            continue
        for new, _ in substitutions(char):
            said = _replace(hangul, k, new)
            if ruled.get(k) != said:
                out.append(Variant(k, "substituted", said, new))
        if droppable(hangul, k):
            out.append(Variant(k, "omitted", _replace(hangul, k, ""), ""))
        out.append(Variant(k, "inserted", _replace(hangul, k, char + char), char + char))
    out.sort(key=lambda v: v.index)
    return out


#: Further learner confusions weighed as competitors (never planted in the labelled set): ㄹ/ㄴ at
#: the onset, and a final swapped within the nasals (ㄴ/ㅇ/ㅁ) or the unreleased stops (ㄱ/ㄷ/ㅂ).
ONSET_CONFUSIONS: dict[str, str] = {"ㄹ": "ㄴ", "ㄴ": "ㄹ"}
CODA_FAMILIES: tuple[tuple[str, ...], ...] = (("ㄴ", "ㅇ", "ㅁ"), ("ㄱ", "ㄷ", "ㅂ"))


def confusions(syllable: str) -> list[str]:
    """The ㄹ/ㄴ onset and final-consonant confusions of one Hangul syllable (see ``CODA_FAMILIES``)."""
    onset, vowel, coda = split_syllable(syllable)
    out: list[str] = []
    if onset in ONSET_CONFUSIONS:
        out.append(join_syllable(ONSET_CONFUSIONS[onset], vowel, coda))
    for family in CODA_FAMILIES:
        if coda in family:
            out.extend(join_syllable(onset, vowel, c) for c in family if c != coda)
    return out


@dataclass(frozen=True)
class Hypothesis:
    """A competitor text for the recogniser to weigh against a reference text (see ``hypotheses``).

    Attributes:
        variant: the learner-like change.
        reference: the target written for the recogniser: the sentence as spelled, with the word of
            the change in its standard pronunciation (so that both texts differ in one syllable).
        text: ``reference`` with the change.
    """

    variant: Variant
    reference: str
    text: str


def hypotheses(pron: Pronunciation, extra: bool = True) -> list[Hypothesis]:
    """Every competitor (``competitors``, plus ``confusions`` when ``extra``) as a text to force-read.

    Whisper writes spelling, and a pronounced sentence ("궁무리 정말") reads as nonsense to its
    language model; so only the word of the change is written as pronounced, in the reference and
    in the competitor alike, and the rest of the sentence stays spelled. ``pron.spoken`` and
    ``pron.hangul`` are index-aligned, spaces included.
    """
    spoken, hangul = pron.spoken, pron.hangul
    found = list(competitors(pron))
    if extra:
        seen = {v.said for v in found}
        for k, char in enumerate(hangul):
            if char == " ":
                continue
            for new in confusions(char):
                said = _replace(hangul, k, new)
                if said not in seen:
                    seen.add(said)
                    found.append(Variant(k, "substituted", said, new))
        found.sort(key=lambda v: v.index)
    out = []
    for v in found:
        a = hangul.rfind(" ", 0, v.index) + 1
        b = hangul.find(" ", v.index)
        b = len(hangul) if b < 0 else b
        delta = len(v.said) - len(hangul)
        reference = spoken[:a] + hangul[a:b] + spoken[b:]
        out.append(Hypothesis(v, reference, spoken[:a] + v.said[a : b + delta] + spoken[b:]))
    return out
