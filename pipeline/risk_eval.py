"""Measure the risk assessment on labelled sentences, and the care layer on whole conversations.

    python -m pipeline.risk_eval tests/data/risk_test.tsv tests/data/risk_holdout.tsv [--misses] [--rules-only]
    python -m pipeline.risk_eval --conversations tests/data/care_conversations_dev.jsonl [--misses]

By default sentences are measured as a turn assesses them: the rules and the trained classifier
together (``pipeline.care.assessor``; the classifier as ``MAUM_RISK_CLASSIFIER``/``MAUM_RISK_HEAD``
say, ``auto`` meaning on here). ``--rules-only`` measures the phrase rules alone, for comparison.

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

With ``--conversations FILE.jsonl`` each line is one conversation, ``{"id", "note", "turns": [{"text",
"expect_level", "accept_levels"?, "expect_categories"?, "reply_must_include_any"?,
"reply_must_not_include"?}]}``; ``accept_levels`` lists the levels a counsellor could fairly give
too, and a level among them is neither a miss nor a false alarm.
Every conversation runs through the whole pipeline (configured backends, no speech) with its care
state carried from turn to turn. ``expect_level`` is the level a counsellor gives the conversation
*so far*; the figures, one JSON object per file:

* ``level_recall``: turns expected ``watch`` or ``high`` whose conversation level is at least that;
* ``high_recall``: turns expected ``high`` whose conversation level is ``high``;
* ``false_alarms``: turns expected ``none`` whose conversation level is higher; ``false_high``: ``high``;
* ``category_recall``: expected categories found among the conversation's categories (turns
  that name some);
* ``reply_checks``: reply checks passed / made (``reply_must_include_any``: at least one of the
  strings is in the reply; ``reply_must_not_include``: none of them is);
* ``p95_ms``: 95th percentile of risk + emotion + reply time per turn.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

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


def read_conversations(path: str | Path) -> list[dict[str, Any]]:
    """The conversations of a JSONL file (see the module docstring).

    Raises:
        ValueError: a line that is not a conversation, or an unknown level.
    """
    conversations = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        turns = item.get("turns") if isinstance(item, dict) else None
        if not turns or not all(isinstance(t, dict) and "text" in t for t in turns):
            raise ValueError(f"{path}:{number}: needs turns with text")
        bad = [t.get("expect_level") for t in turns if t.get("expect_level") not in RISK_LEVELS]
        if bad:
            raise ValueError(f"{path}:{number}: unknown expect_level {bad[:3]}")
        conversations.append(item)
    return conversations


def evaluate_conversations(conversations: Iterable[Mapping[str, Any]], pipeline: Any) -> dict:
    """Run each conversation through ``pipeline`` (a ``pipeline.turn.Pipeline``) and score it."""
    from pipeline.care.conversation import CareState
    from pipeline.types import HistoryTurn

    conversations = list(conversations)
    risky = detected = high = high_hits = safe = alarms = high_alarms = 0
    cats_expected = cats_found = checks = passed = 0
    stage_ms: list[float] = []
    missed, alarmed, failed = [], [], []
    for conv in conversations:
        state, history = CareState(), []
        for i, turn in enumerate(conv["turns"]):
            result = pipeline.run_text(turn["text"], history, synthesize=False, care_state=state)
            state = result.care_state
            history.append(
                HistoryTurn(result.transcript.text, result.reply.text, result.emotion.label, result.reply.reply_id)
            )
            t = result.timings_ms
            stage_ms.append(t.get("risk", 0.0) + t.get("emotion", 0.0) + t.get("respond", 0.0))
            where = f"{conv.get('id', '?')}#{i + 1}"
            want, got = _RANK[turn["expect_level"]], _RANK[state.level]
            # ``accept_levels``: where a counsellor could fairly give either of two levels.
            accepted = {turn["expect_level"], *(turn.get("accept_levels") or ())}
            if want:
                risky += 1
                ok = got >= want or state.level in accepted
                detected += ok
                if not ok:
                    missed.append(f"{where} {turn['text']} -> {state.level} (want {turn['expect_level']})")
                if turn["expect_level"] == "high":
                    high += 1
                    high_hits += got == want
            else:
                safe += 1
                alarm = state.level not in accepted
                alarms += alarm
                high_alarms += alarm and got == 2
                if alarm:
                    alarmed.append(f"{where} {turn['text']} -> {state.level} {list(state.reasons)[-2:]}")
            for category in turn.get("expect_categories") or ():
                cats_expected += 1
                cats_found += category in state.categories
            reply = result.reply.text
            for group in [turn["reply_must_include_any"]] if turn.get("reply_must_include_any") else []:
                checks += 1
                ok = any(s in reply for s in group)
                passed += ok
                if not ok:
                    failed.append(f"{where} reply lacks any of {group}: {reply}")
            for banned in turn.get("reply_must_not_include") or ():
                checks += 1
                ok = banned not in reply
                passed += ok
                if not ok:
                    failed.append(f"{where} reply says {banned!r}: {reply}")

    def share(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else 1.0

    stage_ms.sort()
    p95 = stage_ms[min(len(stage_ms) - 1, int(0.95 * len(stage_ms)))] if stage_ms else 0.0
    return {
        "conversations": len(conversations),
        "turns": risky + safe,
        "level_recall": share(detected, risky),
        "high_recall": share(high_hits, high),
        "false_alarms": share(alarms, safe),
        "false_high": share(high_alarms, safe),
        "category_recall": share(cats_found, cats_expected),
        "reply_checks_passed": passed,
        "reply_checks": checks,
        "reply_check_rate": share(passed, checks),
        "p95_ms": round(p95, 1),
        "missed": missed,
        "alarmed": alarmed,
        "failed_checks": failed,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures of each file as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.risk_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="labelled TSV files (text, level[, category, note])")
    parser.add_argument("--conversations", action="append", default=[], metavar="FILE.jsonl",
                        help="conversations, one JSON object per line (see the module docstring)")  # fmt: skip
    parser.add_argument("--misses", action="store_true", help="also list missed risk statements and false alarms")
    parser.add_argument("--rules-only", action="store_true", help="the phrase rules alone, without the classifier")
    args = parser.parse_args(argv)
    if not args.files and not args.conversations:
        parser.error("give labelled TSV files or --conversations FILE.jsonl")
    hidden = ("missed", "alarmed", "failed_checks")
    assess = assess_risk if args.rules_only or not args.files else _hybrid()
    for path in args.files:
        figures = evaluate(read_cases(path), assess)
        if not args.misses:
            figures = {k: v for k, v in figures.items() if k not in hidden}
        print(json.dumps({"file": path, **figures}, ensure_ascii=False))
    if args.conversations:
        from pipeline.settings import Settings
        from pipeline.turn import Pipeline

        pipeline = Pipeline(Settings.from_env())
        for path in args.conversations:
            figures = evaluate_conversations(read_conversations(path), pipeline)
            if not args.misses:
                figures = {k: v for k, v in figures.items() if k not in hidden}
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
