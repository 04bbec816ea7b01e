"""Measure the risk assessment on labelled sentences.

    python -m pipeline.care.risk_eval tests/data/risk_test.tsv tests/data/risk_holdout.tsv [--misses] [--rules-only]

By default this measures what a turn uses: the rules and the trained classifier together
(``pipeline.care.assessor``; the classifier as ``MAUM_RISK_CLASSIFIER``/``MAUM_RISK_HEAD`` say, ``auto``
meaning on here). ``--rules-only`` measures the phrase rules alone, for comparison.

A file is tab-separated with a header and the columns ``text`` and ``level`` (``none``, ``watch``,
``high``), optionally ``category`` (one category, or several joined by commas such as
``suicide,imminent``; ``-`` for none) and ``note``. Rows whose level is not ``none`` are *risk
statements*; rows at ``none`` are *look-alikes* (idioms, news, films, resolved past, everyday
uses of risk words). The figures, one JSON object per file:

* ``recall``: risk statements whose assessed level is at least the labelled one (a ``high`` row
  must come out ``high``; a ``watch`` row, ``watch`` or ``high``). This is the headline figure.
* ``recall_flagged``: risk statements assessed ``watch`` or ``high`` (a person sees them).
* ``high_recall``: ``high`` rows assessed ``high`` (the crisis reply and its phone numbers).
* ``watch_flagged``: ``watch`` rows assessed ``watch`` or ``high``.
* ``false_alarms``: look-alikes assessed ``watch`` or ``high``; ``false_high``: assessed ``high``.
* ``category_accuracy``: among ``high`` rows assessed ``high`` that name a category, the share
  whose (first) category is among the assessed ones.
* ``imminent_found``: among rows labelled ``imminent``, the share assessed with ``imminent``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from pipeline.care.risk import assess_risk
from pipeline.types import RISK_LEVELS, Risk

_RANK = {level: i for i, level in enumerate(RISK_LEVELS)}


def read_cases(path: str | Path) -> list[dict[str, str]]:
    """The rows of a labelled TSV file.

    Raises:
        ValueError: a missing ``text``/``level`` column or an unknown level.
    """
    with Path(path).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if rows and not {"text", "level"} <= set(rows[0]):
        raise ValueError(f"{path}: needs the columns text and level")
    bad = [r["text"] for r in rows if r["level"] not in RISK_LEVELS]
    if bad:
        raise ValueError(f"{path}: unknown level in {bad[:3]}")
    return rows


def categories_of(row: Mapping[str, str]) -> list[str]:
    """The labelled categories of a row (``suicide,imminent`` → both; ``-`` or empty → none)."""
    return [c.strip() for c in row.get("category", "").split(",") if c.strip() not in ("", "-")]


def evaluate(rows: Iterable[Mapping[str, str]], assess: Callable[[str], Risk] = assess_risk) -> dict:
    """The figures described in the module docstring, plus the rows that missed or alarmed.

    Args:
        rows: labelled rows (``text``, ``level``, optionally ``category``).
        assess: text → ``Risk``; the rules alone unless given (``main`` passes the hybrid).
    """
    rows = list(rows)
    risky = [r for r in rows if r["level"] != "none"]
    safe = [r for r in rows if r["level"] == "none"]
    high = [r for r in rows if r["level"] == "high"]
    watch = [r for r in rows if r["level"] == "watch"]
    found = {r["text"]: assess(r["text"]) for r in rows}

    def share(part: list, whole: list) -> float:
        return round(len(part) / len(whole), 4) if whole else 1.0

    detected = [r for r in risky if _RANK[found[r["text"]].level] >= _RANK[r["level"]]]
    flagged = [r for r in risky if found[r["text"]].level != "none"]
    high_hits = [r for r in high if found[r["text"]].level == "high"]
    watch_hits = [r for r in watch if found[r["text"]].level != "none"]
    alarms = [r for r in safe if found[r["text"]].level != "none"]
    high_alarms = [r for r in safe if found[r["text"]].level == "high"]
    with_category = [r for r in high_hits if categories_of(r)]
    right_category = [r for r in with_category if categories_of(r)[0] in found[r["text"]].categories]
    imminent = [r for r in rows if "imminent" in categories_of(r)]
    imminent_found = [r for r in imminent if "imminent" in found[r["text"]].categories]
    return {
        "rows": len(rows),
        "risk_statements": len(risky),
        "high": len(high),
        "watch": len(watch),
        "look_alikes": len(safe),
        "recall": share(detected, risky),
        "recall_flagged": share(flagged, risky),
        "high_recall": share(high_hits, high),
        "watch_flagged": share(watch_hits, watch),
        "false_alarms": share(alarms, safe),
        "false_high": share(high_alarms, safe),
        "category_accuracy": share(right_category, with_category),
        "imminent_found": share(imminent_found, imminent),
        "missed": [f"{r['level']}: {r['text']} -> {found[r['text']].level}" for r in risky if r not in detected],
        "alarmed": [f"{r['text']} -> {found[r['text']].level} {list(found[r['text']].reasons)}" for r in alarms],
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures of each file as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.care.risk_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="labelled TSV files (text, level[, category, note])")
    parser.add_argument("--misses", action="store_true", help="also list missed risk statements and false alarms")
    parser.add_argument("--rules-only", action="store_true", help="the phrase rules alone, without the classifier")
    args = parser.parse_args(argv)
    assess = assess_risk if args.rules_only else _hybrid()
    for path in args.files:
        figures = evaluate(read_cases(path), assess)
        if not args.misses:
            figures = {k: v for k, v in figures.items() if k not in ("missed", "alarmed")}
        print(json.dumps({"file": path, **figures}, ensure_ascii=False))
    return 0


def _hybrid() -> Callable[[str], Risk]:
    """The assessor a turn uses, with the classifier on unless the settings say ``rules``."""
    from pipeline.care.assessor import RiskAssessor
    from pipeline.settings import Settings

    settings = Settings.from_env()
    if settings.risk_classifier == "auto":
        settings = dataclasses.replace(settings, risk_classifier="e5-head")
    return RiskAssessor.from_settings(settings).assess


if __name__ == "__main__":
    sys.exit(main())
