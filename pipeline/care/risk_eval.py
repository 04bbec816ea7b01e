"""Measure the risk detector on labelled sentences.

    python -m pipeline.care.risk_eval tests/data/risk_test.tsv tests/data/risk_holdout.tsv [--misses]

A file is tab-separated with a header and the columns ``text`` and ``level`` (``none``, ``watch``,
``high``), optionally ``category`` and ``note``. Rows whose level is not ``none`` are *risk
statements*; rows at ``none`` are *look-alikes* (idioms, news, films, resolved past, everyday
uses of risk words). The figures, one JSON object per file:

* ``recall``: risk statements whose assessed level is at least the labelled one (a ``high`` row
  must come out ``high``; a ``watch`` row, ``watch`` or ``high``). This is the headline figure.
* ``recall_flagged``: risk statements assessed ``watch`` or ``high`` (a person sees them).
* ``high_recall``: ``high`` rows assessed ``high`` (the crisis reply and its phone numbers).
* ``watch_flagged``: ``watch`` rows assessed ``watch`` or ``high``.
* ``false_alarms``: look-alikes assessed ``watch`` or ``high``; ``false_high``: assessed ``high``.
* ``category_accuracy``: among ``high`` rows assessed ``high`` that name a category, the share
  whose category is among the assessed ones.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipeline.care.risk import assess_risk
from pipeline.types import RISK_LEVELS

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


def evaluate(rows: Iterable[Mapping[str, str]]) -> dict:
    """The figures described in the module docstring, plus the rows that missed or alarmed."""
    rows = list(rows)
    risky = [r for r in rows if r["level"] != "none"]
    safe = [r for r in rows if r["level"] == "none"]
    high = [r for r in rows if r["level"] == "high"]
    watch = [r for r in rows if r["level"] == "watch"]
    found = {r["text"]: assess_risk(r["text"]) for r in rows}

    def share(part: list, whole: list) -> float:
        return round(len(part) / len(whole), 4) if whole else 1.0

    detected = [r for r in risky if _RANK[found[r["text"]].level] >= _RANK[r["level"]]]
    flagged = [r for r in risky if found[r["text"]].level != "none"]
    high_hits = [r for r in high if found[r["text"]].level == "high"]
    watch_hits = [r for r in watch if found[r["text"]].level != "none"]
    alarms = [r for r in safe if found[r["text"]].level != "none"]
    high_alarms = [r for r in safe if found[r["text"]].level == "high"]
    with_category = [r for r in high_hits if r.get("category", "-") not in ("", "-")]
    right_category = [r for r in with_category if r["category"] in found[r["text"]].categories]
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
        "missed": [f"{r['level']}: {r['text']} -> {found[r['text']].level}" for r in risky if r not in detected],
        "alarmed": [f"{r['text']} -> {found[r['text']].level} {list(found[r['text']].reasons)}" for r in alarms],
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures of each file as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.care.risk_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="labelled TSV files (text, level[, category, note])")
    parser.add_argument("--misses", action="store_true", help="also list missed risk statements and false alarms")
    args = parser.parse_args(argv)
    for path in args.files:
        figures = evaluate(read_cases(path))
        if not args.misses:
            figures = {k: v for k, v in figures.items() if k not in ("missed", "alarmed")}
        print(json.dumps({"file": path, **figures}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
