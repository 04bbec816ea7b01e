"""Safety rails for generated replies: what a language model wrote must pass these before a client sees it.

A curated reply was read by a person; a generated one was not. ``check_reply`` rejects a
generated reply (returns the reasons) when it

* is empty, too short to mean anything (fewer than ``MIN_SYLLABLES`` Hangul syllables), too
  long, or not Korean (another script, broken bytes, mostly Latin letters);
* repeats itself (KoGPT2's known failure under greedy decoding: a word, word pair, sentence or
  character run that comes back), echoes the client, or repeats an earlier reply;
* names methods or means of harm (pills in quantity, charcoal, hanging, jumping, cutting, poison …);
* gives a diagnosis (우울증이에요, 공황장애, ADHD …) or medication advice (약을 드세요, 항우울제, mg …);
* minimises what the client feels (별거 아니에요, 엄살, 다들 그래요, 참으세요 …);
* carries risk content itself (``pipeline.care.risk.assess_risk`` says ``high``), claims to be a
  person or a professional, or gives contact details (phone numbers other than the official crisis
  lines, web or e-mail addresses), which a model can only invent.

The rules are deliberately strict: a rejected reply costs nothing but a fallback to a curated
one. They are plain regular expressions written for this project (English comments, Korean
patterns); extend ``RULES`` when a review finds a reply that should not have passed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from pipeline.care.risk import assess_risk

#: Reason codes, in the order ``check_reply`` reports them.
REASONS: tuple[str, ...] = (
    "empty",
    "too_short",
    "too_long",
    "not_korean",
    "repetition",
    "echo",
    "repeated_reply",
    "means",
    "diagnosis",
    "medication",
    "minimising",
    "risk_content",
    "identity",
    "contact",
)

#: Phone numbers a reply may mention: the Korean crisis and help lines (digits only).
CRISIS_LINES = frozenset({"109", "1393", "15770199", "112", "119", "1388", "1366", "129"})

#: Fewest Hangul syllables in a reply worth giving (a model's "잠요??" is not one).
MIN_SYLLABLES = 4

#: Share of letters that must be Hangul syllables (a stray "AI" is fine; an English sentence is not).
MIN_HANGUL_SHARE = 0.8

_S = r"\s*"  # Korean spacing varies; patterns allow optional spaces between the parts of a phrase

RULES: dict[str, re.Pattern[str]] = {
    # Methods and means of self-harm, suicide or harming others.
    "means": re.compile(
        "|".join(
            (
                r"수면제",
                r"치사량",
                r"과다" + _S + r"복용",
                r"약을?" + _S + r"(모아|모으|한꺼번에|한번에|왕창|많이)",
                r"번개탄",
                r"연탄",
                r"착화탄",
                r"목을?" + _S + r"(매|맬|졸라)",
                r"목매",
                r"밧줄",
                r"올가미",
                r"투신",
                r"뛰어" + _S + r"내리",
                r"떨어져" + _S + r"(죽|버리)",
                r"손목",
                r"(칼|면도날)(로|을)",
                r"(팔|살|피부)(을|를)?" + _S + r"(긋|그어)",
                r"농약",
                r"제초제",
                r"독극물",
                r"청산가리",
                r"질식",
                r"동맥",
                r"가스를?" + _S + r"(틀|마시|켜)",
                r"(다리|옥상|난간|철로|선로)(에서|위에서|로)",
                r"(흉기|무기|둔기)",
                r"(때려|죽여|찔러)" + _S + r"(버리|주|봐|요|라)",
                r"복수(하|를\s*하)",
                r"방법(을|은)?" + _S + r"(알려|가르쳐)",
            )
        )
    ),
    # Naming a disorder or diagnosing.
    "diagnosis": re.compile(
        r"우울증|조울증|양극성|조현병|정신\s*분열|공황\s*장애|불안\s*장애|강박\s*(장애|증)|"
        r"adhd|ptsd|외상\s*후|인격\s*장애|경계선\s*(성격|인격)|섭식\s*장애|거식증|폭식증|치매|자폐|"
        r"정신\s*(병|질환|장애)|진단(하자면|해\s*보(면|니)|해\s*드릴|을\s*내리|결과)|증상(이에요|입니다|이네요|이군요)|병(이에요|입니다|이네요|이군요)",
        re.IGNORECASE,
    ),
    # Medicines, doses and drinking advice.
    "medication": re.compile(
        r"약(을|은|이)?" + _S + r"(드세요|드셔|드시|먹|복용|끊|줄이|늘리|바꾸|처방)|복용|처방|용량|투약|"
        r"항우울제|신경\s*안정제|안정제|진통제|수면\s*유도제|졸피뎀|자낙스|프로작|렉사프로|알약|"
        r"\d+\s*(mg|밀리그램|알|정)\b|술(을|이라도)?" + _S + r"(드세요|드셔|마시세요|한\s*잔)",
        re.IGNORECASE,
    ),
    # Playing down what the client feels.
    "minimising": re.compile(
        r"별(거|것|일)?" + _S + r"아니|아무것도\s*아니|엄살|유난(을|떨|스럽|이에요|이네요)|호들갑|과민\s*반응|"
        r"예민하(시네|시군|신\s*거)|다들\s*그(래|렇)|누구나\s*(다\s*)?그(래|렇)|그\s*정도(는|가지고)\s*(뭘|별|다|누구)|"
        r"참으세요|참아야\s*(해요|합니다|돼요)|참아라|"
        r"잊어\s*버리세요|그냥\s*잊|신경\s*쓰지\s*마|죽을\s*만큼은?\s*아니|농담|웃기(네|다|시네)|"
        r"대수롭지|배부른\s*소리|핑계(예요|이에요|일\s*뿐|잖아|대지\s*마)"
    ),
    # Claiming to be a person or a professional (Maum says it is an AI).
    "identity": re.compile(
        r"(저는?|제가|나는?)\s*(진짜\s*)?(사람|인간|상담사|상담\s*선생님|의사|치료사|전문가|선생님)"
        r"(이에요|예요|입니다|이야|야|이랍니다|이거든요|라서|이니까)"
    ),
}

_URL = re.compile(r"https?://|www\.|\.(com|net|org|kr)\b|@[a-z0-9-]+\.", re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d\-. ]*\d")
_SENTENCE = re.compile(r"[^.!?。…]+[.!?。…]*")
_WORD_EDGE = re.compile(r"^[^\w]+|[^\w]+$")


def _is_hangul_syllable(ch: str) -> bool:
    return "가" <= ch <= "힣"


def _script_problem(text: str) -> bool:
    """True when the text has characters no Korean reply should have, or too little Hangul."""
    letters = 0
    hangul = 0
    for ch in text:
        category = unicodedata.category(ch)
        if ch == "\ufffd" or category in {"Cc", "Cf", "Co", "Cn", "Cs"} and ch not in "\n\t":
            return True  # broken bytes (byte-level BPE cut in the middle of a character) or control characters
        if category[0] == "L":
            letters += 1
            if _is_hangul_syllable(ch):
                hangul += 1
            elif not ("a" <= ch.lower() <= "z"):
                return True  # Hanja, kana, Cyrillic, lone jamo (ㅋㅋ, ㅠㅠ) …
    return letters == 0 or hangul / letters < MIN_HANGUL_SHARE


def _words(text: str) -> list[str]:
    return [w for w in (_WORD_EDGE.sub("", w) for w in text.split()) if w]


def _compact(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def _repeats(text: str) -> bool:
    """Words, a sentence, an 8-character run or one character (4×) that keep coming back."""
    if re.search(r"(.)\1{3,}", text):
        return True
    words = _words(text)
    if any(n >= 2 for n in Counter(zip(words, words[1:], words[2:], strict=False)).values()):
        return True
    if any(n >= 3 for n in Counter(zip(words, words[1:], strict=False)).values()):
        return True
    if any(n >= 3 for w, n in Counter(words).items() if len(w) >= 2):
        return True
    if any(a == b for a, b in zip(words, words[1:], strict=False) if len(a) >= 3):
        return True  # 괜찮아요 괜찮아요
    sentences = [_compact(s) for s in _SENTENCE.findall(text)]
    sentences = [s for s in sentences if s]
    if len(sentences) != len(set(sentences)):
        return True
    compact = _compact(text)
    grams = Counter(compact[i : i + 8] for i in range(len(compact) - 7))
    return any(n >= 2 for n in grams.values())


def _contact(text: str) -> bool:
    if _URL.search(text):
        return True
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) >= 7 and digits not in CRISIS_LINES:  # a phone number; years and counts are shorter
            return True
    return False


def check_reply(
    text: str,
    *,
    max_chars: int = 160,
    user_text: str = "",
    previous_replies: Iterable[str] = (),
) -> tuple[str, ...]:
    """The reasons to reject a generated reply; empty when it may be shown.

    Args:
        text: the generated reply.
        max_chars: longest acceptable reply, in characters.
        user_text: what the client just said (a reply that parrots it is rejected).
        previous_replies: earlier replies in this conversation (a reply is never given twice).

    Returns:
        Reason codes from ``REASONS``, in that order, each at most once.
    """
    text = unicodedata.normalize("NFC", text).strip()
    if not _compact(text):
        return ("empty",)
    found: set[str] = set()
    if sum(_is_hangul_syllable(ch) for ch in text) < MIN_SYLLABLES:
        found.add("too_short")
    if len(text) > max_chars:
        found.add("too_long")
    if _script_problem(text):
        found.add("not_korean")
    if _repeats(text):
        found.add("repetition")
    reply_key = _compact(text)
    user_key = _compact(user_text)
    if user_key and (reply_key == user_key or (len(user_key) >= 10 and user_key in reply_key)):
        found.add("echo")
    if any(_compact(previous) == reply_key for previous in previous_replies):
        found.add("repeated_reply")
    for reason, pattern in RULES.items():
        if pattern.search(text):
            found.add(reason)
    if assess_risk(text).level == "high":
        found.add("risk_content")
    if _contact(text):
        found.add("contact")
    return tuple(reason for reason in REASONS if reason in found)


def first_safe(candidates: Sequence[str], **kwargs) -> tuple[str | None, tuple[str, ...]]:
    """The first candidate that passes ``check_reply`` and, when none does, the first one's reasons."""
    first_reasons: tuple[str, ...] = ()
    for i, candidate in enumerate(candidates):
        reasons = check_reply(candidate, **kwargs)
        if not reasons:
            return candidate, ()
        if i == 0:
            first_reasons = reasons
    return None, first_reasons
