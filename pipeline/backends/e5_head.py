"""The ``e5-head`` emotion classifier: e5 query embedding (+ character n-grams) → trained head → seven scores.

The head itself (``E5Head``, its ``.npz`` format and the character n-gram part) lives in
``pipeline.text.e5_head``, because the risk assessor's head (``pipeline.care.assessor``) is the same
machinery with other labels.
"""

from __future__ import annotations

import time

from pipeline.settings import Settings
from pipeline.text.e5 import E5Embedder, shared_embedder
from pipeline.text.e5_head import E5Head, default_head_path
from pipeline.text.emotion_labels import emotions_from_probabilities
from pipeline.types import EMOTION_LABELS, Emotion


class EmotionHead(E5Head):
    """The seven-emotion head of the ``e5-head`` classifier; ``probabilities`` are in ``EMOTION_LABELS`` order."""

    output_labels = EMOTION_LABELS
    kind = "emotion head"


class E5HeadClassifier:
    """``EmotionClassifier``: e5 query embedding (+ character n-grams) → trained head → seven scores."""

    name = "e5-head"

    def __init__(self, settings: Settings, *, embedder: E5Embedder | None = None) -> None:
        """Load the head (``emotion_head``, else the shipped one) onto ``embedder`` (else ``shared_embedder()``)."""
        self.head = EmotionHead.load(settings.emotion_head or default_head_path())
        self.embedder = embedder or shared_embedder()

    def classify(self, text: str) -> Emotion:
        """One sentence → its ``Emotion`` (label, seven scores summing to 1, latency)."""
        return self.classify_batch([text])[0]

    def classify_batch(self, texts: list[str]) -> list[Emotion]:
        """Several sentences at once; ``latency_ms`` is the mean per sentence."""
        start = time.perf_counter()
        probs = self.head.probabilities(self.embedder.embed_queries(texts), texts)
        latency_ms = (time.perf_counter() - start) * 1000.0 / max(1, len(texts))
        return emotions_from_probabilities(probs, latency_ms)
