"""The frozen blind holdout v2 stays frozen, readable and shaped as its datasheet says.

These tests never score a detector on the holdout (that is reported, not asserted): they only
guard the files, so that an edit to the set (which would make it no longer blind) fails loudly.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from pipeline.types import RISK_CATEGORIES, RISK_LEVELS

HOLDOUT = Path(__file__).parent / "data" / "holdout_v2"
CATEGORIES = RISK_CATEGORIES


def _rows() -> list[dict[str, str]]:
    with (HOLDOUT / "risk_holdout.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _conversations() -> list[dict]:
    lines = (HOLDOUT / "conversations.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("name", ["risk_holdout.tsv", "conversations.jsonl"])
def test_holdout_files_match_the_hashes_in_their_datasheet(name: str) -> None:
    """A changed file no longer matches the SHA-256 the README froze: make a v3 instead."""
    readme = (HOLDOUT / "README.md").read_text(encoding="utf-8")
    recorded = re.search(rf"`{re.escape(name)}`.*?`([0-9a-f]{{64}})`", readme)
    assert recorded, f"README lists no SHA-256 for {name}"
    actual = hashlib.sha256((HOLDOUT / name).read_bytes()).hexdigest()
    assert actual == recorded.group(1)


def test_every_holdout_row_has_a_known_level_and_categories_in_vocabulary_order() -> None:
    """Each row parses into four fields; risky rows name categories, safe rows name none."""
    rows = _rows()
    assert rows and all(len(row) == 4 and None not in row.values() for row in rows)
    for row in rows:
        assert row["text"].strip() and row["level"] in RISK_LEVELS
        if row["level"] == "none":
            assert row["category"] == "-"
        else:
            categories = row["category"].split(",")
            assert categories == sorted(categories, key=CATEGORIES.index)
    assert len({row["text"] for row in rows}) == len(rows)


def test_holdout_covers_every_category_and_enough_safe_look_alikes() -> None:
    """At least 200 risky and 200 safe rows, 15 per high category and 10 caregiver rows."""
    rows = _rows()
    levels = Counter(row["level"] for row in rows)
    assert levels["high"] + levels["watch"] >= 200 and levels["none"] >= 200
    main = Counter(row["category"].split(",")[0] for row in rows if row["level"] != "none")
    for category in CATEGORIES:
        if category not in ("imminent", "caregiver"):
            assert main[category] >= 15, category
    assert main["caregiver"] >= 10


def test_holdout_conversations_keep_high_risk_sticky() -> None:
    """Once a conversation reached high it stays high, and every turn has a text and a level."""
    conversations = _conversations()
    assert len(conversations) >= 12
    for conversation in conversations:
        turns = conversation["turns"]
        assert 6 <= len(turns) <= 8, conversation["id"]
        reached_high = False
        for turn in turns:
            assert turn["text"].strip() and turn["expect_level"] in RISK_LEVELS
            assert turn["expect_level"] in turn.get("accept_levels", [turn["expect_level"]])
            if reached_high:
                assert turn["expect_level"] == "high", (conversation["id"], turn["text"])
            reached_high = reached_high or turn["expect_level"] == "high"
