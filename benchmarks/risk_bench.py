"""Benchmark the text part of a turn with the hybrid risk assessor: risk + emotion + reply, uncached.

Each sentence is used once (the e5 embedder remembers the last 32 sentences, and a cache hit is
not a latency figure), in two passes over different sentences of the risk corpus dev split:

- ``hybrid``: rules + classifier (the turn embeds the sentence once, in the risk stage; emotion and
  reply reuse that embedding);
- ``rules_only``: the rules alone (the emotion stage pays for the embedding).

It also times the classifier's own work on an embedded sentence (``classifier_only_ms``: the
head's n-gram features and matrix products, what the hybrid adds to a turn). Target
(ARCHITECTURE.md, 2 cores): risk + emotion + reply ≤ 40 ms p95.

Run::

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.risk_bench --sentences 150
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.care.assessor import RiskAssessor
from pipeline.settings import Settings
from pipeline.turn import Pipeline

REPO = Path(__file__).resolve().parents[1]
DEV = REPO / "training" / "data" / "risk" / "dev.tsv"


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values)
    return {
        "p50": round(float(np.percentile(arr, 50)), 2),
        "p95": round(float(np.percentile(arr, 95)), 2),
        "n": len(values),
    }


def _turns(pipe: Pipeline, texts: list[str]) -> dict:
    risk_ms, emotion_ms, respond_ms, total_ms = [], [], [], []
    for text in texts:
        t0 = time.perf_counter()
        risk = pipe.risk_assessor.assess(text)
        t1 = time.perf_counter()
        emotion = pipe.classifier.classify(text)
        t2 = time.perf_counter()
        pipe.responder.respond(text, emotion, risk)
        t3 = time.perf_counter()
        risk_ms.append((t1 - t0) * 1e3)
        emotion_ms.append((t2 - t1) * 1e3)
        respond_ms.append((t3 - t2) * 1e3)
        total_ms.append((t3 - t0) * 1e3)
    return {
        "risk": _stats(risk_ms),
        "emotion": _stats(emotion_ms),
        "respond": _stats(respond_ms),
        "risk+emotion+reply": _stats(total_ms),
    }


def run(n: int) -> dict:
    """Risk assessment latency (rules, classifier, both) over ``n`` distinct dev sentences, uncached."""
    with DEV.open(encoding="utf-8", newline="") as f:
        texts = list(dict.fromkeys(r["text"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)))
    if len(texts) < 2 * n + 40:
        raise SystemExit(f"need {2 * n + 40} distinct sentences, {DEV} has {len(texts)}")
    settings = dataclasses.replace(Settings.from_env(), risk_classifier="e5-head")
    hybrid = Pipeline(settings)
    hybrid.classifier, hybrid.responder  # noqa: B018 - load before timing
    assert hybrid.risk_assessor.uses_classifier, "the risk head did not load (see the log)"
    rules_only = Pipeline(
        dataclasses.replace(settings, risk_classifier="rules"),
        classifier=hybrid.classifier,
        responder=hybrid.responder,
    )
    warm = texts[-40:]
    _turns(hybrid, warm[:20])
    _turns(rules_only, warm[20:])

    assessor: RiskAssessor = hybrid.risk_assessor
    head_ms = []
    for text in texts[2 * n : 2 * n + 40]:
        embedding = assessor.embed([text])
        start = time.perf_counter()
        assessor.head.signals(embedding, [text])
        head_ms.append((time.perf_counter() - start) * 1e3)
    return {
        "sentences_per_pass": n,
        "hybrid": _turns(hybrid, texts[:n]),
        "rules_only": _turns(rules_only, texts[n : 2 * n]),
        "classifier_only_ms": _stats(head_ms),
        "target_p95_ms": 40,
    }


def main(argv: list[str] | None = None) -> int:
    """Time the hybrid risk assessor; print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=150, help="distinct sentences per pass")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.sentences), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
