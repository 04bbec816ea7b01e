"""Text front end for the Kokoro synthesizer: Korean text → Kokoro phoneme symbols.

Kokoro-82M was trained on IPA-like symbols (its ``vocab.json``) but has no Korean voice. Fed the
*standard pronunciation* of a sentence in Kokoro's own symbols, its Japanese voices speak
understandable Korean with a Japanese accent. The steps:

1. ``pipeline.text.normalize.normalize`` reads numbers, hotlines (109 → 일공구), dates and Latin letters
   out in Hangul and leaves only ``. , ? !`` as punctuation;
2. each stretch between punctuation marks goes through ``pipeline.pronunciation.g2p.pronounce``
   (표준발음법: liaison, nasalisation, tensing…, with the caller's Kiwi) and ``pipeline.pronunciation.ipa``;
3. every IPA symbol is rewritten with ``KOKORO_SYMBOLS``, a table (data, not code) that holds what a
   symbol becomes in its plain position and between two voiced sounds of the same word:

   * lenis stops and the affricate are voiced between voiced sounds (아기 ``aɡi``, 바다 ``pada``
     → ``bada`` only inside the word);
   * tense consonants are a glottal stop before the plain consonant (빠 ``ʔpa``), which Kokoro
     renders as the tight, unaspirated onset Korean has;
   * aspirates keep ``ʰ``; unreleased finals lose the diacritic Kokoro does not know;
   * ㄹ is a flap ``ɾ`` as an initial and a lateral ``l`` as a final (as ``ipa`` already marks);
   * ㅅ/ㅆ before ``i``/``j`` are alveolo-palatal (``ɕ``), see ``BEFORE_I``.

Numbers are read as a Korean speaker reads them aloud, not as if they were words
(``number_pronunciation``): the general rules would add a ㄴ between the syllables of a read-out
number (공일구구 → [공닐구구], 이천이십오 → [이천니시보]) and Whisper then hears other digits.
Inside a number, a final consonant links to the next syllable (일일이 [이리리], 이천이십오
[이처니시보]), 육 after a final consonant takes ㄴ (ㄹ after ㄹ: 삼육 [삼뉵], 칠육 [칠륙]), a final
ㄱ/ㅂ before it becomes nasal (육육 [융뉵], 십육 [심뉵]), and a lenis consonant after ㄱ/ㅂ, or ㄷ ㅅ ㅈ
after ㄹ, is tensed (십구 [십꾸], 일삼 [일쌈]), as in 표준발음법 제26·29항.

Punctuation is kept: Kokoro pauses at commas and falls or rises at ``.`` and ``?``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pipeline.pronunciation.g2p import pronounce
from pipeline.pronunciation.ipa import WORD_BOUNDARY, hangul_to_ipa_symbols, join_syllable, split_syllable
from pipeline.text.normalize import normalize, read_digits, read_sino

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

#: IPA symbol (``pipeline.pronunciation.ipa``) → (Kokoro symbols where it stands, Kokoro symbols
#: between two voiced sounds of one word). Every IPA symbol of Korean has an entry.
KOKORO_SYMBOLS: Mapping[str, tuple[str, str]] = {
    # lenis stops and affricate: voiceless, voiced between voiced sounds
    "k": ("k", "ɡ"), "t": ("t", "d"), "p": ("p", "b"), "tɕ": ("ʨ", "ʥ"),
    # tense: a glottal stop before the plain consonant
    "k͈": ("ʔk", "ʔk"), "t͈": ("ʔt", "ʔt"), "p͈": ("ʔp", "ʔp"), "tɕ͈": ("ʔʨ", "ʔʨ"), "s͈": ("ʔs", "ʔs"),
    # aspirated
    "kʰ": ("kʰ", "kʰ"), "tʰ": ("tʰ", "tʰ"), "pʰ": ("pʰ", "pʰ"), "tɕʰ": ("ʨʰ", "ʨʰ"),
    # fricatives
    "s": ("s", "s"), "h": ("h", "h"),
    # sonorants: ㄹ a flap as an initial, a lateral as a final
    "n": ("n", "n"), "m": ("m", "m"), "ŋ": ("ŋ", "ŋ"), "ɾ": ("ɾ", "ɾ"), "l": ("l", "l"),
    # unreleased finals
    "k̚": ("k", "k"), "t̚": ("t", "t"), "p̚": ("p", "p"),
    # vowels; ㅚ and ㅟ as the diphthongs most speakers say
    "a": ("a", "a"), "ɛ": ("ɛ", "ɛ"), "ʌ": ("ʌ", "ʌ"), "e": ("e", "e"), "o": ("o", "o"), "u": ("u", "u"),
    "ɯ": ("ɯ", "ɯ"), "i": ("i", "i"), "ø": ("we", "we"), "y": ("wi", "wi"),
    # glides
    "j": ("j", "j"), "w": ("w", "w"), "ɰ": ("ɰ", "ɰ"),
}  # fmt: skip

#: Consonants that change before ``i`` or ``j`` (ㅅ 시 [ɕi]); wins over ``KOKORO_SYMBOLS``.
BEFORE_I: Mapping[str, str] = {"s": "ɕ", "s͈": "ʔɕ"}

#: IPA symbols that are voiced: a lenis stop between two of them (same word) is voiced.
VOICED: frozenset[str] = frozenset({"a", "ɛ", "ʌ", "e", "o", "u", "ɯ", "i", "ø", "y", "j", "w", "ɰ",
                                    "n", "m", "ŋ", "ɾ", "l"})  # fmt: skip

#: Longest symbol string sent to Kokoro at once (its context is 512 tokens with the two pads).
MAX_SYMBOLS = 500

_PUNCT = re.compile(r"([.,?!])")
_NUMBER = re.compile(r"\d[\d,]*")

#: Lenis onset → its tense form (after ㄱ/ㅂ, and ㄷ ㅅ ㅈ after ㄹ, inside a number).
_TENSE = {"ㄱ": "ㄲ", "ㄷ": "ㄸ", "ㅂ": "ㅃ", "ㅅ": "ㅆ", "ㅈ": "ㅉ"}
_NASAL = {"ㄱ": "ㅇ", "ㅂ": "ㅁ"}


def ipa_to_kokoro(symbols: Sequence[str]) -> str:
    """IPA symbols (words separated by ``WORD_BOUNDARY``) → one Kokoro symbol string.

    Raises:
        KeyError: a symbol that is not Korean IPA (not in ``KOKORO_SYMBOLS``).
    """
    out: list[str] = []
    for i, symbol in enumerate(symbols):
        if symbol == WORD_BOUNDARY:
            out.append(" ")
            continue
        # Voicing runs across the spaces of one phrase (바로 가요 [baɾo ɡajo]): look past them.
        before = next((s for s in reversed(symbols[:i]) if s != WORD_BOUNDARY), "")
        after = next((s for s in symbols[i + 1 :] if s != WORD_BOUNDARY), "")
        if symbol in BEFORE_I and after in ("i", "j"):
            out.append(BEFORE_I[symbol])
            continue
        plain, voiced = KOKORO_SYMBOLS[symbol]
        out.append(voiced if before in VOICED and after in VOICED else plain)
    return " ".join("".join(out).split())


#: One digit read out in a phone number or hotline, as Kokoro symbols: each digit its own word,
#: word-initial (unvoiced), and the one-vowel digits 이 and 오 long, as a careful speaker reads a
#: number over the phone (otherwise Whisper hears 일오칠칠 as 1억 77).
DIGIT_SYMBOLS: Mapping[str, str] = {
    "공": "koŋ", "영": "jʌŋ", "일": "il", "이": "iː", "삼": "sam", "사": "sa", "오": "oː", "육": "juk",
    "칠": "ʨʰil", "팔": "pʰal", "구": "ku",
}  # fmt: skip


def number_readings(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """How the numbers written in ``text`` may be read out: ``(digit by digit, as cardinals)``.

    Only numbers of two digits or more (a one-syllable reading has nothing to link inside it).
    """
    digits_read: set[str] = set()
    cardinals: set[str] = set()
    for m in _NUMBER.finditer(text):
        digits = m.group().replace(",", "")
        if len(digits) < 2:
            continue
        digits_read.update({read_digits(digits), read_digits(digits, zero="영")})
        cardinals.add(read_sino(int(digits)))
    return frozenset(digits_read), frozenset(r for r in cardinals if len(r.replace(" ", "")) >= 2)


def number_pronunciation(syllables: str) -> str:
    """The spoken Hangul of a cardinal number read out (and of the particle after it in its word).

    ``syllables`` is Hangul with spaces between words (``이천이십오``); the result has the same
    number of syllables and spaces (``이처니시보``). See the module docstring for the rules.
    """
    chars = list(syllables)
    idx = [i for i, ch in enumerate(chars) if ch != " "]
    parts = [list(split_syllable(chars[i])) for i in idx]
    for k in range(len(parts) - 1):
        left, right = parts[k], parts[k + 1]
        if " " in syllables[idx[k] : idx[k + 1]]:
            continue  # separate words: read apart
        coda = left[2]
        if not coda:
            continue
        if right[0] == "ㅇ" and right[1] == "ㅠ" and right[2] == "ㄱ":  # 육 after a final: [뉵]/[륙]
            right[0] = "ㄹ" if coda == "ㄹ" else "ㄴ"
            left[2] = _NASAL.get(coda, coda)
        elif right[0] == "ㅇ" and coda != "ㅇ":  # a final links to a vowel
            right[0], left[2] = coda, ""
        elif right[0] in _TENSE and (coda in ("ㄱ", "ㅂ") or (coda == "ㄹ" and right[0] in "ㄷㅅㅈ")):
            right[0] = _TENSE[right[0]]
    for i, (onset, vowel, coda) in zip(idx, parts, strict=True):
        chars[i] = join_syllable(onset, vowel, coda)
    return "".join(chars)


def _starts_with(word: str, readings: frozenset[str]) -> str:
    """The longest reading ``word`` starts with ("" when none)."""
    return max((r for r in readings if word.startswith(r)), key=len, default="")


def _phrase_symbols(part: str, readings: tuple[frozenset[str], frozenset[str]], kiwi: Kiwi | None) -> str:
    """One stretch between punctuation marks (normalised Hangul) → Kokoro symbols.

    The groups of a phone number (two or more words in a row that begin with digits read one by
    one: 1577-0199) are spoken digit by digit (``DIGIT_SYMBOLS``), the last digit linked to its
    particle, with a short pause between groups. A single group (a hotline: 109, 1388) and a
    cardinal (이천이십오) are pronounced by ``number_pronunciation``; every other word by the
    standard pronunciation of the phrase (read with ``kiwi``, as in ``g2p.pronounce``).
    """
    digits_read, cardinals = readings
    words = part.split()
    hangul = pronounce(part, kiwi).hangul.split()
    if len(hangul) != len(words):  # g2p kept every syllable and space; if not, speak it plainly
        return ipa_to_kokoro(hangul_to_ipa_symbols(pronounce(part, kiwi).hangul))
    out: list[str] = []
    ordinary: list[str] = []
    previous_digits = False

    def flush() -> None:
        if ordinary:
            out.append(ipa_to_kokoro(hangul_to_ipa_symbols(" ".join(ordinary))))
            ordinary.clear()

    digit_words = [_starts_with(word, digits_read) for word in words]
    for k, (word, spoken) in enumerate(zip(words, hangul, strict=True)):
        digits = digit_words[k]
        # Groups of one number are bare digits followed by digits (1577-0199: 일오칠칠 공일구구예요);
        # 112나 119에 are two numbers.
        grouped = bool(digits) and (
            (k > 0 and bool(digit_words[k - 1]) and words[k - 1] == digit_words[k - 1])
            or (k + 1 < len(words) and bool(digit_words[k + 1]) and word == digits)
        )
        if grouped:  # one group of a phone number: digit by digit, a pause before the next group
            flush()
            tail = number_pronunciation(word[len(digits) - 1 :])  # the last digit with its particle
            symbols = [DIGIT_SYMBOLS[d] for d in digits[:-1]]
            last = DIGIT_SYMBOLS[digits[-1]] if len(tail) == 1 else ipa_to_kokoro(hangul_to_ipa_symbols(tail))
            if previous_digits and out:
                out[-1] += ","
            out.append(" ".join([*symbols, last]))
            previous_digits = True
            continue
        previous_digits = False
        # A hotline (one group) or a cardinal: linked as a number, never with an added ㄴ.
        ordinary.append(number_pronunciation(word) if digits or _starts_with(word, cardinals) else spoken)
    flush()
    return " ".join(out)


def kokoro_phonemes(text: str, kiwi: Kiwi | None = None) -> str:
    """Korean text (one sentence or more, as written) → Kokoro symbols with its punctuation.

    ``kiwi`` reads the morphology of the standard pronunciation: the synthesizer's (its
    ``Pipeline``'s); ``shared_kiwi()`` of ``pipeline.text.morphology`` when None.

    Example: ``kokoro_phonemes("109에 전화해 주세요.")`` reads the hotline digit by digit
    (일 공 구에) and gives ``"il koŋ kue ʨʌnhwahɛ ʨusejo."``.
    """
    pieces: list[str] = []
    readings = number_readings(text)
    for part in _PUNCT.split(normalize(text)):
        if not part.strip():
            continue
        if _PUNCT.fullmatch(part):
            if pieces and pieces[-1] not in ".,?!":
                pieces.append(part)
            continue
        phonemes = _phrase_symbols(part.strip(), readings, kiwi)
        if phonemes:
            pieces.append(phonemes)
    joined = ""
    for piece in pieces:
        if piece in ".,?!":
            joined += piece
        else:
            joined += (" " if joined else "") + piece
    return joined[:MAX_SYMBOLS].strip()


def encode(phonemes: str, vocab: Mapping[str, int]) -> list[int]:
    """Kokoro symbols → token ids (symbols missing from ``vocab`` are dropped)."""
    return [vocab[ch] for ch in phonemes if ch in vocab]
