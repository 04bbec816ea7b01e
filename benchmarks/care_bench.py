"""Benchmark the care layer (conversation risk state, screening, grounding) and one whole text turn.

Runs the development conversations (``tests/data/care_conversations_dev.jsonl``) ``--repeat``
times and prints one JSON object:

- ``care_layer_ms``: ``pipeline.care.policy.care_turn`` alone (observe + crisis / answer /
  screening / grounding) around a constant responder: what Care v2 adds to a turn;
- ``turn_ms``: risk + emotion + reply of the configured pipeline (``run_text``, no speech), the
  figure of the 40 ms p95 target in ARCHITECTURE.md. The responder's query cache is cleared
  before each turn so that repeats measure uncached work.

Run::

    .venv/bin/python -m benchmarks.care_bench --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from pipeline.care.conversation import CareState
from pipeline.care.policy import care_turn, warm_up
from pipeline.care.risk import assess_risk
from pipeline.settings import Settings
from pipeline.turn import Pipeline
from pipeline.types import EMOTION_LABELS, Emotion, HistoryTurn, Reply

REPO = Path(__file__).resolve().parents[1]
DEV = REPO / "tests" / "data" / "care_conversations_dev.jsonl"


def _figures(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 2),
        "p95": round(values[min(len(values) - 1, int(0.95 * len(values)))], 2),
        "max": round(values[-1], 2),
    }


def bench_layer(conversations: list[dict], repeat: int) -> list[float]:
    """Milliseconds per turn of the care layer alone (risk, state, reply choice) over the dev conversations."""
    emotion = Emotion("sadness", {label: (0.7 if label == "sadness" else 0.05) for label in EMOTION_LABELS})

    def respond(text, emo, risk, history=()):
        return Reply("그런 일이 있었군요. 조금 더 들려주실래요?", "empathy", "bench")

    warm_up()  # Kiwi is built once per worker (Pipeline.load_all), not per turn
    assess_risk("")
    times = []
    for _ in range(repeat):
        for conv in conversations:
            state, history = CareState(), []
            for turn in conv["turns"]:
                risk = assess_risk(turn["text"])
                start = time.perf_counter()
                out = care_turn(turn["text"], emotion, risk, state, history, respond)
                times.append((time.perf_counter() - start) * 1e3)
                state = out.state
                history.append(HistoryTurn(turn["text"], out.reply.text, "sadness", out.reply.reply_id))
    return times


def bench_turns(conversations: list[dict], repeat: int) -> list[float]:
    """Milliseconds per text turn through the configured pipeline (models loaded beforehand)."""
    pipe = Pipeline(Settings.from_env())
    _ = pipe.classifier, pipe.responder  # loading is not turn time
    assess_risk("")
    times = []
    for _ in range(repeat):
        for conv in conversations:
            state, history = CareState(), []
            for turn in conv["turns"]:
                getattr(pipe.responder, "_queries", {}).clear()
                result = pipe.run_text(turn["text"], history, synthesize=False, care_state=state)
                t = result.timings_ms
                times.append(t["risk"] + t["emotion"] + t["respond"])
                state = result.care_state
                history.append(
                    HistoryTurn(result.transcript.text, result.reply.text, result.emotion.label, result.reply.reply_id)
                )
    return times


def main(argv: list[str] | None = None) -> int:
    """Time the care layer (and, unless ``--layer-only``, whole text turns); print p50/p95 as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the conversations")
    parser.add_argument("--layer-only", action="store_true", help="skip the whole-turn figures (no models)")
    args = parser.parse_args(argv)
    conversations = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = {"conversations": len(conversations), "care_layer_ms": _figures(bench_layer(conversations, args.repeat))}
    if not args.layer_only:
        out["turn_ms"] = _figures(bench_turns(conversations, args.repeat))
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
