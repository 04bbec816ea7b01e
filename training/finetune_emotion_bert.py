"""Fine-tune a pretrained BERT (e.g. KLUE-BERT) into the 7-way emotion classifier of the ``klue-bert`` backend.

Reads labelled sentences from CSV or TSV files (a text column and a label column; labels are the
seven emotions in English or Korean: fear/공포, surprise/놀람, anger/분노, sadness/슬픔,
neutral/중립, happiness/행복, disgust/혐오), holds out a dev set (a given file, or a stratified
split of the training rows), and fine-tunes ``AutoModelForSequenceClassification`` with AdamW or
RAdam, a linear warm-up/decay schedule and class-weighted cross-entropy (the original corpus was
half neutral). It evaluates on dev every epoch (or every ``--eval-every`` steps), keeps the model
with the best macro-F1 and stops after ``--patience`` evaluations without improvement. The output
folder holds the model and tokenizer (``save_pretrained``, ``id2label`` = the English label names)
plus ``report.json`` (accuracy, macro-F1, per-label F1, confusion matrix, training history); the
confusion matrix is also printed as a table.

Start from a local copy of a public checkpoint (no download happens here)::

    huggingface-cli download klue/bert-base --local-dir ~/models/klue-bert-base   # on a machine with internet
    .venv/bin/python -m training.finetune_emotion_bert --base ~/models/klue-bert-base \\
        --out ~/models/maum-emotion-bert --optimizer radam

then serve it with ``MAUM_CLASSIFIER=klue-bert MAUM_KLUE_BERT_MODEL=~/models/maum-emotion-bert``.
Other data: ``--train a.csv b.tsv --dev ""`` (stratified 8:2 split), ``--text-column``/``--label-column``
when the columns are not called text/sentence/문장 and label/emotion/감정. ``--help`` lists all options.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.settings import resolve_device
from pipeline.text.emotion_labels import canonical_label
from pipeline.types import EMOTION_LABELS
from training.cli import parse_config
from training.finetune_steps import Evaluation, plan_steps, train_until_best
from training.train_emotion_head import report

DATA_DIR = Path(__file__).parent / "data" / "emotion"
TEXT_COLUMNS = ("text", "sentence", "문장", "발화", "utterance")
LABEL_COLUMNS = ("label", "emotion", "감정", "감정_대분류")


@dataclass(frozen=True)
class BertFinetuneConfig:
    base: str = ""  # local pretrained folder (e.g. klue/bert-base, downloaded beforehand)
    out: str = ""  # folder to write (created; the best model so far is saved there)
    train: tuple[str, ...] = (str(DATA_DIR / "train.tsv"),)  # CSV/TSV files with sentences and labels
    dev: str = str(DATA_DIR / "dev.tsv")  # held-out file; "" = stratified split of the training rows
    dev_fraction: float = 0.2  # share of each label held out when dev is ""
    text_column: str = ""  # "" = the first of text, sentence, 문장, 발화, utterance
    label_column: str = ""  # "" = the first of label, emotion, 감정, 감정_대분류
    optimizer: str = "adamw"  # adamw or radam (torch.optim.RAdam, as the original)
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1  # share of steps with a linearly rising learning rate
    epochs: int = 5
    batch_size: int = 32
    max_tokens: int = 128  # longer sentences are cut (the backend's MAUM_KLUE_BERT_MAX_TOKENS)
    class_weights: bool = True  # weight the loss by inverse label frequency
    patience: int = 2  # evaluations without a better dev macro-F1 before stopping
    eval_every: int = 0  # steps between dev evaluations; 0 = once per epoch
    max_steps: int = 0  # stop after this many optimizer steps; 0 = no limit
    seed: int = 13
    device: str = "auto"  # auto, cpu, cuda:N
    threads: int = 0  # torch CPU threads; 0 = torch's default


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _pick_column(fieldnames: Sequence[str], wanted: str, candidates: Sequence[str], path: Path) -> str:
    if wanted:
        if wanted not in fieldnames:
            raise ValueError(f"{path}: no column {wanted!r}; columns are {list(fieldnames)}")
        return wanted
    by_lower = {name.strip().lower(): name for name in fieldnames}
    for candidate in candidates:
        if candidate in by_lower:
            return by_lower[candidate]
    raise ValueError(f"{path}: none of the columns {list(fieldnames)} is one of {list(candidates)}")


def read_labelled(path: str | Path, text_column: str = "", label_column: str = "") -> tuple[list[str], list[int]]:
    """Sentences and ``EMOTION_LABELS`` indices from a CSV (``.csv``) or TSV (any other name) with a header.

    Raises:
        ValueError: a column is missing, or a row has an empty text or an unknown label (with its line).
    """
    path = Path(path)
    texts, labels = [], []
    tsv = path.suffix.lower() != ".csv"
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if tsv else csv.DictReader(f)
        if not rows.fieldnames:
            raise ValueError(f"{path}: empty file")
        text_key = _pick_column(rows.fieldnames, text_column, TEXT_COLUMNS, path)
        label_key = _pick_column(rows.fieldnames, label_column, LABEL_COLUMNS, path)
        for row in rows:
            text, raw_label = (row.get(text_key) or "").strip(), row.get(label_key) or ""
            label = canonical_label(raw_label)
            if label is None:
                expected = ", ".join(EMOTION_LABELS)
                raise ValueError(f"{path}:{rows.line_num}: unknown label {raw_label!r}; expected one of {expected}")
            if not text:
                raise ValueError(f"{path}:{rows.line_num}: empty text")
            texts.append(text)
            labels.append(EMOTION_LABELS.index(label))
    if not texts:
        raise ValueError(f"{path}: no rows")
    return texts, labels


def stratified_split(labels: Sequence[int], dev_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Row indices (train, dev) holding out ``dev_fraction`` of every label (at least one of a label with ≥ 2 rows)."""
    if not 0.0 < dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be between 0 and 1, not {dev_fraction}")
    rng = random.Random(seed)
    train_idx, dev_idx = [], []
    for label in sorted(set(labels)):
        rows = [i for i, lab in enumerate(labels) if lab == label]
        rng.shuffle(rows)
        n_dev = min(len(rows) - 1, max(1, round(len(rows) * dev_fraction))) if len(rows) > 1 else 0
        dev_idx += rows[:n_dev]
        train_idx += rows[n_dev:]
    return sorted(train_idx), sorted(dev_idx)


def class_weights(labels: Sequence[int], num_labels: int = len(EMOTION_LABELS)) -> np.ndarray:
    """Balanced loss weights ``n / (k * count)`` per label (1.0 for labels absent from training)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_labels).astype(np.float64)
    present = counts > 0
    weights = np.ones(num_labels, dtype=np.float64)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def format_confusion(result: dict) -> str:
    """The confusion matrix (rows gold, columns predicted) as a fixed-width text table."""
    short = [label[:5] for label in result["labels"]]
    lines = ["gold \\ pred " + " ".join(f"{s:>5}" for s in short) + "     F1"]
    for label, row in zip(result["labels"], result["confusion"], strict=True):
        lines.append(f"{label:<11} " + " ".join(f"{v:>5}" for v in row) + f"  {result['f1'][label]:.3f}")
    lines.append(f"accuracy {result['accuracy']:.4f}  macro-F1 {result['macro_f1']:.4f}  n={result['n']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def _optimizer(model, config: BertFinetuneConfig):
    import torch

    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    decayed = [p for n, p in model.named_parameters() if not n.endswith(no_decay)]
    plain = [p for n, p in model.named_parameters() if n.endswith(no_decay)]
    groups = [{"params": decayed, "weight_decay": config.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    if config.optimizer == "radam":
        return torch.optim.RAdam(groups, lr=config.lr, decoupled_weight_decay=True)
    raise ValueError(f"optimizer must be adamw or radam, not {config.optimizer!r}")


def predict(model, tokenizer, texts: Sequence[str], batch_size: int, max_tokens: int, device) -> list[int]:
    """Predicted output index per text (the model's own output order)."""
    import torch

    model.eval()
    preds: list[int] = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            chunk = list(texts[i : i + batch_size])
            batch = tokenizer(chunk, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
            batch = batch.to(device)
            preds += model(**batch).logits.argmax(dim=-1).tolist()
    return preds


def finetune(config: BertFinetuneConfig) -> dict:
    """Fine-tune, save the best model to ``config.out`` and return the report (also in ``report.json``)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not config.base or not (Path(config.base) / "config.json").is_file():
        raise ValueError(f"--base {config.base!r} is not a model folder with config.json (download it first)")
    if not config.out:
        raise ValueError("--out is required")
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = torch.device(resolve_device(config.device))

    texts, labels = [], []
    for path in config.train:
        t, lab = read_labelled(path, config.text_column, config.label_column)
        texts += t
        labels += lab
    if config.dev:
        dev_texts, dev_labels = read_labelled(config.dev, config.text_column, config.label_column)
        train_texts, train_labels = texts, labels
    else:
        train_idx, dev_idx = stratified_split(labels, config.dev_fraction, config.seed)
        train_texts, train_labels = [texts[i] for i in train_idx], [labels[i] for i in train_idx]
        dev_texts, dev_labels = [texts[i] for i in dev_idx], [labels[i] for i in dev_idx]

    id2label = dict(enumerate(EMOTION_LABELS))
    tokenizer = AutoTokenizer.from_pretrained(config.base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        config.base,
        local_files_only=True,
        num_labels=len(EMOTION_LABELS),
        id2label=id2label,
        label2id={label: i for i, label in id2label.items()},
        ignore_mismatched_sizes=True,  # a base that was already fine-tuned on other labels gets a new head
    ).to(device)

    weights = class_weights(train_labels) if config.class_weights else np.ones(len(EMOTION_LABELS))
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32, device=device))
    optimizer = _optimizer(model, config)
    plan = plan_steps(len(train_texts), config, optimizer)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)

    def batch_loss(rows: list[int]) -> torch.Tensor:
        batch = tokenizer(
            [train_texts[r] for r in rows],
            padding=True,
            truncation=True,
            max_length=config.max_tokens,
            return_tensors="pt",
        ).to(device)
        target = torch.tensor([train_labels[r] for r in rows], device=device)
        return loss_fn(model(**batch).logits, target)

    def evaluate() -> Evaluation:
        result = report(dev_labels, predict(model, tokenizer, dev_texts, config.batch_size, config.max_tokens, device))
        fields = {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}
        return Evaluation(fields=fields, score=result["macro_f1"], detail=result)

    def save() -> None:
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)

    outcome = train_until_best(
        model, plan, optimizer, n_examples=len(train_texts), batch_size=config.batch_size,
        patience=config.patience, batch_loss=batch_loss, evaluate=evaluate, save=save,
    )  # fmt: skip

    # Only file names go into the artefact: absolute paths would leak this machine's layout.
    recorded = dataclasses.asdict(config) | {
        "base": Path(config.base).name,
        "out": Path(config.out).name,
        "train": [Path(p).name for p in config.train],
        "dev": Path(config.dev).name if config.dev else "",
    }
    result = {
        "train_n": len(train_texts),
        "dev_n": len(dev_texts),
        "train_label_counts": dict(zip(EMOTION_LABELS, np.bincount(train_labels, minlength=7).tolist(), strict=True)),
        "class_weights": [round(float(w), 4) for w in weights],
        "steps": outcome.steps,
        "best_step": outcome.best_step,
        "stopped_early": outcome.stopped_early,
        "dev": outcome.best.detail,
        "history": outcome.history,
        "config": recorded,
    }
    (out / "report.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return result


def parse_args(argv: list[str] | None = None) -> BertFinetuneConfig:
    """The fine-tune options from the command line (``--base`` and ``--out`` are required)."""
    return parse_config(BertFinetuneConfig, argv, description=__doc__.splitlines()[0], required=("base", "out"))


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    result = finetune(config)
    print(format_confusion(result["dev"]))
    summary = {k: result[k] for k in ("train_n", "dev_n", "steps", "best_step", "stopped_early")}
    print(json.dumps({"out": config.out, **summary, "dev": result["dev"]}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
