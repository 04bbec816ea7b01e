"""Output vocabularies of the CTC speech recognisers: Hangul syllables, jamo, or IPA symbols.

A ``Vocabulary`` turns text into unit indices for training and indices back into text for
recognition. Index 0 is always the CTC blank. Kinds:

- ``syllable``: one unit per character (Hangul syllables, digits, Latin letters), plus the space
  between words; about 2,000 units on KsponSpeech.
- ``jamo``: Hangul syllables split into conjoining jamo (initial, vowel and final consonants are
  different units: U+1100…U+11FF), so ~70 units cover every syllable; decoding recomposes them
  with Unicode NFC.
- ``ipa``: the 36 IPA phoneme symbols of the pronunciation module (``pipeline.pronunciation.ipa``);
  text is turned into symbols by ``pipeline.pronunciation.g2p.to_ipa_symbols``, so targets follow the standard
  pronunciation (표준발음법). Word boundaries are dropped.

Vocabularies are plain data (``to_dict``/``from_dict``) and travel inside checkpoints.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BLANK = "<blank>"
KINDS = ("syllable", "jamo", "ipa")

# Punctuation a transcript may carry that nobody says; "%" and "&" are read out, so they stay.
_SPOKEN_SYMBOLS = frozenset("%&")


def normalize_transcript(text: str) -> str:
    """NFC, lowercase Latin, no punctuation, single spaces: the text a character model learns to write."""
    text = unicodedata.normalize("NFC", text).lower()
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch.isspace() or cat[0] in "PC" and ch not in _SPOKEN_SYMBOLS:
            kept.append(" ")
        else:
            kept.append(ch)
    return " ".join("".join(kept).split())


def _ipa_module() -> Any:
    try:
        from pipeline.pronunciation import ipa
    except ImportError as exc:  # the pronunciation package is part of this project
        raise ImportError(f"IPA vocabularies need pipeline.pronunciation.ipa: {exc}") from exc
    return ipa


def text_to_units(text: str, kind: str) -> list[str]:
    """Split ``text`` into the units of a ``kind`` vocabulary (before any lookup)."""
    if kind == "syllable":
        return list(normalize_transcript(text))
    if kind == "jamo":
        return list(unicodedata.normalize("NFD", normalize_transcript(text)))
    if kind == "ipa":
        from pipeline.pronunciation.g2p import to_ipa_symbols

        return [s for s in to_ipa_symbols(text) if s.strip()]
    raise ValueError(f"unknown vocabulary kind {kind!r}; valid: {', '.join(KINDS)}")


@dataclass(frozen=True)
class Vocabulary:
    """Units of a CTC output layer. ``tokens[0]`` is the blank.

    Attributes:
        kind: ``syllable``, ``jamo`` or ``ipa``.
        tokens: every unit, in output-index order.
    """

    kind: str
    tokens: tuple[str, ...]
    _index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown vocabulary kind {self.kind!r}; valid: {', '.join(KINDS)}")
        if not self.tokens or self.tokens[0] != BLANK:
            raise ValueError(f"a vocabulary starts with the blank {BLANK!r}")
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("vocabulary units must be unique")
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def blank_id(self) -> int:
        """The CTC blank's id: always 0."""
        return 0

    @classmethod
    def build(cls, kind: str, texts: Iterable[str], min_count: int = 1) -> Vocabulary:
        """Collect the units of ``texts`` (seen at least ``min_count`` times), most frequent first.

        An ``ipa`` vocabulary is always the pronunciation module's full symbol set, whatever
        ``texts`` hold, so that every IPA model has the same outputs.
        """
        if kind == "ipa":
            return cls.ipa()
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(text_to_units(text, kind))
        units = sorted((u for u, n in counts.items() if n >= min_count), key=lambda u: (-counts[u], u))
        return cls(kind, (BLANK, *units))

    @classmethod
    def ipa(cls) -> Vocabulary:
        """The IPA vocabulary: the blank and the 36 phoneme symbols of ``IPA_SYMBOLS``.

        Word boundaries are not units: nothing in the sound marks them, and pronunciation
        feedback compares phonemes only.
        """
        return cls("ipa", (BLANK, *_ipa_module().IPA_SYMBOLS))

    def units(self, text: str) -> list[str]:
        """``text`` as units of this vocabulary (unknown units included)."""
        return text_to_units(text, self.kind)

    def encode(self, text: str) -> list[int]:
        """Text → unit indices; units the vocabulary lacks are left out (see ``unknown_units``)."""
        return self.encode_units(self.units(text))

    def encode_units(self, units: Sequence[str]) -> list[int]:
        """Units (e.g. IPA symbols prepared beforehand) → indices, unknown ones left out."""
        return [self._index[u] for u in units if u in self._index and u != BLANK]

    def unknown_units(self, text: str) -> list[str]:
        """The units of ``text`` this vocabulary cannot write."""
        return [u for u in self.units(text) if u not in self._index]

    def decode_units(self, ids: Iterable[int]) -> list[str]:
        """Indices → units, blanks dropped."""
        return [self.tokens[i] for i in ids if i != 0]

    def decode(self, ids: Iterable[int]) -> str:
        """Indices → text: syllables as written, jamo recomposed, IPA symbols run together."""
        units = self.decode_units(ids)
        text = "".join(units)
        if self.kind == "jamo":
            text = unicodedata.normalize("NFC", text)
        return " ".join(text.split())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for checkpoints and ``vocab.json``."""
        return {"kind": self.kind, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        """Rebuild from ``to_dict`` output."""
        return cls(str(data["kind"]), tuple(str(t) for t in data["tokens"]))


def unit_error_rate(references: Sequence[Sequence[str]], hypotheses: Sequence[Sequence[str]]) -> float:
    """Edit distance over unit sequences / reference units (the phoneme error rate for IPA)."""
    # rapidfuzz comes with jiwer (pinned); its Levenshtein works on any sequence of hashables.
    from rapidfuzz.distance import Levenshtein

    edits = total = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        edits += Levenshtein.distance(list(ref), list(hyp))
        total += len(ref)
    if total == 0:
        raise ValueError("references are empty")
    return edits / total
