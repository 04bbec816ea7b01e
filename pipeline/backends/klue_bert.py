"""Emotion classification with a fine-tuned BERT (the original design's KLUE-BERT), from a local folder.

The folder is what ``training/finetune_emotion_bert.py`` writes (or any Hugging Face-style
sequence-classification folder): ``config.json`` with ``id2label``, the weights
(``model.safetensors``) and the tokenizer files. It is loaded with ``from_pretrained(path)``,
never from a hub. The label names in ``id2label`` may be English (``sadness``) or Korean
(``슬픔``), in any order; anything that is not exactly the seven emotions fails at load time.

Use it with ``MAUM_CLASSIFIER=klue-bert MAUM_KLUE_BERT_MODEL=/path/to/folder``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from pipeline.errors import ModelFilesError
from pipeline.model_files import model_folder
from pipeline.settings import Settings, resolve_device
from pipeline.text.emotion_labels import emotions_from_probabilities, label_order, reorder
from pipeline.types import Emotion


class KlueBertClassifier:
    """``EmotionClassifier`` over a BERT sequence-classification model with seven outputs.

    Args:
        settings: ``klue_bert_model`` (folder), ``klue_bert_max_tokens``, ``klue_bert_batch_size``
            and ``device``.

    Raises:
        ModelFilesError: the folder is missing or unreadable, or its labels are not the seven emotions.
    """

    name = "klue-bert"

    def __init__(self, settings: Settings) -> None:
        folder = model_folder(settings.klue_bert_model, "MAUM_KLUE_BERT_MODEL")
        self.device = torch.device(resolve_device(settings.device))
        self.max_tokens = settings.klue_bert_max_tokens
        self.batch_size = max(1, settings.klue_bert_batch_size)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure here means the files are unusable
            raise ModelFilesError(detail=f"cannot load BERT emotion model from {folder}: {exc}") from exc
        id2label = model.config.id2label
        names = [id2label[i] for i in range(model.config.num_labels)]
        self.order = label_order(names, str(folder))  # before anything runs: wrong labels fail here
        self.model = model.to(self.device).eval()
        self._lock = threading.Lock()  # one forward pass at a time: keeps the CPU threads for one request

    def classify(self, text: str) -> Emotion:
        """One sentence → its ``Emotion`` (a batch of one)."""
        return self.classify_batch([text])[0]

    def classify_batch(self, texts: Sequence[str]) -> list[Emotion]:
        """Classify many sentences, ``klue_bert_batch_size`` per forward pass.

        Returns:
            One ``Emotion`` per text, in order; ``latency_ms`` is the mean per text.
        """
        texts = list(texts)
        if not texts:
            return []
        start = time.perf_counter()
        chunks = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        probs = np.concatenate([self.probabilities(chunk) for chunk in chunks])
        latency_ms = (time.perf_counter() - start) * 1000.0 / len(texts)
        return emotions_from_probabilities(probs, latency_ms)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 7) probabilities in ``EMOTION_LABELS`` order for one batch of texts."""
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
        ).to(self.device)
        with self._lock, torch.inference_mode():
            logits = self.model(**batch).logits
        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return reorder(probs, self.order)
