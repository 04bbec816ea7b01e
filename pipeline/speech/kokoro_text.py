"""Text front end for the Kokoro synthesizer: Korean text → Kokoro phoneme symbols.

Kokoro-82M was trained on IPA-like symbols (its ``vocab.json``) but has no Korean voice. Fed the
*standard pronunciation* of a sentence in Kokoro's own symbols, its Japanese voices speak
understandable Korean with a Japanese accent. The steps:

1. ``pipeline.text.normalize.normalize`` reads numbers, hotlines (109 → 일공구), dates and Latin letters
   out in Hangul and leaves only ``. , ? !`` as punctuation;
2. each stretch between punctuation marks goes through ``pipeline.pronunciation.g2p.pronounce``
   (표준발음법: liaison, nasalisation, tensing…) and ``pipeline.pronunciation.ipa``;
3. every IPA symbol is rewritten with ``KOKORO_SYMBOLS``, a table (data, not code) that holds what a
   symbol becomes in its plain position and between two voiced sounds of the same word:

   * lenis stops and the affricate are voiced between voiced sounds (아기 ``aɡi``, 바다 ``pada``
     → ``bada`` only inside the word);
   * tense consonants are a glottal stop before the plain consonant (빠 ``ʔpa``), which Kokoro
     renders as the tight, unaspirated onset Korean has;
   * aspirates keep ``ʰ``; unreleased finals lose the diacritic Kokoro does not know;
   * ㄹ is a flap ``ɾ`` as an initial and a lateral ``l`` as a final (as ``ipa`` already marks);
   * ㅅ/ㅆ before ``i``/``j`` are alveolo-palatal (``ɕ``), see ``BEFORE_I``.

Punctuation is kept: Kokoro pauses at commas and falls or rises at ``.`` and ``?``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pipeline.pronunciation.g2p import pronounce
from pipeline.pronunciation.ipa import WORD_BOUNDARY, hangul_to_ipa_symbols
from pipeline.text.normalize import normalize

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


def kokoro_phonemes(text: str) -> str:
    """Korean text (one sentence or more, as written) → Kokoro symbols with its punctuation.

    Example: ``kokoro_phonemes("109에 전화해 주세요.")`` reads the hotline digit by digit
    (일공구에) and gives ``"ilɡoŋɡue ʨʌnhwahɛ ʨusejo."``.
    """
    pieces: list[str] = []
    for part in _PUNCT.split(normalize(text)):
        if not part.strip():
            continue
        if _PUNCT.fullmatch(part):
            if pieces and pieces[-1] not in ".,?!":
                pieces.append(part)
            continue
        phonemes = ipa_to_kokoro(hangul_to_ipa_symbols(pronounce(part).hangul))
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
