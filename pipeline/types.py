"""Frozen data types passed between pipeline stages.

Units are in the field names: ``sample_rate`` in Hz, ``duration_s`` in seconds,
``latency_ms`` in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

#: One of the seven emotions (a type checker sees a misspelt label).
EmotionLabel = Literal["fear", "surprise", "anger", "sadness", "neutral", "happiness", "disgust"]

#: The seven emotion labels, in the order every score vector uses.
EMOTION_LABELS: tuple[EmotionLabel, ...] = get_args(EmotionLabel)

#: Korean names of the emotion labels, for people.
EMOTION_NAMES_KO: Mapping[str, str] = {
    "fear": "공포",
    "surprise": "놀람",
    "anger": "분노",
    "sadness": "슬픔",
    "neutral": "중립",
    "happiness": "행복",
    "disgust": "혐오",
}

#: How urgent a turn or a conversation is.
RiskLevel = Literal["none", "watch", "high"]

#: Risk levels, from least to most urgent.
RISK_LEVELS: tuple[RiskLevel, ...] = get_args(RiskLevel)

#: What kind of risk (``Risk.categories``).
RiskCategory = Literal[
    "suicide",
    "self_harm",
    "harm_to_others",
    "abuse",
    "child_at_risk",
    "school_violence",
    "medical",
    "imminent",
    "caregiver",
]

#: Risk categories (``Risk.categories``), in the order they are listed when several apply.
RISK_CATEGORIES: tuple[RiskCategory, ...] = get_args(RiskCategory)

#: What kind of reply the responder gave (``Reply.kind``).
ReplyKind = Literal[
    "empathy",
    "crisis",
    "greeting",
    "thanks",
    "goodbye",
    "identity",
    "listen",
    "fallback",
    "answer",  # an honest answer to a direct question (a person? recorded? hospital? what to do?)
    "screening",  # one screening question about suicide risk (pipeline/care/screening.py)
]

#: What kind of reply the responder gave.
REPLY_KINDS: tuple[ReplyKind, ...] = get_args(ReplyKind)

#: A stage's verb, as ``TurnResult.degraded`` and ``/readyz`` name it.
StageVerb = Literal["transcribe", "classify", "respond", "synthesize"]

#: How one syllable of a practice sentence was said (``pipeline.pronunciation.feedback``): ``unsure``
#: when the evidence is mixed, ``unjudgeable`` when the recording was too poor to judge.
Rating = Literal["good", "unsure", "wrong", "unjudgeable"]

#: The pronunciation ratings, from best to worst, then the one that is no judgement.
RATINGS: tuple[Rating, ...] = get_args(Rating)

#: How an expected syllable lines up with what was heard (``pipeline.pronunciation.alignment``).
AlignmentStatus = Literal["correct", "substituted", "omitted", "inserted"]

#: The alignment statuses.
ALIGNMENT_STATUSES: tuple[AlignmentStatus, ...] = get_args(AlignmentStatus)


@dataclass(frozen=True, eq=False)
class Audio:
    """Decoded speech.

    Attributes:
        samples: (time,) float32 mono in [-1, 1].
        sample_rate: Hz (16000 after ``pipeline.audio.decode``).
    """

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / float(self.sample_rate)


@dataclass(frozen=True)
class Segment:
    """A stretch of recognised speech with its timing in seconds."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """What the transcriber heard.

    Attributes:
        text: the whole transcript, stripped; empty when nothing was said.
        segments: the recognised stretches, in order.
        confidence: 0..1, the mean per-token probability (1.0 from fakes).
        latency_ms: wall time the transcriber took.
    """

    text: str
    segments: tuple[Segment, ...] = ()
    confidence: float = 1.0
    latency_ms: float = 0.0


@dataclass(frozen=True)
class Emotion:
    """Emotion of one utterance.

    Attributes:
        label: one of ``EMOTION_LABELS``.
        scores: probability per label, summing to 1, keyed by every label.
        latency_ms: wall time the classifier took.
    """

    label: EmotionLabel
    scores: Mapping[str, float]
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.label not in EMOTION_LABELS:
            raise ValueError(f"unknown emotion label {self.label!r}; expected one of {EMOTION_LABELS}")
        if set(self.scores) != set(EMOTION_LABELS):
            raise ValueError("emotion scores must have exactly the seven labels")


@dataclass(frozen=True)
class Risk:
    """Risk found in one utterance.

    Attributes:
        level: ``none``, ``watch`` or ``high``.
        reasons: the phrases that raised the level, as the client wrote them.
        categories: what kind of risk (``suicide``, ``self_harm``, ``harm_to_others``, ``abuse``).
    """

    level: RiskLevel = "none"
    reasons: tuple[str, ...] = ()
    categories: tuple[RiskCategory, ...] = ()

    def __post_init__(self) -> None:
        if self.level not in RISK_LEVELS:
            raise ValueError(f"unknown risk level {self.level!r}; expected one of {RISK_LEVELS}")


@dataclass(frozen=True)
class HistoryTurn:
    """One earlier exchange of the conversation, as the responder sees it."""

    user_text: str
    reply_text: str
    emotion: str = "neutral"
    reply_id: str = ""


@dataclass(frozen=True)
class Reply:
    """The answer to the client.

    Attributes:
        text: what Maum says, in Korean.
        kind: one of ``REPLY_KINDS``.
        reply_id: id of the curated reply used (empty for generated text); keeps
            replies from repeating within a conversation.
        latency_ms: wall time the responder took.
        fallback_reason: why a generating responder (``kogpt2``) gave a curated reply instead of
            its own (``high_risk``, ``no_text``, ``error``, ``timeout``, ``rejected: <rail>, …``);
            empty when the reply is what the configured responder itself chose.
        spoken_text: a short form for the voice (about 12 s at most) when ``text`` is long, such
            as a crisis reply with every number; empty means the voice speaks ``text``.
    """

    text: str
    kind: ReplyKind = "empathy"
    reply_id: str = ""
    latency_ms: float = 0.0
    fallback_reason: str = ""
    spoken_text: str = ""


@dataclass(frozen=True)
class Speech:
    """Synthesised speech.

    Attributes:
        wav: a complete RIFF/WAVE file, 16-bit PCM mono.
        sample_rate: Hz of that file.
        duration_s: its length in seconds.
        latency_ms: wall time the synthesizer took.
    """

    wav: bytes
    sample_rate: int
    duration_s: float
    latency_ms: float = 0.0


@dataclass(frozen=True)
class TurnResult:
    """Everything one client turn produced, with per-stage timings in ms.

    Attributes:
        synthesis_error: the error code when speech synthesis failed (``speech`` is then None).
        degraded: the stages (``classify``, ``respond``, ``synthesize``) that failed after risk was
            assessed and were replaced by their fallback: neutral emotion, the safety-net reply, no speech.

    ``risk`` is the turn's risk in the context of the conversation; ``care_state`` is the
    conversation's ``pipeline.care.conversation.CareState`` after this turn (its risk level,
    screening answers and remembered facts), to be stored and passed to the next turn.
    """

    transcript: Transcript
    risk: Risk
    emotion: Emotion
    reply: Reply
    speech: Speech | None
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    synthesis_error: str = ""
    degraded: tuple[StageVerb, ...] = ()
    care_state: Any = None
