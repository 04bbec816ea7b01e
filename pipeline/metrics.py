"""Recognition error rates, computed the same way everywhere (tests, benchmarks, evaluations).

Korean character error rate is measured on Hangul/letters/digits only: spaces and punctuation
are removed first, because Korean spacing varies between writers and Whisper's punctuation is
not something the client said.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import jiwer

_NOT_SPOKEN = re.compile(r"[^\w]|_", re.UNICODE)


def normalize_for_cer(text: str) -> str:
    """NFC, lowercase, without whitespace or punctuation."""
    return _NOT_SPOKEN.sub("", unicodedata.normalize("NFC", text).lower())


def cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Character error rate over a corpus: total edits / total reference characters."""
    refs = [normalize_for_cer(r) for r in references]
    hyps = [normalize_for_cer(h) for h in hypotheses]
    if not any(refs):
        raise ValueError("references are empty")
    edits = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        if not hyp:
            edits += len(ref)
        elif ref:
            edits += round(jiwer.cer(ref, hyp) * len(ref))
        else:
            edits += len(hyp)
    return edits / sum(len(r) for r in refs)


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Word (eojeol) error rate over a corpus, punctuation removed."""

    def words(text: str) -> str:
        return " ".join(normalize_for_cer(w) for w in text.split() if normalize_for_cer(w))

    return float(jiwer.wer([words(r) for r in references], [words(h) or "" for h in hypotheses]))


def read_transcripts(folder: str | Path) -> list[tuple[Path, str]]:
    """(audio path, transcript) for each row of ``folder/transcripts.tsv``.

    Every evaluation set here has this layout: a TSV with ``file`` and ``transcript`` columns and
    the audio under ``folder/audio/``.
    """
    folder = Path(folder)
    with open(folder / "transcripts.tsv", encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(folder / "audio" / row["file"], row["transcript"]) for row in rows if row.get("file")]
