"""Emotion classification with a Keras text classifier trained in TensorFlow (the ``keras`` classifier).

The original team trained its emotion models in TensorFlow; this backend serves such a model.
It needs the ``tensorflow`` extra (``pip install "maum[tensorflow]"``), imported only when this
backend is chosen, so the default app never loads TensorFlow.

Expected files (``MAUM_KERAS_EMOTION_MODEL=/models/emotion.keras``):

* ``emotion.keras``: a model saved with ``model.save("emotion.keras")`` (Keras 3 format) whose
  output is (batch, 7) probabilities (softmax) or logits. Its input is either

  - raw text: a ``dtype="string"`` input of shape ``(None,)`` or ``(None, 1)``, with a
    ``TextVectorization`` layer inside the model (the simplest: the model reads sentences), or
  - token ids: an integer input of shape ``(None, sequence_length)``; the sidecar then carries
    the ``TextVectorization`` vocabulary and this backend rebuilds the layer to turn text into ids.

* ``emotion.json`` (same name, ``.json``), UTF-8::

      {
        "labels": ["공포", "놀람", "분노", "슬픔", "중립", "행복", "혐오"],   // one per output, in order
        "vocabulary": ["", "[UNK]", "너무", ...],      // only for id-input models: get_vocabulary()
        "sequence_length": 64,                        // only for id-input models
        "standardize": "lower_and_strip_punctuation",  // optional, TextVectorization's (null = none)
        "split": "whitespace",                        // optional, TextVectorization's
        "output": "auto"                              // optional: probabilities, logits or auto
      }

  ``labels`` are the seven emotions in English or Korean, in the model's output order; anything
  else fails at load time. ``output: auto`` treats rows that are in [0, 1] and sum to 1 as
  probabilities and applies a softmax otherwise.

Models load with ``safe_mode=True``: a file that needs arbitrary Python (``Lambda`` layers) is refused.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import MissingDependencyError, ModelFilesError
from pipeline.settings import Settings
from pipeline.text.emotion_labels import emotions_from_probabilities, label_order, reorder, softmax
from pipeline.types import Emotion

OUTPUT_KINDS = ("auto", "probabilities", "logits")


def sidecar_path(model_path: Path) -> Path:
    """``emotion.keras`` → ``emotion.json``."""
    return model_path.with_suffix(".json")


def _import_keras() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notices are not our logs
    try:
        import keras
    except ImportError as exc:
        raise MissingDependencyError(
            detail=f'classifier backend "keras" needs TensorFlow/Keras ({exc.name or exc}): '
            'run pip install "maum[tensorflow]"'
        ) from exc
    return keras


def read_sidecar(model_path: Path) -> dict:
    """The model's ``.json`` sidecar, checked for the fields this backend uses.

    Raises:
        ModelFilesError: missing or unreadable file, no ``labels``, or an unknown ``output``.
    """
    path = sidecar_path(model_path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFilesError(
            detail=f"{path}: cannot read the label file every Keras emotion model needs ({exc}); "
            "see pipeline/backends/keras_emotion.py for its format"
        ) from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("labels"), list):
        raise ModelFilesError(detail=f"{path}: needs a 'labels' list (one emotion per model output, in order)")
    if meta.get("output", "auto") not in OUTPUT_KINDS:
        raise ModelFilesError(detail=f"{path}: 'output' must be one of {OUTPUT_KINDS}")
    return meta


class KerasEmotionClassifier:
    """``EmotionClassifier`` over a saved Keras model (see the module docstring for the files).

    Raises:
        MissingDependencyError: TensorFlow/Keras is not installed.
        ModelFilesError: the files are missing or unreadable, the labels are not the seven
            emotions, or the model's input or output does not fit them.
    """

    name = "keras"

    def __init__(self, settings: Settings) -> None:
        if not settings.keras_emotion_model:
            raise ModelFilesError(detail="MAUM_KERAS_EMOTION_MODEL is empty: set it to a .keras file")
        path = Path(settings.keras_emotion_model).expanduser()
        if not path.is_file():
            raise ModelFilesError(detail=f"MAUM_KERAS_EMOTION_MODEL={str(path)!r}: no such file")
        meta = read_sidecar(path)
        self.order = label_order(meta["labels"], str(path))  # wrong labels fail before TensorFlow loads
        self.output_kind = meta.get("output", "auto")
        keras = _import_keras()
        try:
            self.model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # noqa: BLE001 - any failure here means the file is unusable
            raise ModelFilesError(detail=f"cannot load Keras model {path}: {exc}") from exc
        if len(self.model.inputs) != 1 or len(self.model.outputs) != 1:
            raise ModelFilesError(detail=f"{path}: the model must have one input and one output")
        outputs = self.model.outputs[0].shape[-1]
        if outputs != len(self.order):
            raise ModelFilesError(detail=f"{path}: {outputs} outputs but {len(self.order)} labels in the sidecar")
        model_input = self.model.inputs[0]
        self.input_rank = len(model_input.shape)
        self.vectorizer = None
        if "string" not in str(model_input.dtype):
            if not meta.get("vocabulary") or not meta.get("sequence_length"):
                raise ModelFilesError(
                    detail=f"{path}: the model takes token ids, so its sidecar needs 'vocabulary' and "
                    "'sequence_length' (or save the model with its TextVectorization layer inside)"
                )
            self.vectorizer = keras.layers.TextVectorization(
                vocabulary=meta["vocabulary"],
                output_sequence_length=int(meta["sequence_length"]),
                standardize=meta.get("standardize", "lower_and_strip_punctuation"),
                split=meta.get("split", "whitespace"),
            )
        self._lock = threading.Lock()

    def classify(self, text: str) -> Emotion:
        """One sentence → its ``Emotion`` (a batch of one)."""
        return self.classify_batch([text])[0]

    def classify_batch(self, texts: Sequence[str]) -> list[Emotion]:
        """One ``Emotion`` per text, in order; ``latency_ms`` is the mean per text."""
        texts = list(texts)
        if not texts:
            return []
        start = time.perf_counter()
        probs = reorder(self.probabilities_in_model_order(texts), self.order)
        return emotions_from_probabilities(probs, (time.perf_counter() - start) * 1000.0 / len(texts))

    def probabilities_in_model_order(self, texts: list[str]) -> np.ndarray:
        """(n, 7) probabilities in the model's own output order."""
        if self.vectorizer is not None:
            inputs = np.asarray(self.vectorizer(texts))
        else:
            inputs = np.asarray(texts, dtype=object)
            if self.input_rank == 2:
                inputs = inputs.reshape(-1, 1)
        with self._lock:
            raw = np.asarray(self.model.predict_on_batch(inputs), dtype=np.float64)
        if self.output_kind == "logits" or (self.output_kind == "auto" and not _looks_like_probabilities(raw)):
            return softmax(raw)
        return raw / raw.sum(axis=1, keepdims=True)


def _looks_like_probabilities(rows: np.ndarray) -> bool:
    return bool(np.all(rows >= 0) and np.all(rows <= 1) and np.allclose(rows.sum(axis=1), 1.0, atol=1e-3))
