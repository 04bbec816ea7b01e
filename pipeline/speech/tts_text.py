"""Text front end for the Tacotron synthesizer: Korean text → jamo symbol ids.

Text is first read out by ``pipeline.text.normalize.normalize`` (numbers, symbols and Latin letters in
Hangul), then each Hangul syllable is split into its leading consonant, vowel and optional
trailing consonant with the ``jamo`` package (conjoining jamo U+1100…U+11FF). Trailing consonants
get their own symbols, distinct from the leading ones: ㄱ in 가 and in 각 are different symbols,
as they are different sounds.

The symbol table is saved in every checkpoint and ``TextEncoder`` is rebuilt from it, so a model
keeps working if the default table here changes later.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import jamo

from pipeline.text.normalize import normalize

PAD = "_"  # id 0: padding
EOS = "~"  # id 1: end of the sentence
SPACE = " "
PUNCTUATION = "!,.?"
LEADS = tuple(jamo.JAMO_LEADS_MODERN)  # 19 initial consonants, U+1100…U+1112
VOWELS = tuple(jamo.JAMO_VOWELS_MODERN)  # 21 vowels, U+1161…U+1175
TAILS = tuple(jamo.JAMO_TAILS_MODERN)  # 27 final consonants, U+11A8…U+11C2

#: The default symbol table: pad, end, space, punctuation, then every modern jamo.
SYMBOLS: tuple[str, ...] = (PAD, EOS, SPACE, *PUNCTUATION, *LEADS, *VOWELS, *TAILS)

# Punctuation outside the table that still marks a pause, and what it is read as.
_PUNCT_MAP = {";": ",", ":": ",", "…": ".", "·": ",", "、": ",", "。": ".", "！": "!", "？": "?", "，": ","}


def to_jamo(text: str) -> str:
    """Hangul syllables and compatibility jamo (ㅋ, ㅠ) → conjoining jamo; other characters unchanged."""
    out = []
    for ch in jamo.hangul_to_jamo(unicodedata.normalize("NFC", text)):
        if jamo.is_hcj(ch):
            position = "vowel" if "\u314f" <= ch <= "\u3163" else "lead"
            try:
                ch = jamo.hcj_to_jamo(ch, position)
            except jamo.InvalidJamoError:
                continue  # a cluster such as ㄳ has no leading form; nothing to read
        out.append(ch)
    return "".join(out)


class TextEncoder:
    """Korean text ↔ symbol ids for one symbol table.

    Args:
        symbols: the table; ``symbols[0]`` is padding and ``symbols[1]`` the end symbol.
    """

    def __init__(self, symbols: Sequence[str] = SYMBOLS) -> None:
        self.symbols = tuple(symbols)
        if len(self.symbols) < 3 or len(set(self.symbols)) != len(self.symbols):
            raise ValueError("a symbol table needs pad, end and at least one more symbol, all distinct")
        self._ids = {s: i for i, s in enumerate(self.symbols)}
        self.pad_id, self.eos_id = 0, 1

    def __len__(self) -> int:
        return len(self.symbols)

    def symbols_of(self, text: str, *, normalized: bool = False) -> list[str]:
        """The symbols ``text`` is read as (without the end symbol); unknown characters are dropped.

        Args:
            text: Korean text as written.
            normalized: ``text`` was already read out by ``normalize`` (or is jamo already).
        """
        if not normalized:
            text = normalize(text)
        out: list[str] = []
        for ch in to_jamo(text):
            ch = _PUNCT_MAP.get(ch, ch)
            if ch.isspace():
                ch = SPACE
            if ch not in self._ids or ch in (self.symbols[0], self.symbols[1]):
                continue
            if ch == SPACE and (not out or out[-1] == SPACE):
                continue
            out.append(ch)
        while out and out[-1] == SPACE:
            out.pop()
        return out

    def encode(self, text: str, *, normalized: bool = False) -> list[int]:
        """Text → symbol ids ending with the end symbol; ``[eos]`` alone when nothing is readable."""
        return [self._ids[s] for s in self.symbols_of(text, normalized=normalized)] + [self.eos_id]

    def decode(self, ids: Sequence[int]) -> str:
        """Symbol ids → text (jamo recomposed into syllables), pad and end symbols dropped."""
        chars = "".join(self.symbols[i] for i in ids if i not in (self.pad_id, self.eos_id))
        return unicodedata.normalize("NFC", chars)  # NFC recomposes leading + vowel (+ trailing) jamo
