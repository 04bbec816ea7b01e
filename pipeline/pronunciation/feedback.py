"""What the learner is told, in plain Korean: rule explanations and how-to tips.

Explanations come from the rules the standard pronunciation applied to a word ("'국물'은 [궁물]로
소리 나요 — 받침 ㄱ이 ㅁ 앞에서 [ㅇ]으로 바뀌어요 (비음화, 제18항)"); tips come from what differed
between the expected and the heard phonemes (ㄲ heard as ㄱ → how to make a tense consonant).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pipeline.pronunciation.alignment import PhonemeError
from pipeline.pronunciation.g2p import Pronunciation, RuleChange
from pipeline.pronunciation.ipa import is_hangul_syllable, split_syllable

GOOD = "good"
UNSURE = "unsure"
WRONG = "wrong"
#: The recording was too unclear (noise, silence, a very faint voice) to judge: not the learner's fault.
UNJUDGEABLE = "unjudgeable"

#: Korean names of the ratings, for people.
RATING_NAMES_KO = {GOOD: "좋아요", UNSURE: "애매해요", WRONG: "다시 해 봐요", UNJUDGEABLE: "판단하기 어려워요"}

#: Why a syllable was not good.
RULE_NOT_APPLIED = "rule_not_applied"
REASON_SUBSTITUTED = "substituted"
REASON_OMITTED = "omitted"
REASON_UNCLEAR = "unclear"
REASON_UNJUDGEABLE = "unjudgeable"
REASONS = (RULE_NOT_APPLIED, REASON_SUBSTITUTED, REASON_OMITTED, REASON_UNCLEAR, REASON_UNJUDGEABLE)

UNCLEAR_SUMMARY = (
    "녹음이 또렷하지 않아 발음을 판단하기 어려워요. 조용한 곳에서 마이크에 조금 더 가까이 대고 다시 읽어 주세요."
)
UNCLEAR_TIP = "잡음이 적은 곳에서 마이크에 가까이 대고 다시 녹음해 주세요."

# IPA symbol → the letter a learner knows (for tips).
_LETTER = {
    "k": "ㄱ", "k͈": "ㄲ", "kʰ": "ㅋ", "t": "ㄷ", "t͈": "ㄸ", "tʰ": "ㅌ", "p": "ㅂ", "p͈": "ㅃ", "pʰ": "ㅍ",
    "tɕ": "ㅈ", "tɕ͈": "ㅉ", "tɕʰ": "ㅊ", "s": "ㅅ", "s͈": "ㅆ", "h": "ㅎ", "n": "ㄴ", "m": "ㅁ", "ɾ": "ㄹ",
    "l": "ㄹ", "ŋ": "ㅇ", "k̚": "받침 ㄱ", "t̚": "받침 ㄷ", "p̚": "받침 ㅂ",
    "a": "ㅏ", "ɛ": "ㅐ", "ʌ": "ㅓ", "e": "ㅔ", "o": "ㅗ", "u": "ㅜ", "ɯ": "ㅡ", "i": "ㅣ", "ø": "ㅚ", "y": "ㅟ",
    "j": "ㅣ 반모음", "w": "ㅗ/ㅜ 반모음", "ɰ": "ㅢ 반모음",
}  # fmt: skip

_TENSE = frozenset({"k͈", "t͈", "p͈", "tɕ͈", "s͈"})
_ASPIRATED = frozenset({"kʰ", "tʰ", "pʰ", "tɕʰ"})
_LAX = frozenset({"k", "t", "p", "tɕ", "s"})
_UNRELEASED = frozenset({"k̚", "t̚", "p̚"})

# How to make each sound: a short, concrete instruction.
_HOW: dict[str, str] = {
    "tense": "목과 혀에 힘을 주고 숨을 거의 내보내지 않은 채 단단하게 소리 내요",
    "aspirated": "숨을 세게 내뱉으며 소리 내요 (입 앞에 손바닥을 대면 바람이 느껴져야 해요)",
    "lax": "힘을 빼고 숨을 살짝만 내보내며 부드럽게 소리 내요",
    "k̚": "혀뿌리로 입천장 뒤쪽을 막고 소리를 터뜨리지 않고 멈춰요",
    "t̚": "혀끝을 윗잇몸에 댄 채 소리를 터뜨리지 않고 멈춰요",
    "p̚": "입술을 닫은 채 소리를 터뜨리지 않고 멈춰요",
    "ŋ": "혀뿌리를 들어 입천장 뒤쪽에 대고 코로 소리를 내요 (입은 벌린 채)",
    "n": "혀끝을 윗잇몸에 대고 코로 소리를 내요",
    "m": "입술을 닫고 코로 소리를 내요",
    "ɾ": "혀끝으로 윗잇몸을 한 번 가볍게 튕기듯 소리 내요",
    "l": "혀끝을 윗잇몸에 댄 채 혀 양옆으로 소리를 흘려요",
    "h": "목에서 숨을 가볍게 내보내며 소리 내요",
    "a": "입을 크게 벌리고 혀를 낮춰요",
    "ʌ": "입을 조금 벌리고 입술은 둥글게 하지 않아요 (ㅗ처럼 입술을 내밀지 않아요)",
    "o": "입술을 동그랗게 모아 앞으로 내밀어요",
    "u": "입술을 작게 오므려 앞으로 내밀어요",
    "ɯ": "입술을 옆으로 편 채 혀를 뒤로 살짝 당겨요 (입술을 내밀지 않아요)",
    "i": "입술을 옆으로 펴고 혀를 앞으로 높이 올려요",
    "e": "입을 조금 벌리고 혀를 앞쪽 가운데에 두어요",
    "ɛ": "ㅔ보다 입을 조금 더 벌려요",
    "ø": "ㅚ는 [ㅞ]처럼 소리 내도 표준 발음이에요",
    "y": "ㅟ는 입술을 오므린 [ㅜ]에서 [ㅣ]로 빠르게 이어요",
    "j": "[ㅣ]에서 시작해 다음 모음으로 빠르게 미끄러지듯 이어요",
    "w": "입술을 둥글게 한 [ㅗ/ㅜ]에서 시작해 다음 모음으로 빠르게 이어요",
    "ɰ": "[ㅡ]에서 [ㅣ]로 빠르게 이어요",
}


def has_final(syllable: str) -> bool:
    """Whether a Hangul syllable has a final consonant (decides 은/는, 이/가, 으로/로)."""
    return is_hangul_syllable(syllable) and split_syllable(syllable)[2] != ""


def topic(word: str) -> str:
    """``word`` + 은/는."""
    return word + ("은" if has_final(word[-1:]) else "는")


def toward(word: str) -> str:
    """``[word]`` + 으로/로 (로 after a vowel or ㄹ)."""
    last = word[-1:]
    final = split_syllable(last)[2] if is_hangul_syllable(last) else ""
    return f"[{word}]" + ("으로" if final and final != "ㄹ" else "로")


def explain_rules(word: str, pronounced: str, changes: Iterable[RuleChange]) -> list[str]:
    """One Korean sentence per rule applied in a word.

    Example: ``'국물'은 [궁물]로 소리 나요 — 받침 ㄱ이 ㅁ 앞에서 [ㅇ]으로 바뀌어요 (비음화, 제18항)``.
    """
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for change in changes:
        key = (change.rule, change.article)
        if key in seen:
            continue
        seen.add(key)
        particle = "은" if has_final(word[-1:]) else "는"
        head = f"'{word}'{particle} {toward(pronounced)} 소리 나요"
        out.append(f"{head} — {change.detail} ({change.name}, {change.article})")
    return out


def word_spans(spoken: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the space-separated words of ``spoken``."""
    spans: list[tuple[int, int]] = []
    start = 0
    for k, ch in enumerate(spoken + " "):
        if ch == " ":
            if k > start:
                spans.append((start, k))
            start = k + 1
    return spans


def explain_pronunciation(pron: Pronunciation) -> list[str]:
    """The rule explanations of every word of a pronunciation, in order (see ``explain_rules``)."""
    out: list[str] = []
    for a, b in word_spans(pron.spoken):
        changes = [r for r in pron.rules if a <= r.index < b]
        out.extend(explain_rules(pron.spoken[a:b], pron.hangul[a:b], changes))
    return out


def _kind(symbol: str) -> str:
    if symbol in _TENSE:
        return "tense"
    if symbol in _ASPIRATED:
        return "aspirated"
    if symbol in _LAX:
        return "lax"
    return symbol


def tip_for_errors(errors: Sequence[PhonemeError]) -> str:
    """A how-to tip for the first mistake that has one ("" when none does)."""
    for error in errors:
        expected, heard = error.expected, error.heard
        letter = _LETTER.get(expected, expected)
        how = _HOW.get(_kind(expected)) or _HOW.get(expected)
        if not how:
            continue
        if not heard:
            return f"[{letter}] 소리가 빠졌어요. {letter}: {how}."
        heard_letter = _LETTER.get(heard, heard)
        return f"[{letter}] 소리가 [{heard_letter}]처럼 들렸어요. {letter}: {how}."
    return ""


def tip_for_rule(pronounced: str, rules: Sequence[RuleChange]) -> str:
    """A tip reminding the learner to follow the rule rather than the spelling."""
    if not rules:
        return ""
    rule = rules[-1]
    return f"글자대로 읽지 말고 {toward(pronounced)} 소리 내 보세요 ({rule.name}, {rule.article})."


def syllable_message(
    rating: str,
    spelled: str,
    expected: str,
    heard: str,
    status: str,
    reason: str = "",
    rules: Sequence[RuleChange] = (),
) -> str:
    """One short sentence about a syllable, for the learner (why, when it was not good)."""
    if rating == GOOD:
        return f"'{spelled}'{'을' if has_final(spelled) else '를'} 잘 발음했어요."
    if rating == UNJUDGEABLE:
        return f"녹음이 또렷하지 않아 '{spelled}'{'은' if has_final(spelled) else '는'} 판단하기 어려워요."
    if reason == RULE_NOT_APPLIED and rules:
        rule = rules[-1]
        return (
            f"[{expected}]{'으로' if has_final(expected) else '로'} 소리 내야 하는데 글자대로 읽은 것 같아요 "
            f"({rule.name}, 표준 발음법 {rule.article})."
        )
    if status == "omitted" or reason == REASON_OMITTED:
        particle = "을" if has_final(expected) else "를"
        return f"'{spelled}' 소리가 들리지 않았어요. [{expected}]{particle} 또박또박 말해 보세요."
    if status == "substituted" and heard:
        return f"[{expected}]{'이' if has_final(expected) else '가'} [{heard}]처럼 들렸어요."
    return f"'{spelled}'{'이' if has_final(spelled) else '가'} 또렷하게 들리지 않았어요. 조금 더 천천히 말해 보세요."


def summary_message(overall: float, wrong: int, unsure: int, fluency: float = 100.0) -> str:
    """A one-line encouragement that fits the scores."""
    if not wrong and not unsure:
        if overall >= 90:
            return "아주 잘했어요! 표준 발음에 가깝게 읽었어요."
        if fluency < 60:
            return "모든 음절이 잘 들렸어요. 이제 쉬지 않고 자연스러운 빠르기로 읽어 볼까요?"
        return "잘했어요. 모든 음절이 잘 들렸어요."
    if overall >= 70:
        return "잘했어요. 빨간색과 노란색 음절만 한 번 더 연습해 봐요."
    if overall >= 40:
        return "좋은 시작이에요. 표시된 음절을 천천히 따라 읽어 보세요."
    return "문장과 다르게 들렸어요. 문장을 보면서 천천히 한 번 더 읽어 볼까요?"
