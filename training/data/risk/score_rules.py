"""Score Maum's phrase rules (``pipeline.care.risk.assess_risk``) on the risk corpus.

Prints, for one split file, the confusion of gold level against the rules' level and, per
category, how many risk rows the rules flag at all (watch or high). A baseline for the trained
classifier; the rules were not written against this corpus.

Usage (from the repository root)::

    python training/data/risk/score_rules.py                 # dev.tsv
    python training/data/risk/score_rules.py --split all     # train.tsv and dev.tsv together
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pipeline.care.risk import assess_risk
from pipeline.types import RISK_LEVELS

HERE = Path(__file__).resolve().parent


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "train", "all"), default="dev", help="which rows to score")
    args = parser.parse_args(argv)
    rows = []
    for name in ("train", "dev") if args.split == "all" else (args.split,):
        with (HERE / f"{name}.tsv").open(encoding="utf-8", newline="") as f:
            rows += csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
    predicted = [assess_risk(r["text"]).level for r in rows]
    confusion = Counter((r["level"], p) for r, p in zip(rows, predicted, strict=True))
    print(f"{args.split}: {len(rows)} rows; gold level -> rules level")
    for gold in RISK_LEVELS:
        cells = ", ".join(f"{p} {confusion[(gold, p)]}" for p in RISK_LEVELS)
        print(f"  {gold:5} ({sum(confusion[(gold, p)] for p in RISK_LEVELS)}): {cells}")
    flagged: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for row, level in zip(rows, predicted, strict=True):
        for category in row["category"].split(",") if row["category"] != "-" else []:
            total[category] += 1
            flagged[category] += level != "none"
    risk = [p for r, p in zip(rows, predicted, strict=True) if r["level"] != "none"]
    caught = sum(p != "none" for p in risk)
    print(f"risk rows flagged: {caught}/{len(risk)} = {caught / len(risk):.1%}")
    for category in sorted(total, key=lambda c: -total[c]):
        print(f"  {category:16} {flagged[category]}/{total[category]} = {flagged[category] / total[category]:.0%}")
    none = [p for r, p in zip(rows, predicted, strict=True) if r["level"] == "none"]
    print(f"none rows flagged: {sum(p != 'none' for p in none)}/{len(none)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
