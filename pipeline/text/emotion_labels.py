"""Label names of externally trained emotion models, mapped onto Maum's seven labels.

A fine-tuned BERT folder names its outputs in ``config.json`` (``id2label``); a Keras model in a
sidecar file. Either may use the English names (``sadness``) or the Korean ones (``슬픔``) of the
original design's corpus. ``label_order`` checks once, at load time, that the model's outputs are
exactly the seven emotions, so a wrong folder fails before the first client turn instead of
giving wrong feelings. No torch or TensorFlow here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np

from pipeline.errors import ModelFilesError
from pipeline.types import EMOTION_LABELS, EMOTION_NAMES_KO, Emotion

#: Every accepted spelling (lowercase English or Korean) → the label Maum uses.
LABEL_ALIASES: dict[str, str] = {
    **{label: label for label in EMOTION_LABELS},
    **{korean: label for label, korean in EMOTION_NAMES_KO.items()},
}


def canonical_label(name: object) -> str | None:
    """Maum's label for a model's or a data file's label name, or None when it is not one of the seven.

    ``"Sadness"``, ``" sadness "`` and ``"슬픔"`` all give ``"sadness"``.
    """
    key = unicodedata.normalize("NFC", str(name)).strip().lower()
    return LABEL_ALIASES.get(key)


def label_order(names: Sequence[object], where: str) -> np.ndarray:
    """For each output of a model (in output order), the index of its label in ``EMOTION_LABELS``.

    Args:
        names: the model's label name per output index.
        where: the model's path, for the error message.

    Returns:
        (7,) int array: ``order[j]`` is the ``EMOTION_LABELS`` index of output ``j`` (pass it to
        ``reorder``).

    Raises:
        ModelFilesError: the names are not exactly the seven emotions, once each.
    """
    mapped = [canonical_label(name) for name in names]
    expected = ", ".join(f"{label}/{EMOTION_NAMES_KO[label]}" for label in EMOTION_LABELS)
    problems = []
    unknown = [str(name) for name, label in zip(names, mapped, strict=True) if label is None]
    if unknown:
        problems.append(f"unknown label names {unknown}")
    known = [label for label in mapped if label is not None]
    duplicates = sorted({label for label in known if known.count(label) > 1})
    if duplicates:
        problems.append(f"labels named twice {duplicates}")
    missing = [label for label in EMOTION_LABELS if label not in known]
    if missing:
        problems.append(f"missing labels {missing}")
    if problems:
        raise ModelFilesError(
            detail=(
                f"emotion model {where}: its {len(names)} output labels {[str(n) for n in names]} do not map to "
                f"the seven emotions ({'; '.join(problems)}). Expected each of {expected} exactly once, in any "
                "order, English or Korean; fix id2label/labels or fine-tune with training/finetune_emotion_bert.py"
            )
        )
    return np.asarray([EMOTION_LABELS.index(label) for label in mapped], dtype=np.int64)


def reorder(probs: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(n, 7) probabilities in a model's output order → (n, 7) in ``EMOTION_LABELS`` order."""
    probs = np.asarray(probs)
    out = np.empty_like(probs)
    out[:, order] = probs
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (n, k) logits, numerically stable, float64."""
    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max(axis=1, keepdims=True)
    p = np.exp(x)
    return p / p.sum(axis=1, keepdims=True)


def emotions_from_probabilities(probs: np.ndarray, latency_ms: float) -> list[Emotion]:
    """One ``Emotion`` per row of (n, 7) probabilities in ``EMOTION_LABELS`` order."""
    results = []
    for row in probs:
        scores = {label: round(float(p), 4) for label, p in zip(EMOTION_LABELS, row, strict=True)}
        results.append(Emotion(label=EMOTION_LABELS[int(np.argmax(row))], scores=scores, latency_ms=latency_ms))
    return results
