"""The fake emotion classifier for tests and UI work: no model; a cue word in the text picks the emotion.

Registered as ``fake`` in ``pipeline/registry.py``; tests ask for an emotion by saying its cue.
"""

from __future__ import annotations

from pipeline.settings import Settings
from pipeline.types import EMOTION_LABELS, Emotion

# Words that steer the fake classifier, so tests can ask for an emotion by saying it.
_FAKE_CUES = {
    "fear": ("무서", "불안", "걱정"),
    "surprise": ("놀랐", "깜짝"),
    "anger": ("화가", "짜증"),
    "sadness": ("슬퍼", "우울", "외로"),
    "happiness": ("기뻐", "행복", "좋아"),
    "disgust": ("역겨", "더러"),
}


class FakeClassifier:
    """Picks the emotion whose cue word appears in the text, else neutral."""

    name = "fake"

    def __init__(self, settings: Settings) -> None:
        pass

    def classify(self, text: str) -> Emotion:
        """The first emotion whose cue word appears in ``text`` (``neutral`` otherwise), scored 0.7."""
        label = next((lab for lab, cues in _FAKE_CUES.items() if any(c in text for c in cues)), "neutral")
        scores = {lab: (0.7 if lab == label else 0.05) for lab in EMOTION_LABELS}
        return Emotion(label=label, scores=scores)
