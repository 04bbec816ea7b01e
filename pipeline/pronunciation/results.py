"""What a pronunciation attempt gives back: per-syllable verdicts, scores, timing and evidence.

Frozen dataclasses only (no scoring logic): ``PronunciationScorer`` in ``scoring.py`` builds
them, the acoustic-evidence backend returns ``TextEvidence``, and the practice API serialises
``PronunciationScore.as_dict()``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TextEvidence:
    """One text force-read over a recording.

    Attributes:
        probabilities: per character of the text, its syllable's probability (None for spaces).
        logprob: natural-log probability of the whole text (sum over its tokens).
    """

    probabilities: list[float | None]
    logprob: float


@dataclass(frozen=True)
class Fluency:
    """Timing of the recording.

    Attributes:
        speech_s: from the first to the last speech, in seconds.
        rate_sps: syllables heard per second of speaking (long pauses left out).
        long_pauses: how many silences of at least ``LONG_PAUSE_S`` fell between speech.
        pause_s: their total length, in seconds.
        score: 0–100.
    """

    speech_s: float
    rate_sps: float
    long_pauses: int
    pause_s: float
    score: float


@dataclass(frozen=True)
class SyllableScore:
    """The verdict on one syllable of the target.

    Attributes:
        index: character index in ``PronunciationScore.spoken`` (and ``expected_pronunciation``).
        word: index of the word (space-separated) it belongs to.
        spelled: the written syllable.
        expected: its standard pronunciation (Hangul).
        expected_ipa: the same in IPA.
        heard: what was heard there (Hangul), "" when nothing.
        heard_ipa: the heard IPA symbols aligned to it.
        status: ``correct``, ``substituted`` or ``omitted`` (from the alignment).
        rating: ``good``, ``unsure``, ``wrong``, or ``unjudgeable`` when the recording was too
            unclear to judge (all evidence together; see ``judge_syllable``).
        probability: acoustic probability of the target syllable, None without acoustic evidence.
        score: 0–100.
        message: one Korean sentence on how it went.
        rules: labels of the pronunciation rules that shape this syllable ("제18항 비음화").
        explanation: the rule explanations for its word, in Korean.
        tip: how to say it better, in Korean ("" when it was good).
        said: whether it counts as said for completeness (heard with at least half its phonemes,
            or supported by the audio).
        reason: why it was not good: ``rule_not_applied``, ``substituted``, ``omitted``,
            ``unclear`` or ``unjudgeable`` ("" when good).
    """

    index: int
    word: int
    spelled: str
    expected: str
    expected_ipa: str
    heard: str
    heard_ipa: str
    status: str
    rating: str
    probability: float | None
    score: float
    message: str
    rules: tuple[str, ...] = ()
    explanation: tuple[str, ...] = ()
    tip: str = ""
    said: bool = True
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = dataclasses.asdict(self)
        data["rules"] = list(self.rules)
        data["explanation"] = list(self.explanation)
        data["probability"] = None if self.probability is None else round(self.probability, 3)
        return data


@dataclass(frozen=True)
class PronunciationScore:
    """Everything the learner gets back for one attempt (see the module docstring for scores)."""

    text: str
    spoken: str
    expected_pronunciation: str
    expected_ipa: str
    heard_text: str
    heard_pronunciation: str
    heard_ipa: str
    source: str  # "transcript" or "phonemes"
    accuracy: float
    completeness: float
    fluency: float
    overall: float
    syllables: tuple[SyllableScore, ...]
    insertions: tuple[dict[str, Any], ...]
    timing: Fluency
    rules: tuple[dict[str, Any], ...]
    summary: str
    acoustic: bool
    judgeable: bool = True
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: How the recording's quality limited the verdicts (``quality.AudioQuality.as_dict``).
    quality: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the practice API returns this)."""
        return {
            "text": self.text,
            "spoken": self.spoken,
            "expected": {"pronunciation": self.expected_pronunciation, "ipa": self.expected_ipa},
            "heard": {"text": self.heard_text, "pronunciation": self.heard_pronunciation, "ipa": self.heard_ipa},
            "source": self.source,
            "acoustic": self.acoustic,
            "judgeable": self.judgeable,
            "scores": {
                "accuracy": self.accuracy,
                "completeness": self.completeness,
                "fluency": self.fluency,
                "overall": self.overall,
            },
            "timing": {
                "speech_s": self.timing.speech_s,
                "rate_sps": self.timing.rate_sps,
                "long_pauses": self.timing.long_pauses,
                "pause_s": self.timing.pause_s,
            },
            "syllables": [s.as_dict() for s in self.syllables],
            "insertions": list(self.insertions),
            "rules": list(self.rules),
            "summary": self.summary,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "quality": dict(self.quality),
        }
