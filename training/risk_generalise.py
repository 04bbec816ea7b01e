"""What a risk head does on an author it never saw: leave-one-author-out scores, calibration across
authors, author-balanced fitting, and the pooled figures that choose between recipes.

``training/train_risk_head.py`` uses this module for ``--cross-author`` and for
``--calibration out_of_author``. The pieces:

- ``author_weights``: per-row weights so that each author (and, within an author, each level)
  counts alike, tempered by a power (0 = the plain class-balanced fit, 1 = full balance);
- ``fit_weighted``: ``training.train_emotion_head.fit_head``'s two-part head (e5 part and
  character n-gram part, full-batch L-BFGS, class-balanced) as a ``RiskHead``, with those row
  weights and the n-gram views;
- ``HeldOut``: for each author, the log-probabilities of both head parts, the imminence probe and a
  nearest-neighbour signal, from a head fitted without that author; saved as ``.npz`` so that the
  variants that only re-mix or re-threshold (``lexical_weight``, calibration, the neighbour signal)
  cost no refit;
- ``hybrid_ranks``: the hybrid level of ``pipeline.care.assessor.combine`` for whole arrays at once
  (a test checks it against ``combine`` row by row), so thresholds can be swept;
- ``out_of_author_thresholds``: thresholds set on the look-alikes of *other* held-out authors, as
  scored by heads that never saw them, so the rate a head is calibrated for is the rate a new author
  sees (in-author out-of-fold calibration under-states it about 2.5 times);
- ``figures``/``pooled_report``: per-author and pooled high recall, recall flagged, false alarms,
  false high, and threshold-free figures (average precision, hybrid high recall at a fixed pooled
  false-alarm rate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.care.assessor import RiskHead, RiskNgramVectorizer
from pipeline.care.risk import assess_details
from pipeline.text.e5_head import log_softmax
from training.train_emotion_head import fit_head

RANK = {"none": 0, "watch": 1, "high": 2}


# --- fitting ---------------------------------------------------------------------------------------


def author_weights(authors: Sequence[str], levels: Sequence[str], power: float) -> np.ndarray:
    """Row weights ∝ (rows of the same author and level)^-power, mean 1.

    ``power`` 0 gives ones; 1 makes every (author, level) cell weigh the same in total; 0.5 (the
    square root) tempers it, so that an author with 68 rows does not weigh as much as one with 3,600.
    """
    keys = [f"{a}\t{lv}" for a, lv in zip(authors, levels, strict=True)]
    counts: dict[str, int] = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    w = np.array([counts[k] ** -power for k in keys], dtype=np.float64)
    return w / w.mean()


def fit_weighted(
    texts: Sequence[str],
    embeddings: np.ndarray,
    y: Sequence[int],
    labels: tuple[str, ...],
    sample_weight: np.ndarray,
    config,
) -> RiskHead:
    """The two-part risk head fitted with row weights (see ``author_weights``); the n-gram part reads
    ``config.lexical_views`` too when set."""
    views = tuple(getattr(config, "lexical_views", ()) or ())
    options = {"vectorizer_type": RiskNgramVectorizer, "views": views} if views else {}
    head = fit_head(texts, embeddings, y, config, labels, RiskHead, sample_weight=sample_weight, **options)
    assert isinstance(head, RiskHead)
    return head


# --- the hybrid for whole arrays -------------------------------------------------------------------


@dataclass(frozen=True)
class RuleArrays:
    """What the phrase rules said about each row, as ``combine`` reads it.

    Attributes:
        rank: the rules' level (0 none, 1 watch, 2 high).
        softened: the rules recognised a look-alike and let it go or lowered it.
        urgent_cue: the rules saw a phrase of imminence and did not already name ``imminent``.
    """

    rank: np.ndarray
    softened: np.ndarray
    urgent_cue: np.ndarray

    @classmethod
    def of(cls, texts: Sequence[str]) -> RuleArrays:
        details = [assess_details(t) for t in texts]
        return cls(
            np.array([RANK[d.risk.level] for d in details], dtype=np.int8),
            np.array([bool(d.softened) for d in details]),
            np.array([bool(d.imminent) and "imminent" not in d.risk.categories for d in details]),
        )


def signal_ranks(p_risk: np.ndarray, p_high: np.ndarray, watch_t, high_t) -> np.ndarray:
    """The classifier's level per row (``RiskHead.signals``): high needs both thresholds."""
    flagged = p_risk >= watch_t
    return np.where(flagged & (p_high >= high_t), 2, np.where(flagged, 1, 0)).astype(np.int8)


def hybrid_ranks(rules: RuleArrays, signal: np.ndarray) -> np.ndarray:
    """The level ``combine`` gives each row, from the rules and the classifier's level."""
    flagged = signal > 0
    level = np.where(flagged, np.where(rules.softened, 1, signal), 0)
    urgent = rules.urgent_cue & ((rules.rank > 0) | flagged) & ~(rules.softened & (rules.rank == 0))
    level = np.where(urgent, 2, level)
    return np.maximum(rules.rank, level).astype(np.int8)


def level_figures(ranks: np.ndarray, levels: np.ndarray) -> dict:
    """``risk_eval``'s level figures for assessed ranks against labelled levels."""
    high, risky, safe = levels == "high", levels != "none", levels == "none"

    def share(hit: np.ndarray, of: np.ndarray) -> float:
        return round(float(hit[of].mean()), 4) if of.any() else 1.0

    return {
        "high_recall": share(ranks == 2, high),
        "recall_flagged": share(ranks > 0, risky),
        "false_alarms": share(ranks > 0, safe),
        "false_high": share(ranks == 2, safe),
    }


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the precision-recall curve (mean precision at each positive, ties broken low)."""
    if not positive.any():
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    hits = positive[order].astype(np.float64)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return round(float((precision * hits).sum() / hits.sum()), 4)


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (the chance that a positive row outscores a negative one)."""
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    return round(float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))), 4)


def at_false_alarm(
    target: float, rules: RuleArrays, p_risk: np.ndarray, p_high: np.ndarray, levels: np.ndarray
) -> dict:
    """The hybrid's figures at the one threshold t (watch = high = t, as the shipped head) whose pooled
    false alarms are the highest not above ``target``: recall at a fixed false-alarm rate."""
    safe = levels == "none"

    def alarms(t: float) -> float:
        return float((hybrid_ranks(rules, signal_ranks(p_risk, p_high, t, t))[safe] > 0).mean())

    lo, hi = 0.0, 1.0 + 1e-9  # alarms(hi) is the rules' own rate: the floor
    if alarms(hi) > target:
        t = hi
    else:
        for _ in range(40):
            mid = (lo + hi) / 2
            if alarms(mid) <= target:
                hi = mid
            else:
                lo = mid
        t = hi
    out = level_figures(hybrid_ranks(rules, signal_ranks(p_risk, p_high, t, t)), levels)
    return {"threshold": round(t, 4), **out}


# --- leave-one-author-out scores -------------------------------------------------------------------


@dataclass
class HeldOut:
    """Every held-out author's written rows, scored by a head that never saw that author.

    Attributes:
        texts, levels, authors: the rows (one array each).
        imminent: the row's categories include ``imminent``.
        log_semantic, log_lexical: (n, k) log-probabilities of the head's two parts.
        p_imminent: (n,) the imminence probe.
        knn: (n, 3) highest cosine to the fold's training rows that are high, watch-or-high, none.
        labels: the head's classes (columns of the log-probabilities).
        cal: per author, the in-author calibration rows (the other authors' dev split) as
            ``{"levels", "log_semantic", "log_lexical"}``: what the v3 recipe calibrates on.
    """

    texts: np.ndarray
    levels: np.ndarray
    authors: np.ndarray
    imminent: np.ndarray
    log_semantic: np.ndarray
    log_lexical: np.ndarray
    p_imminent: np.ndarray
    knn: np.ndarray
    labels: tuple[str, ...]
    cal: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        arrays = {
            "texts": self.texts.astype(str),
            "levels": self.levels.astype(str),
            "authors": self.authors.astype(str),
            "imminent": self.imminent.astype(bool),
            "log_semantic": self.log_semantic,
            "log_lexical": self.log_lexical,
            "p_imminent": self.p_imminent,
            "knn": self.knn,
            "labels": np.array(self.labels, dtype=str),
        }
        for author, part in self.cal.items():
            for key, value in part.items():
                arrays[f"cal::{author}::{key}"] = value.astype(str) if key == "levels" else value
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> HeldOut:
        with np.load(path, allow_pickle=False) as data:
            cal: dict[str, dict[str, np.ndarray]] = {}
            for name in data.files:
                if name.startswith("cal::"):
                    _, author, key = name.split("::")
                    cal.setdefault(author, {})[key] = data[name]
            return cls(
                data["texts"], data["levels"], data["authors"], data["imminent"], data["log_semantic"],
                data["log_lexical"], data["p_imminent"], data["knn"], tuple(data["labels"].tolist()), cal,
            )  # fmt: skip

    def probabilities(self, lexical_weight: float, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        mixed = (1 - lexical_weight) * self.log_semantic[rows] + lexical_weight * self.log_lexical[rows]
        return np.exp(log_softmax(mixed))


def mix(labels: Sequence[str], log_semantic: np.ndarray, log_lexical: np.ndarray, lexical_weight: float):
    """(p_risk, p_high) of the mixed head, as ``RiskHead.signals`` sums them."""
    p = np.exp(log_softmax((1 - lexical_weight) * log_semantic + lexical_weight * log_lexical))
    risk = np.array([lb != "none" for lb in labels])
    high = np.array([lb.startswith("high:") for lb in labels])
    return p[:, risk].sum(axis=1), p[:, high].sum(axis=1)


def knn_shift(p: np.ndarray, knn: np.ndarray, weight: float) -> np.ndarray:
    """``p`` moved in logit space by ``weight`` × (cosine to the nearest risk row − to the nearest look-alike)."""
    if not weight:
        return p
    q = np.clip(p, 1e-9, 1 - 1e-9)
    z = np.log(q / (1 - q)) + weight * (knn[:, 1] - knn[:, 2])
    return 1.0 / (1.0 + np.exp(-z))


def part_log_probs(head: RiskHead, embeddings: np.ndarray, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(semantic, lexical) log-probabilities of a fitted head, unmixed."""
    semantic = log_softmax(head.semantic_logits(np.asarray(embeddings, dtype=np.float64)))
    lexical = log_softmax(head.lexical_logits(texts).astype(np.float64))
    return semantic, lexical


def nearest(embeddings: np.ndarray, train_embeddings: np.ndarray, train_levels: Sequence[str]) -> np.ndarray:
    """(n, 3): highest cosine to training rows that are high, watch-or-high, and none."""
    levels = np.asarray(train_levels)
    sims = np.asarray(embeddings, np.float32) @ np.asarray(train_embeddings, np.float32).T
    out = np.full((len(embeddings), 3), -1.0)
    for j, mask in enumerate((levels == "high", levels != "none", levels == "none")):
        if mask.any():
            out[:, j] = sims[:, mask].max(axis=1)
    return out


# --- thresholds ------------------------------------------------------------------------------------


def threshold_at(scores: np.ndarray, max_rate: float) -> float:
    """The smallest t (four decimals, rounded up) with mean(scores >= t) <= max_rate."""
    ordered = np.sort(scores)[::-1]
    allowed = int(np.floor(max_rate * len(ordered)))
    if not len(ordered) or allowed >= len(ordered):
        return 0.5
    return min(0.99, math.ceil(float(np.nextafter(ordered[allowed], 1.0)) * 10_000) / 10_000)


def thresholds_from(p_risk: np.ndarray, p_high: np.ndarray, safe: np.ndarray, rates: tuple[float, float]):
    """(watch, high) thresholds from look-alike scores, as ``train_risk_head.calibrate`` sets them."""
    watch_t = max(0.05, threshold_at(p_risk[safe], rates[0]))
    return watch_t, max(watch_t, threshold_at(p_high[safe], rates[1]))


def out_of_author_thresholds(
    p_risk: np.ndarray, p_high: np.ndarray, levels: np.ndarray, authors: np.ndarray, rates: tuple[float, float]
) -> dict[str, tuple[float, float]]:
    """Per author, thresholds set on the other authors' look-alikes (each scored out of author).

    Authors are weighed alike: each one's look-alikes count in proportion to 1 / their number, by
    repeating nothing but using a weighted quantile.
    """
    out = {}
    for author in sorted(set(authors.tolist())):
        others = (authors != author) & (levels == "none")
        out[author] = weighted_thresholds(p_risk[others], p_high[others], authors[others], rates)
    return out


def weighted_thresholds(p_risk: np.ndarray, p_high: np.ndarray, authors: np.ndarray, rates: tuple[float, float]):
    """(watch, high) over look-alikes of several authors, each author weighing the same: the smallest
    t at which the mean over authors of their flagged share is at most the rate."""

    def lowest(scores: np.ndarray, rate: float) -> float:
        names = sorted(set(authors.tolist()))
        candidates = np.unique(np.concatenate([np.nextafter(scores, 2.0), [1.0]]))

        def share(t: float) -> float:
            return float(np.mean([(scores[authors == a] >= t).mean() for a in names]))

        lo, hi = 0, len(candidates) - 1  # share is non-increasing in t; find the first index within rate
        while lo < hi:
            mid = (lo + hi) // 2
            if share(candidates[mid]) <= rate:
                hi = mid
            else:
                lo = mid + 1
        return min(0.99, math.ceil(float(candidates[lo]) * 10_000) / 10_000)

    watch_t = max(0.05, lowest(p_risk, rates[0]))
    return watch_t, max(watch_t, lowest(p_high, rates[1]))


# --- figures ---------------------------------------------------------------------------------------


def figures(
    held: HeldOut,
    rules: RuleArrays,
    lexical_weight: float,
    thresholds: dict[str, tuple[float, float]],
    knn_weight: float = 0.0,
    fixed_rates: Sequence[float] = (0.05, 0.07, 0.1),
) -> dict:
    """Per-author and pooled figures of the hybrid at the given per-author thresholds, and the
    threshold-free pooled figures (AUC, average precision, hybrid high recall at fixed false alarms)."""
    p_risk, p_high = mix(held.labels, held.log_semantic, held.log_lexical, lexical_weight)
    p_risk, p_high = knn_shift(p_risk, held.knn, knn_weight), knn_shift(p_high, held.knn, knn_weight)
    watch_t = np.array([thresholds[a][0] for a in held.authors])
    high_t = np.array([thresholds[a][1] for a in held.authors])
    ranks = hybrid_ranks(rules, signal_ranks(p_risk, p_high, watch_t, high_t))
    per_author = {}
    for author in sorted(set(held.authors.tolist())):
        mine = held.authors == author
        per_author[author] = {
            "n": int(mine.sum()),
            "thresholds": list(thresholds[author]),
            **level_figures(ranks[mine], held.levels[mine]),
            "auc_risk": auc(p_risk[mine], held.levels[mine] != "none"),
        }
    names = ("high_recall", "recall_flagged", "false_alarms", "false_high", "auc_risk")
    pooled = {
        **level_figures(ranks, held.levels),
        "auc_risk": auc(p_risk, held.levels != "none"),
        "ap_risk": average_precision(p_risk, held.levels != "none"),
        "ap_high": average_precision(p_high, held.levels == "high"),
        "mean_over_authors": {k: round(float(np.mean([f[k] for f in per_author.values()])), 4) for k in names},
    }
    for rate in fixed_rates:
        pooled[f"at_false_alarms_{rate}"] = at_false_alarm(rate, rules, p_risk, p_high, held.levels)
    return {"authors": per_author, "pooled": pooled}


def in_author_thresholds(held: HeldOut, lexical_weight: float, rates: tuple[float, float]):
    """The v3 recipe's thresholds for each held-out author: set on the other authors' dev split."""
    out = {}
    for author, cal in held.cal.items():
        p_risk, p_high = mix(held.labels, cal["log_semantic"], cal["log_lexical"], lexical_weight)
        out[author] = thresholds_from(p_risk, p_high, cal["levels"] == "none", rates)
    return out


def oof_thresholds(
    held: HeldOut, lexical_weight: float, rates: tuple[float, float], knn_weight: float = 0.0
) -> dict[str, tuple[float, float]]:
    """Out-of-author thresholds for each held-out author from the other held-out authors' scores."""
    p_risk, p_high = mix(held.labels, held.log_semantic, held.log_lexical, lexical_weight)
    p_risk, p_high = knn_shift(p_risk, held.knn, knn_weight), knn_shift(p_high, held.knn, knn_weight)
    return out_of_author_thresholds(p_risk, p_high, held.levels, held.authors, rates)


def summary_row(name: str, result: dict) -> str:
    """One Markdown table row of a variant's pooled figures."""
    p = result["pooled"]
    m = p["mean_over_authors"]
    fixed = " | ".join(f"{p[k]['high_recall']:.3f}" for k in sorted(p) if k.startswith("at_false_alarms_"))
    return (
        f"| {name} | {p['high_recall']:.3f} | {p['recall_flagged']:.3f} | {p['false_alarms']:.3f} | "
        f"{p['false_high']:.3f} | {m['high_recall']:.3f} | {m['false_alarms']:.3f} | {p['auc_risk']:.3f} | "
        f"{p['ap_risk']:.3f} | {p['ap_high']:.3f} | {fixed} |"
    )


SUMMARY_HEADER = (
    "| variant | high recall | recall flagged | false alarms | false high | author-mean high recall | "
    "author-mean false alarms | AUC | AP risk | AP high | high recall @FA 5 % | @7 % | @10 % |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)
