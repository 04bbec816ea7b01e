"""Korean phonemes in IPA: the symbol inventory and Hangul-pronunciation → IPA conversion.

The transcription is broad (phonemic) with the allophones that matter for feedback:

* Lax / tense / aspirated stops and affricates are three series: ``k k͈ kʰ``, ``t t͈ tʰ``,
  ``p p͈ pʰ``, ``tɕ tɕ͈ tɕʰ``; fricatives ``s s͈ h``. Tense consonants carry U+0348 (◌͈).
* Finals are unreleased: ㄱ ``k̚``, ㄷ ``t̚``, ㅂ ``p̚`` (after the standard pronunciation has reduced
  every final to one of the seven sounds ㄱㄴㄷㄹㅁㅂㅇ, 제8항). ㅇ is ``ŋ`` and only ever final.
* ㄹ is a flap ``ɾ`` as an initial and a lateral ``l`` as a final and as the second of ㄹㄹ.
* Vowels follow the standard's monophthongs (제4항): ㅐ ``ɛ``, ㅔ ``e``, ㅚ ``ø``, ㅟ ``y``;
  diphthongs are a glide symbol followed by a vowel symbol: ``j`` (ㅑㅒㅕㅖㅛㅠ), ``w`` (ㅘㅙㅝㅞ)
  and ``ɰ`` (ㅢ → ``ɰ i``).
* Not marked (they follow from context and Whisper-era phoneme models rarely separate them):
  voicing of lax stops between voiced sounds (ㄱ [ɡ] in 아기), ㅅ [ɕ] before i/j, ㅎ [ɦ] between
  vowels, vowel length.

``pipeline.pronunciation.g2p.to_ipa_symbols`` (text → symbols) returns one list of symbols with a
single ``" "`` (``WORD_BOUNDARY``, not in ``IPA_SYMBOLS``) between words; ``syllable_symbols`` keeps
the symbols of each syllable apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

WORD_BOUNDARY = " "

#: Onsets (initial consonants) in the Unicode Hangul order; ㅇ has no sound as an initial.
ONSETS: tuple[str, ...] = (
    "ㄱ", "ㄲ", "ㄴ", "ㄷ", "ㄸ", "ㄹ", "ㅁ", "ㅂ", "ㅃ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅉ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ",
)  # fmt: skip
#: Vowels (nuclei) in the Unicode Hangul order.
VOWELS: tuple[str, ...] = (
    "ㅏ", "ㅐ", "ㅑ", "ㅒ", "ㅓ", "ㅔ", "ㅕ", "ㅖ", "ㅗ", "ㅘ", "ㅙ", "ㅚ", "ㅛ", "ㅜ", "ㅝ", "ㅞ", "ㅟ", "ㅠ",
    "ㅡ", "ㅢ", "ㅣ",
)  # fmt: skip
#: Codas (final consonants) in the Unicode Hangul order; "" is no final.
CODAS: tuple[str, ...] = (
    "", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ", "ㅀ", "ㅁ", "ㅂ", "ㅄ",
    "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ",
)  # fmt: skip

#: The 19 consonants as initials (ㅇ: silent, so no symbol).
ONSET_IPA: dict[str, tuple[str, ...]] = {
    "ㄱ": ("k",), "ㄲ": ("k͈",), "ㅋ": ("kʰ",),
    "ㄷ": ("t",), "ㄸ": ("t͈",), "ㅌ": ("tʰ",),
    "ㅂ": ("p",), "ㅃ": ("p͈",), "ㅍ": ("pʰ",),
    "ㅈ": ("tɕ",), "ㅉ": ("tɕ͈",), "ㅊ": ("tɕʰ",),
    "ㅅ": ("s",), "ㅆ": ("s͈",), "ㅎ": ("h",),
    "ㄴ": ("n",), "ㅁ": ("m",), "ㄹ": ("ɾ",), "ㅇ": (),
}  # fmt: skip

#: The seven final sounds (제8항). Other codas are first reduced by the standard pronunciation;
#: ``coda_ipa`` also maps them, through their representative sound, for raw spellings.
CODA_IPA: dict[str, tuple[str, ...]] = {
    "": (), "ㄱ": ("k̚",), "ㄴ": ("n",), "ㄷ": ("t̚",), "ㄹ": ("l",), "ㅁ": ("m",), "ㅂ": ("p̚",), "ㅇ": ("ŋ",),
}  # fmt: skip

#: Representative sound of every coda before a consonant or at the end (제9–11항, the usual case).
CODA_REPRESENTATIVE: dict[str, str] = {
    "": "", "ㄱ": "ㄱ", "ㄲ": "ㄱ", "ㄳ": "ㄱ", "ㄴ": "ㄴ", "ㄵ": "ㄴ", "ㄶ": "ㄴ", "ㄷ": "ㄷ", "ㄹ": "ㄹ",
    "ㄺ": "ㄱ", "ㄻ": "ㅁ", "ㄼ": "ㄹ", "ㄽ": "ㄹ", "ㄾ": "ㄹ", "ㄿ": "ㅂ", "ㅀ": "ㄹ", "ㅁ": "ㅁ", "ㅂ": "ㅂ",
    "ㅄ": "ㅂ", "ㅅ": "ㄷ", "ㅆ": "ㄷ", "ㅇ": "ㅇ", "ㅈ": "ㄷ", "ㅊ": "ㄷ", "ㅋ": "ㄱ", "ㅌ": "ㄷ", "ㅍ": "ㅂ",
    "ㅎ": "ㄷ",
}  # fmt: skip

#: The 21 vowels: monophthongs as one symbol, diphthongs as glide + vowel.
VOWEL_IPA: dict[str, tuple[str, ...]] = {
    "ㅏ": ("a",), "ㅐ": ("ɛ",), "ㅓ": ("ʌ",), "ㅔ": ("e",), "ㅗ": ("o",), "ㅜ": ("u",), "ㅡ": ("ɯ",), "ㅣ": ("i",),
    "ㅚ": ("ø",), "ㅟ": ("y",),
    "ㅑ": ("j", "a"), "ㅒ": ("j", "ɛ"), "ㅕ": ("j", "ʌ"), "ㅖ": ("j", "e"), "ㅛ": ("j", "o"), "ㅠ": ("j", "u"),
    "ㅘ": ("w", "a"), "ㅙ": ("w", "ɛ"), "ㅝ": ("w", "ʌ"), "ㅞ": ("w", "e"),
    "ㅢ": ("ɰ", "i"),
}  # fmt: skip


def _inventory() -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for table in (ONSET_IPA, CODA_IPA, VOWEL_IPA):
        for symbols in table.values():
            for symbol in symbols:
                seen.setdefault(symbol, None)
    return tuple(seen)


#: Every phoneme symbol the conversion can produce (36): 20 consonants as initials and finals
#: (incl. ŋ and the ɾ/l pair), 3 unreleased finals, 10 monophthongs, 3 glides.
IPA_SYMBOLS: tuple[str, ...] = _inventory()

CONSONANT_SYMBOLS: frozenset[str] = frozenset(
    s for table in (ONSET_IPA, CODA_IPA) for symbols in table.values() for s in symbols
)
GLIDE_SYMBOLS: frozenset[str] = frozenset({"j", "w", "ɰ"})
VOWEL_SYMBOLS: frozenset[str] = frozenset(s for symbols in VOWEL_IPA.values() for s in symbols) - GLIDE_SYMBOLS

_BASE = 0xAC00
_LAST = 0xD7A3


def is_hangul_syllable(char: str) -> bool:
    """Whether ``char`` is one precomposed Hangul syllable (가–힣)."""
    return len(char) == 1 and _BASE <= ord(char) <= _LAST


def split_syllable(char: str) -> tuple[str, str, str]:
    """One Hangul syllable → (onset, vowel, coda) as compatibility jamo; coda "" when none."""
    if not is_hangul_syllable(char):
        raise ValueError(f"not a Hangul syllable: {char!r}")
    index = ord(char) - _BASE
    return ONSETS[index // 588], VOWELS[(index % 588) // 28], CODAS[index % 28]


def join_syllable(onset: str, vowel: str, coda: str = "") -> str:
    """(onset, vowel, coda) compatibility jamo → one Hangul syllable."""
    try:
        return chr(_BASE + ONSETS.index(onset) * 588 + VOWELS.index(vowel) * 28 + CODAS.index(coda))
    except ValueError:
        raise ValueError(f"not a valid syllable: {onset!r} {vowel!r} {coda!r}") from None


def coda_ipa(coda: str) -> tuple[str, ...]:
    """IPA of a final consonant (through its representative sound when it is not one of the seven)."""
    return CODA_IPA[CODA_REPRESENTATIVE[coda]]


def syllable_ipa(char: str, previous_coda: str = "") -> tuple[str, ...]:
    """IPA symbols of one *pronounced* Hangul syllable.

    Args:
        char: the syllable as pronounced (output of ``pipeline.pronunciation.g2p``).
        previous_coda: the final consonant just before it in the same word; ㄹ there makes an
            initial ㄹ lateral (ㄹㄹ → ``l l``) instead of a flap.
    """
    onset, vowel, coda = split_syllable(char)
    initial = ("l",) if onset == "ㄹ" and previous_coda == "ㄹ" else ONSET_IPA[onset]
    return (*initial, *VOWEL_IPA[vowel], *coda_ipa(coda))


def syllable_symbols(pronounced: str) -> list[tuple[str, ...]]:
    """IPA symbols per syllable of a pronounced Hangul string; spaces become ``(" ",)``.

    Characters that are not Hangul syllables (other than spaces) are skipped.
    """
    out: list[tuple[str, ...]] = []
    previous_coda = ""
    for char in pronounced:
        if char.isspace():
            if out and out[-1] != (WORD_BOUNDARY,):
                out.append((WORD_BOUNDARY,))
            previous_coda = ""
            continue
        if not is_hangul_syllable(char):
            continue
        out.append(syllable_ipa(char, previous_coda))
        previous_coda = split_syllable(char)[2]
    while out and out[-1] == (WORD_BOUNDARY,):
        out.pop()
    return out


def hangul_to_ipa_symbols(pronounced: str) -> list[str]:
    """Pronounced Hangul (already through the standard pronunciation) → flat IPA symbol list."""
    return [symbol for syllable in syllable_symbols(pronounced) for symbol in syllable]


def ipa_string(symbols: Iterable[str]) -> str:
    """Symbols → one IPA string (symbols concatenated, word boundaries kept as single spaces)."""
    text = "".join(symbols)
    return " ".join(text.split())


def split_ipa(ipa: str) -> list[str]:
    """An IPA string made by ``ipa_string`` → symbols again (longest match; spaces become ``" "``)."""
    by_length = sorted(IPA_SYMBOLS, key=len, reverse=True)
    out: list[str] = []
    i = 0
    while i < len(ipa):
        if ipa[i].isspace():
            if out and out[-1] != WORD_BOUNDARY:
                out.append(WORD_BOUNDARY)
            i += 1
            continue
        for symbol in by_length:
            if ipa.startswith(symbol, i):
                out.append(symbol)
                i += len(symbol)
                break
        else:
            raise ValueError(f"unknown IPA symbol at {i} in {ipa!r}")
    return out


def is_vowel_symbol(symbol: str) -> bool:
    """Whether an IPA symbol is a vowel (glides count as consonant-like)."""
    return symbol in VOWEL_SYMBOLS


def symbols_of(syllables: Sequence[tuple[str, ...]]) -> list[str]:
    """Flatten per-syllable symbols."""
    return [s for syl in syllables for s in syl]


_CODA_FROM_IPA = {"k̚": "ㄱ", "t̚": "ㄷ", "p̚": "ㅂ", "n": "ㄴ", "l": "ㄹ", "m": "ㅁ", "ŋ": "ㅇ",
                  "k": "ㄱ", "t": "ㄷ", "p": "ㅂ", "ɾ": "ㄹ"}  # fmt: skip
_ONSET_FROM_IPA = {symbols[0]: jamo for jamo, symbols in ONSET_IPA.items() if symbols}
_ONSET_FROM_IPA.update({"l": "ㄹ", "k̚": "ㄱ", "t̚": "ㄷ", "p̚": "ㅂ"})
_VOWEL_FROM_IPA = {symbols: jamo for jamo, symbols in VOWEL_IPA.items()}


def syllabify_ipa(symbols: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Group a heard IPA symbol sequence into syllables: ``[(hangul, symbols), …]``.

    For recogniser output that has no Hangul: each vowel (with its glide) is a nucleus, one
    consonant before it is its initial, and a consonant not followed by a vowel is a final.
    The Hangul is a best reading ("" for a stray consonant that fits no syllable).
    """
    seq = [s for s in symbols if s != WORD_BOUNDARY]
    out: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(seq):
        start = i
        onset = ""
        if seq[i] not in VOWEL_SYMBOLS and seq[i] not in GLIDE_SYMBOLS:
            nxt = seq[i + 1] if i + 1 < len(seq) else ""
            if nxt in VOWEL_SYMBOLS or nxt in GLIDE_SYMBOLS:
                onset = _ONSET_FROM_IPA.get(seq[i], "")
                i += 1
            else:  # a consonant with no vowel after it: a final of nothing
                coda = _CODA_FROM_IPA.get(seq[i], "")
                out.append((join_syllable("ㅇ", "ㅡ", coda) if coda else "", [seq[i]]))
                i += 1
                continue
        nucleus: tuple[str, ...] = ()
        if i < len(seq) and seq[i] in GLIDE_SYMBOLS and i + 1 < len(seq) and seq[i + 1] in VOWEL_SYMBOLS:
            nucleus = (seq[i], seq[i + 1])
            i += 2
        elif i < len(seq) and seq[i] in VOWEL_SYMBOLS:
            nucleus = (seq[i],)
            i += 1
        elif i < len(seq):  # a lone glide
            nucleus = {"j": ("i",), "w": ("u",), "ɰ": ("ɯ",)}[seq[i]]
            i += 1
        vowel = _VOWEL_FROM_IPA.get(nucleus) or _VOWEL_FROM_IPA.get(nucleus[-1:], "ㅡ")
        coda = ""
        if i < len(seq) and seq[i] in _CODA_FROM_IPA:
            after = seq[i + 1] if i + 1 < len(seq) else ""
            if after not in VOWEL_SYMBOLS and after not in GLIDE_SYMBOLS:
                coda = _CODA_FROM_IPA[seq[i]]
                i += 1
        out.append((join_syllable(onset or "ㅇ", vowel, coda), seq[start:i]))
    return [(text, tuple(syms)) for text, syms in out]
