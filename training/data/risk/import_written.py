"""Import other authors' labelled sentences into the risk corpus as ``written_<author>.tsv`` files.

The first corpus (``written.tsv``) was written by one author, so a head trained on it learned that
author's wording. This script brings in sentences written blind by other people, each file tagged
with its author in ``make_variants.AUTHORS``:

- ``--dev DIR NAME``: a spent blind development set such as ``tests/data/risk_dev2``
  (``sentences.tsv`` where there is one: every row, its level and categories as written; plus the
  client turns of ``conversations.jsonl`` chosen as below) → ``written_<NAME>.tsv``;
- ``--blind FILE NAME``: a file of new training sentences (header ``text level category``) written
  blind by a writer for the project → ``written_<NAME>.tsv``; malformed rows are dropped and counted.

A conversation labels the conversation *so far* (risk is sticky), never a turn heard alone, so a
turn is used only where its own label is unambiguous:

- ``none``: a turn whose ``expect_level`` is ``none`` with no other accepted level, while the
  conversation has not yet risen above ``none`` (greetings, small talk, and every turn of a safe
  conversation that does not also accept ``watch``);
- ``high``: the turn where the conversation first rises from ``none`` straight to ``high``, with no
  other accepted level and with ``expect_categories`` naming what it revealed;
- ``high`` after ``watch``: the turn where the conversation first reaches ``high`` with no other
  accepted level and with ``expect_categories`` naming a category other than ``suicide`` or
  ``harm_to_others`` (those two rise by escalation over turns: a third hopeless turn or a grudge
  that grows may be ``high`` only in its context, so it is left out);
- every other turn is left out: turns after the first rise, turns accepting two levels, and every
  ``watch`` turn (a caregiver's "밤에 자꾸 밖에 나가려고 해서 잠을 못 자요" is exhaustion only after
  the earlier turns said who goes out).

Rerun (the committed files are its output)::

    python training/data/risk/import_written.py --dev tests/data/risk_dev2 dev2 \
        --dev tests/data/risk_dev3 dev3 --dev tests/data/risk_dev4 dev4 \
        --blind /work/eval/corpus_a.tsv a --blind /work/eval/corpus_b.tsv b \
        --blind /work/eval/corpus_c.tsv c --blind /work/eval/corpus_d.tsv d
    python training/data/risk/make_variants.py --stats
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_variants import CATEGORIES, check_label  # noqa: E402

LEVEL_ORDER = ("none", "watch", "high")
ESCALATING = {"suicide", "harm_to_others"}


def _category(names: list[str]) -> str:
    ordered = sorted(set(names), key=CATEGORIES.index)
    return ",".join(ordered) or "-"


def clean_row(text: str, level: str, category: str) -> tuple[str, str, str] | None:
    """A validated (text, level, category), or None when the row is malformed."""
    text = " ".join(text.split())
    level, category = level.strip(), category.strip().replace(" ", "")
    if not text:
        return None
    if category not in ("", "-"):
        parts = [c for c in category.split(",") if c]
        if any(c not in CATEGORIES for c in parts):
            return None
        category = _category(parts)
    try:
        check_label(level, category)
    except ValueError:
        return None
    return text, level, category


def conversation_turns(path: Path) -> list[tuple[str, str, str]]:
    """The client turns whose own label is unambiguous (see the module docstring)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        conversation = json.loads(line)
        so_far = "none"
        for turn in conversation["turns"]:
            level = turn["expect_level"]
            accepted = set(turn.get("accept_levels") or [level]) | {level}
            categories = [c for c in turn.get("expect_categories") or [] if c in CATEGORIES]
            main = [c for c in categories if c != "imminent"]
            single = accepted == {level}
            if level == "none" and so_far == "none" and single:
                out.append((turn["text"], "none", "-"))
            elif level == "high" and so_far != "high" and single and main:
                straight = so_far == "none"
                revealing = level == "high" and not ESCALATING & set(main)
                if straight or revealing:
                    out.append((turn["text"], level, _category(categories)))
            if LEVEL_ORDER.index(level) > LEVEL_ORDER.index(so_far):
                so_far = level
    return out


def sentences_tsv(path: Path) -> tuple[list[tuple[str, str, str]], int]:
    """Rows of a ``text level category [...]`` file and the number of malformed rows dropped."""
    rows, dropped = [], 0
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if header[:3] != ["text", "level", "category"]:
            raise ValueError(f"{path}: header {header!r}, expected text level category")
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            row = clean_row(*cells[:3]) if len(cells) in (3, len(header)) else None
            if row is None:
                dropped += 1
            else:
                rows.append(row)
    return rows, dropped


def write(path: Path, rows: list[tuple[str, str, str]]) -> tuple[int, int]:
    """Write unique rows (first occurrence wins); returns (written, duplicates dropped)."""
    seen: set[str] = set()
    unique = []
    for row in rows:
        if row[0] not in seen:
            seen.add(row[0])
            unique.append(row)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writerow(("text", "level", "category"))
        writer.writerows(unique)
    return len(unique), len(rows) - len(unique)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", nargs=2, action="append", default=[], metavar=("DIR", "NAME"),
                        help="a spent development folder ([sentences.tsv], conversations.jsonl)")  # fmt: skip
    parser.add_argument("--blind", nargs=2, action="append", default=[], metavar=("FILE", "NAME"))
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the written_<author>.tsv files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, list[tuple[str, str, str]], int]] = []
    for folder, name in args.dev:
        folder = Path(folder)
        rows, dropped = sentences_tsv(folder / "sentences.tsv") if (folder / "sentences.tsv").exists() else ([], 0)
        turns = conversation_turns(folder / "conversations.jsonl")
        print(f"{name}: {len(rows)} sentences, {len(turns)} conversation turns")
        jobs.append((name, rows + turns, dropped))
    for file, name in args.blind:
        rows, dropped = sentences_tsv(Path(file))
        jobs.append((name, rows, dropped))
    for name, rows, dropped in jobs:
        n, dupes = write(args.out / f"written_{name}.tsv", rows)
        print(f"written_{name}.tsv: {n} rows; {dropped} malformed and {dupes} repeated rows dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
