"""Pronunciation scoring on the labelled set (``tests/data/pronunciation_set``), as JSON.

For every clip (Kokoro and espeak-ng readings of practice sentences, correct or with one planted
error, plus the three NIKL human recordings) and every listening condition (clean; telephone band
300–3400 Hz at 8 kHz; white noise at 10–20 dB SNR; both), the expensive evidence is computed once
with the real Whisper base model and cached on disk (``~/.cache/maum/pronunciation-bench``):
the transcript, the per-syllable probabilities of the target (spelled and pronounced forms) and of
another sentence, the log-probability of every rival hypothesis of the target (and, for correct
readings, of the other sentence: ``variants.hypotheses``), and the VAD stretches. The scorer is
then replayed on the cache, so thresholds can be tried in seconds.

Prints one JSON object with, for the ``calibration`` split and the frozen ``holdout_v2`` and
``holdout_v3`` splits separately:

* ``false_wrong_rate``: share of syllables of correct readings rated ``wrong``;
* ``false_wrong_beside_planted``: the same for the correct syllables of readings with a planted
  error, and ``false_wrong_all_correct_syllables`` for both together;
* ``unjudgeable_rate`` and ``unsure_rate`` on correct readings;
* ``recall``: share of planted errors whose syllable was rated ``wrong`` (by kind, too), and
  ``recall_wrong_or_unsure``: rated anything but good;
* ``auc_own_vs_other``: overall score of correct readings against their own sentence vs another;
* ``fluency_other``: fluency when a correct reading is scored against another sentence;
* ``ms_per_attempt``: live cost of one attempt (transcribe + acoustic evidence + VAD), median.

Run: ``make bench-pronounce`` or
``HF_HUB_OFFLINE=1 nice .venv/bin/python -m benchmarks.pronunciation_bench [--split holdout_v3]``;
``--grid`` prints the calibration split under a grid of thresholds (how they were chosen: the
best recall with at most 3 % of correct syllables wrong); ``--collect`` only computes missing
evidence; ``--cached-only`` leaves out (and counts) clips whose evidence is not cached yet;
``--scorer-file FILE`` replays another version of ``scoring.py`` on the same evidence (first-run
figures: the scorer before tuning, see README); ``--rivals`` replays with the rival hypotheses
weighed (``PronunciationScorer(rivals=True)``) and ``--margin-grid`` shows how their margins were
chosen on the calibration split.

The CTC phoneme head (``pipeline/pronunciation/phoneme_head.py``) listens to Whisper's encoder
frames; they are cached beside the evidence (``*.frames.npy``, float16) and computed when missing,
so a retrained head replays in seconds. The shipped head is used by default; ``--no-head`` replays
the scorer without it (today's figures), ``--head FILE`` another head, and ``--head-grid`` shows
how its margins were chosen on the calibration split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from pipeline.audio import decode_file
from pipeline.pronunciation import feedback, variants
from pipeline.pronunciation.conditions import degrade
from pipeline.pronunciation.g2p import pronounce
from pipeline.types import Audio, Transcript

REPO = Path(__file__).resolve().parents[1]
SET_DIR = REPO / "tests" / "data" / "pronunciation_set"
NIKL_DIR = (
    next(
        (p for p in (REPO.parent / "shared", REPO.parents[1] / "shared", REPO / "shared") if (p / "eval").is_dir()),
        REPO.parent / "shared",
    )
    / "eval"
    / "korean-speech"
)
CACHE = Path.home() / ".cache" / "maum" / "pronunciation-bench"
CONDITIONS = ("clean", "tel", "noisy", "tel_noisy")
CACHE_VERSION = 3
HOLDOUT = "holdout_v2"  # the NIKL recordings' split
#: The frozen splits (``generate.HOLDOUTS``): run for reporting, never tuned on.
HOLDOUTS = ("holdout_v2", "holdout_v3")
SPLITS = ("calibration", *HOLDOUTS)


@dataclass(frozen=True)
class Item:
    """One clip of the labelled set."""

    name: str
    path: Path
    text: str
    split: str
    source: str
    kind: str
    errors: tuple[dict[str, Any], ...]
    other_text: str


def load_items() -> list[Item]:
    """Every clip of the set, NIKL recordings included (all three in the holdout), the holdout first."""
    rows = [json.loads(line) for line in (SET_DIR / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    by_split: dict[str, list[str]] = {}
    for row in rows:
        texts = by_split.setdefault(row["split"], [])
        if row["text"] not in texts:
            texts.append(row["text"])
    items = []
    for row in rows:
        texts = by_split[row["split"]]
        other = texts[(texts.index(row["text"]) + 1) % len(texts)]
        items.append(
            Item(
                row["file"],
                SET_DIR / "audio" / row["file"],
                row["text"],
                row["split"],
                row["source"],
                row["kind"],
                tuple(row["errors"]),
                other,
            )
        )
    lines = (NIKL_DIR / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]
    nikl = [line.split("\t")[:2] for line in lines]
    for k, (name, text) in enumerate(nikl):
        other = nikl[(k + 1) % len(nikl)][1]
        items.append(Item(name, NIKL_DIR / "audio" / name, text, HOLDOUT, "nikl", "correct", (), other))
    return sorted(items, key=lambda item: item.split not in HOLDOUTS)


def conditions_for(item: Item) -> tuple[str, ...]:
    """Which listening conditions a clip is scored under (kept few: Whisper is slow on 2 shared cores).

    Every Kokoro clip clean, and each correct Kokoro reading once more under one degradation
    picked by hash; the NIKL recordings under all four; the espeak-ng readings clean (barely
    intelligible, robotic audio: in calibration too since session 5, so the phoneme head's margins
    are held to it as well).
    """
    if item.source == "nikl":
        return CONDITIONS
    if item.source == "espeak":
        return ("clean",)
    if item.kind != "correct":
        return ("clean",)
    digest = int(hashlib.sha256(item.name.encode()).hexdigest(), 16)
    return ("clean", CONDITIONS[1 + digest % 3])


def load_audio(item: Item, condition: str) -> Audio:
    """The clip under one listening condition."""
    audio = decode_file(item.path) if item.source == "nikl" else Audio(*_read(item.path))
    if condition == "clean":
        return audio
    seed = int(hashlib.sha256(f"{item.name}/{condition}".encode()).hexdigest(), 16) % 2**32
    return Audio(degrade(audio.samples, condition, seed), audio.sample_rate)


def _read(path: Path) -> tuple[np.ndarray, int]:
    samples, rate = sf.read(path, dtype="float32")
    return samples, rate


def texts_to_align(item: Item) -> list[str]:
    """Own sentence spelled and pronounced (kept for analysis: see ``judge_syllable``); the other spelled."""
    own = pronounce(item.text)
    return list(dict.fromkeys([own.spoken, own.hangul, pronounce(item.other_text).spoken]))


def cache_path(item: Item, condition: str) -> Path:
    """Where one clip's evidence under one condition is cached (keyed by the audio's content)."""
    audio_sha = hashlib.sha256(item.path.read_bytes()).hexdigest()
    key = hashlib.sha256(f"{CACHE_VERSION}/{audio_sha}/{condition}/{item.text}/{item.other_text}".encode())
    return CACHE / f"{key.hexdigest()[:20]}.json"


def hypothesis_texts(text: str) -> list[str]:
    """The references and learner-like competitors weighed for a target (``variants.hypotheses``)."""
    found = variants.hypotheses(pronounce(text))
    return list(dict.fromkeys([h.reference for h in found] + [h.text for h in found]))


def frames_path(item: Item, condition: str) -> Path:
    """Where one clip's Whisper encoder frames under one condition are cached (for the phoneme head)."""
    return cache_path(item, condition).with_suffix(".frames.npy")


def collect_frames(item: Item, condition: str, scorer: Any) -> np.ndarray:
    """Whisper encoder frames (T, 512) of one clip under one condition (cached on disk, float16)."""
    path = frames_path(item, condition)
    if path.exists():
        return np.load(path)
    frames = scorer.evidence.encoder_frames(load_audio(item, condition)).astype(np.float16)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, frames)
    return frames


def collect(item: Item, condition: str, scorer: Any) -> dict[str, Any]:
    """Evidence for one clip under one condition (cached on disk)."""
    path = cache_path(item, condition)
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    audio = load_audio(item, condition)
    own = pronounce(item.text)
    other_texts = [t for t in texts_to_align(item) if t not in (own.spoken, own.hangul)]
    own_hypotheses = hypothesis_texts(item.text)
    t0 = time.perf_counter()
    transcript = scorer.transcriber.transcribe(audio)
    t1 = time.perf_counter()
    own_probs, own_logprobs = scorer.evidence.weigh(audio, own.spoken, own_hypotheses)
    t2 = time.perf_counter()
    stretches = scorer.stretches(audio)
    t3 = time.perf_counter()
    # Not part of a live attempt: the pronounced form (analysis) and, for correct readings (scored
    # against another sentence too: AUC, fluency), the other sentence and its hypotheses.
    extra_texts = [own.hangul] if own.hangul != own.spoken else []
    extra_texts += other_texts
    other_hypotheses = hypothesis_texts(item.other_text) if item.kind == "correct" else []
    extra_probs, other_logprobs = scorer.evidence.weigh_many(audio, extra_texts, other_hypotheses)
    probs = dict(zip(extra_texts, extra_probs, strict=True))
    probs[own.spoken] = own_probs
    logprobs = dict(zip(own_hypotheses, own_logprobs, strict=True))
    logprobs.update(zip(other_hypotheses, other_logprobs, strict=True))
    data = {
        "transcript": transcript.text,
        "confidence": transcript.confidence,
        "stretches": stretches,
        "probs": probs,
        "logprobs": logprobs,
        "ms": {"transcribe": (t1 - t0) * 1e3, "acoustic": (t2 - t1) * 1e3, "vad": (t3 - t2) * 1e3},
        "duration_s": audio.duration_s,
        "rms_dbfs": float(20 * np.log10(np.sqrt(np.mean(audio.samples.astype(np.float64) ** 2)) + 1e-9)),
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return data


class _CachedTranscriber:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def transcribe(self, audio: Audio) -> Transcript:
        return Transcript(self.data["transcript"], confidence=self.data["confidence"])


#: The phoneme head the replay uses (``--head``/``--no-head``; the shipped one by default).
HEAD: dict[str, Any] = {"head": None}


class _CachedEvidence:
    def __init__(self, data: dict[str, Any]) -> None:
        self.probs = data["probs"]
        self.logprobs = data.get("logprobs", {})
        self.frames = data.get("_frames")

    def phoneme_posteriors(self, audio: Audio) -> np.ndarray | None:
        head = HEAD["head"]
        if head is None or self.frames is None:
            return None
        return head.log_posteriors(self.frames)

    def syllable_probabilities(self, audio: Audio, spoken: str) -> list[float | None]:
        return list(self.probs[spoken])

    def probabilities_for(self, audio: Audio, texts: Sequence[str]) -> list[list[float | None]]:
        return [list(self.probs[t]) if t in self.probs else [None] * len(t) for t in texts]

    def weigh(self, audio: Audio, spoken: str, texts: Sequence[str]) -> tuple[list[float | None], list[float]]:
        missing = [t for t in texts if t not in self.logprobs]
        if missing:
            raise KeyError(f"{len(missing)} hypotheses not cached, e.g. {missing[0]!r}")
        return self.syllable_probabilities(audio, spoken), [self.logprobs[t] for t in texts]


#: Replay with learner-like rivals weighed (``--rivals``; ``PronunciationScorer(rivals=True)``).
RIVALS = {"on": False}


def replay(data: dict[str, Any], audio: Audio, text: str, scorer_class: Any) -> Any:
    """Score from cached evidence (the same verdict the live scorer gives on that evidence)."""
    extra = {"rivals": True} if RIVALS["on"] else {}
    scorer = scorer_class(
        _CachedTranscriber(data), _CachedEvidence(data), stretches=lambda a: data["stretches"], **extra
    )
    return scorer.score(audio, text)


def _auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return round(wins / (len(positives) * len(negatives)), 4)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def evaluate(records: Sequence[tuple[Item, str, dict[str, Any]]], scorer_class: Any) -> dict[str, Any]:
    """Metrics over (item, condition, cached evidence) records."""
    ratings = {"good": 0, "unsure": 0, "wrong": 0, "unjudgeable": 0}
    by_source: dict[str, list[int]] = {}
    caught: dict[str, list[int]] = {}
    wrong_in_error_readings = [0, 0]
    flagged = [0, 0]
    own, other, fluency_other, fluency_own, ms = [], [], [], [], []
    for item, condition, data in records:
        audio = load_audio(item, condition)  # cheap; the scorer estimates its noise level
        result = replay(data, audio, item.text, scorer_class)
        ms.append(data["ms"]["transcribe"] + data["ms"]["acoustic"] + data["ms"]["vad"])
        planted = {e["index"]: e for e in item.errors}
        if item.kind == "correct":
            counts = by_source.setdefault(f"{item.source}/{condition}", [0, 0, 0])
            for s in result.syllables:
                ratings[s.rating] = ratings.get(s.rating, 0) + 1
                counts[0] += s.rating == feedback.WRONG
                counts[1] += 1
                counts[2] += s.rating == "unjudgeable"
            own.append(result.overall)
            fluency_own.append(result.fluency)
            mismatch = replay(data, audio, item.other_text, scorer_class)
            other.append(mismatch.overall)
            fluency_other.append(mismatch.fluency)
            continue
        for s in result.syllables:
            if s.index in planted:
                hit = caught.setdefault(planted[s.index]["kind"], [0, 0])
                hit[0] += s.rating == feedback.WRONG
                hit[1] += 1
                flagged[0] += s.rating in (feedback.WRONG, feedback.UNSURE)
                flagged[1] += 1
            else:
                wrong_in_error_readings[0] += s.rating == feedback.WRONG
                wrong_in_error_readings[1] += 1
    n_correct = sum(ratings.values())
    total_caught = sum(c[0] for c in caught.values())
    total_planted = sum(c[1] for c in caught.values())
    return {
        "clips": len(records),
        "correct_syllables": n_correct,
        "false_wrong_rate": _rate(ratings["wrong"], n_correct),
        "unsure_rate": _rate(ratings["unsure"], n_correct),
        "unjudgeable_rate": _rate(ratings["unjudgeable"], n_correct),
        "false_wrong_by_source": {
            k: {"rate": _rate(v[0], v[1]), "unjudgeable": _rate(v[2], v[1]), "n": v[1]}
            for k, v in sorted(by_source.items())
        },
        "false_wrong_beside_planted": _rate(*wrong_in_error_readings),
        "false_wrong_all_correct_syllables": _rate(
            ratings["wrong"] + wrong_in_error_readings[0], n_correct + wrong_in_error_readings[1]
        ),
        "recall": _rate(total_caught, total_planted),
        "planted": total_planted,
        "recall_wrong_or_unsure": _rate(*flagged),
        "recall_by_kind": {k: {"rate": _rate(*v), "n": v[1]} for k, v in sorted(caught.items())},
        "auc_own_vs_other": _auc(own, other),
        "overall_own_median": float(np.median(own)) if own else None,
        "overall_other_max": max(other) if other else None,
        "fluency_other_max": max(fluency_other) if fluency_other else None,
        "fluency_other_mean": round(float(np.mean(fluency_other)), 1) if fluency_other else None,
        "fluency_own_mean": round(float(np.mean(fluency_own)), 1) if fluency_own else None,
        "ms_per_attempt_median": round(float(np.median(ms)), 1) if ms else None,
    }


def records(
    split: str | None, sources: Sequence[str] | None = None, cached_only: bool = False
) -> Iterator[tuple[Item, str, dict[str, Any]]]:
    """Cached evidence for every clip and condition of a split (computing what is missing).

    With ``cached_only``, clips without cached evidence are left out (``evaluate`` counts them).
    """
    scorer = None
    for item in load_items():
        if split and item.split != split:
            continue
        if sources and item.source not in sources:
            continue
        for condition in conditions_for(item):
            key_path = item.path
            if not key_path.exists() and cached_only:
                _SKIPPED[item.split] = _SKIPPED.get(item.split, 0) + 1
                continue
            if not key_path.exists():
                raise SystemExit(f"missing {key_path}: run python -m tests.data.pronunciation_set.generate")
            try:
                data = _cached(item, condition)
            except FileNotFoundError:
                if cached_only:
                    _SKIPPED[item.split] = _SKIPPED.get(item.split, 0) + 1
                    continue
                if scorer is None:
                    scorer = _live_scorer()
                data = collect(item, condition, scorer)
            if HEAD["head"] is not None:
                if frames_path(item, condition).exists():
                    data["_frames"] = np.load(frames_path(item, condition))
                elif cached_only:
                    _SKIPPED[item.split] = _SKIPPED.get(item.split, 0) + 1
                    continue
                else:
                    scorer = scorer or _live_scorer()
                    data["_frames"] = collect_frames(item, condition, scorer)
            yield item, condition, data


_SKIPPED: dict[str, int] = {}


def _cached(item: Item, condition: str) -> dict[str, Any]:
    return json.loads(cache_path(item, condition).read_text(encoding="utf-8"))


def collect_all(split: str | None) -> int:
    """Compute the evidence still missing for every clip whose audio exists (the holdout first)."""
    scorer = None
    done = missing = 0
    todo = [(item, c) for item in load_items() if not split or item.split == split for c in conditions_for(item)]
    # Most telling first: Kokoro clips clean, the two splits in turn; then the rest.
    rank: dict[str, int] = {}
    order = []
    for item, condition in todo:
        first = item.source == "kokoro" and condition == "clean"
        rank[item.split + str(first)] = n = rank.get(item.split + str(first), -1) + 1
        order.append((not first, n, item.split not in HOLDOUTS))
    todo = [t for _, t in sorted(zip(order, todo, strict=True), key=lambda z: z[0])]
    for item, condition in todo:
        if not item.path.exists():
            missing += 1
            continue
        if cache_path(item, condition).exists() and frames_path(item, condition).exists():
            done += 1
            continue
        scorer = scorer or _live_scorer()
        collect_frames(item, condition, scorer)
        data = collect(item, condition, scorer)
        done += 1
        print(item.split, item.name, condition, round(sum(data["ms"].values())), "ms", flush=True)
    print(json.dumps({"collected": done, "audio_missing": missing}))
    return 0


def _live_scorer() -> Any:
    from pipeline.settings import Settings
    from pipeline.turn import Pipeline

    return Pipeline(Settings()).scorer


def _scorer_from(path: str) -> Any:
    """The ``PronunciationScorer`` class of a scoring module file (an older version, say)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("scoring_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.PronunciationScorer


def _grid(cached_only: bool = False) -> int:
    """How the thresholds were chosen: (ACOUSTIC_POOR, WRONG_CONTEXT) pairs on the calibration split.

    The rule: the highest recall of planted errors with at most 3 % of correct syllables wrong.
    """
    from pipeline.pronunciation import scoring

    recs = list(records("calibration", cached_only=cached_only))
    keep = (scoring.ACOUSTIC_POOR, scoring.WRONG_CONTEXT)
    try:
        for poor in (0.02, 0.05, 0.1, 0.2, 0.3):
            for context in (0.0, 0.3, 0.4, 0.5, 0.6, 0.7):
                scoring.ACOUSTIC_POOR, scoring.WRONG_CONTEXT = poor, context
                m = evaluate(recs, scoring.PronunciationScorer)
                keys = (
                    "false_wrong_rate",
                    "false_wrong_beside_planted",
                    "unsure_rate",
                    "recall",
                    "recall_wrong_or_unsure",
                    "fluency_other_max",
                )
                print(json.dumps({"poor": poor, "context": context, **{k: m[k] for k in keys}}), flush=True)
    finally:
        scoring.ACOUSTIC_POOR, scoring.WRONG_CONTEXT = keep
    return 0


MARGIN_STEPS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, float("inf"))
CONTEXT_STEPS = (0.0, 0.3, 0.5, 0.6)
KINDS = ("rule_not_applied", "substituted", "omitted", "inserted")


def margin_rows(recs: Sequence[tuple[Item, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per syllable of each record: its strongest rival (kind, margin), context, and the verdict without rivals."""
    from pipeline.pronunciation import scoring

    keep = dict(scoring.WRONG_MARGIN)
    scoring.WRONG_MARGIN.update(dict.fromkeys(KINDS, float("inf")))
    rows = []
    try:
        for item, condition, data in recs:
            audio = load_audio(item, condition)
            result = replay(data, audio, item.text, scoring.PronunciationScorer)
            _, rivals = scoring.best_rivals(pronounce(item.text), _CachedEvidence(data).weigh, audio)
            well = {
                s.index: s.status == "correct" and (s.probability or 0.0) >= scoring.ACOUSTIC_GOOD
                for s in result.syllables
            }
            planted = {e["index"]: e["kind"] for e in item.errors}
            for s in result.syllables:
                rival = rivals.get(s.index)
                others = len(well) - 1
                rows.append(
                    {
                        "clip": f"{item.name}/{condition}",
                        "probability": s.probability,
                        "planted": planted.get(s.index, ""),
                        "correct_clip": item.kind == "correct",
                        "kind": rival.variant.kind if rival else "",
                        "margin": rival.relative if rival and rival.peak else float("-inf"),
                        "context": (sum(well.values()) - well[s.index]) / others if others > 0 else 1.0,
                        "baseline": s.rating,
                    }
                )
    finally:
        scoring.WRONG_MARGIN.update(keep)
    return rows


def _margin_grid(cached_only: bool = False) -> int:
    """How WRONG_MARGIN and MARGIN_CONTEXT were chosen, on the calibration split.

    Every combination of per-kind margins (``MARGIN_STEPS``) and context (``CONTEXT_STEPS``); the
    rule: the most planted errors rated wrong with at most 3 % of the correct syllables wrong, both
    on correct readings and beside planted errors. Prints the chosen combination and its neighbours.
    """
    import itertools

    rows = margin_rows(list(records("calibration", cached_only=cached_only)))
    kind = np.array([r["kind"] for r in rows])
    margin = np.array([r["margin"] for r in rows])
    context = np.array([r["context"] for r in rows])
    planted = np.array([bool(r["planted"]) for r in rows])
    judged = np.array([r["baseline"] != feedback.UNJUDGEABLE for r in rows])
    base_wrong = np.array([r["baseline"] == feedback.WRONG for r in rows])
    on_correct = np.array([r["correct_clip"] for r in rows]) & ~planted
    beside = ~np.array([r["correct_clip"] for r in rows]) & ~planted
    results = []
    for steps in itertools.product(MARGIN_STEPS, repeat=len(KINDS)):
        limit = np.full(len(rows), np.inf)
        for k, step in zip(KINDS, steps, strict=True):
            limit[kind == k] = step
        for ctx in CONTEXT_STEPS:
            wrong = base_wrong | (judged & (margin >= limit) & (context >= ctx))
            fw_correct = wrong[on_correct].mean() if on_correct.any() else 0.0
            fw_beside = wrong[beside].mean() if beside.any() else 0.0
            recall = wrong[planted].mean() if planted.any() else 0.0
            results.append((float(recall), -max(fw_correct, fw_beside), steps, ctx, fw_correct, fw_beside))
    ok = sorted((r for r in results if r[4] <= 0.03 and r[5] <= 0.03), key=lambda r: (r[0], r[1]), reverse=True)
    print(json.dumps({"syllables": len(rows), "planted": int(planted.sum()), "on_correct": int(on_correct.sum())}))
    for recall, _, steps, ctx, fw_c, fw_b in ok[:15]:
        line = {"margins": dict(zip(KINDS, steps, strict=True)), "context": ctx, "recall": round(recall, 4)}
        print(json.dumps({**line, "false_wrong": round(fw_c, 4), "false_wrong_beside": round(fw_b, 4)}))
    by_kind = {
        k: sorted(round(float(m), 2) for m, pk in zip(margin, [r["planted"] for r in rows], strict=True) if pk == k)
        for k in KINDS
    }
    print(
        json.dumps(
            {"planted_margins": by_kind, "correct_margins_p97": float(np.percentile(margin[on_correct | beside], 97))}
        )
    )
    return 0


def head_rows(recs: Sequence[tuple[Item, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per syllable of each record: the head's strongest rival (kind, margin), per-frame fit, verdict without it."""
    from pipeline.pronunciation import scoring
    from pipeline.pronunciation.phoneme_head import head_rivals
    from pipeline.pronunciation.quality import assess

    head = HEAD["head"]
    HEAD["head"] = None
    rows = []
    try:
        for item, condition, data in recs:
            audio = load_audio(item, condition)
            result = replay(data, audio, item.text, scoring.PronunciationScorer)
            evidence = head_rivals(head.log_posteriors(data["_frames"]), pronounce(item.text))
            degraded = assess(audio).degraded
            planted = {e["index"]: e["kind"] for e in item.errors}
            for s in result.syllables:
                kinds = evidence.by_kind.get(s.index, {})
                rows.append(
                    {
                        "clip": f"{item.name}/{condition}",
                        "condition": condition,
                        "source": item.source,
                        "planted": planted.get(s.index, ""),
                        "correct_clip": item.kind == "correct",
                        "margins": {k: kinds[k].margin if k in kinds else float("-inf") for k in KINDS},
                        "per_frame": evidence.per_frame,
                        "degraded": degraded,
                        "baseline": s.rating,
                    }
                )
    finally:
        HEAD["head"] = head
    return rows


HEAD_STEPS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0, float("inf"))
VETO_STEPS = (float("inf"), 5.0, 2.0)
PER_FRAME_STEPS = (-float("inf"), -1.0)


def _head_grid(cached_only: bool = False) -> int:
    """How HEAD_WRONG, HEAD_VETO and HEAD_MIN_PER_FRAME were chosen, on the calibration split.

    The rule: the most planted errors rated wrong with at most 3 % of correct syllables wrong on
    correct readings in every listening condition (clean, telephone, noisy, both), on the espeak-ng
    readings, and beside planted errors. The head's "wrong" is gated as in ``scoring.judge_syllable``: on audio that
    ``quality.assess`` finds degraded it stands only where the verdict without the head is wrong.
    """
    import itertools

    rows = head_rows(list(records("calibration", cached_only=cached_only)))
    margins = {k: np.array([r["margins"][k] for r in rows]) for k in KINDS}
    top = np.max(np.stack(list(margins.values())), axis=0)
    per_frame = np.array([r["per_frame"] for r in rows])
    gated = np.array([r["degraded"] for r in rows])
    planted = np.array([bool(r["planted"]) for r in rows])
    judged = np.array([r["baseline"] != feedback.UNJUDGEABLE for r in rows])
    base_wrong = np.array([r["baseline"] == feedback.WRONG for r in rows])
    correct_clip = np.array([r["correct_clip"] for r in rows])
    on_correct = correct_clip & ~planted
    condition = np.array([r["condition"] for r in rows])
    espeak = np.array([r["source"] == "espeak" for r in rows])
    groups = [on_correct & ~espeak & (condition == c) for c in CONDITIONS]
    groups += [on_correct & espeak, ~correct_clip & ~planted]
    degraded = on_correct & (condition != "clean")
    results = []
    over = {(k, step): margins[k] >= step for k in KINDS for step in HEAD_STEPS}
    for steps in itertools.product(HEAD_STEPS, repeat=len(KINDS)):
        beaten = np.zeros(len(rows), dtype=bool)
        for k, step in zip(KINDS, steps, strict=True):
            beaten |= over[k, step]
        for veto, floor in itertools.product(VETO_STEPS, PER_FRAME_STEPS):
            ok = judged & (per_frame >= floor)
            wrong = (ok & beaten & (~gated | base_wrong)) | (base_wrong & ~(ok & (top < -veto)))
            rates = [float(wrong[m].mean()) if m.any() else 0.0 for m in groups]
            recall = float(wrong[planted].mean()) if planted.any() else 0.0
            results.append((recall, -max(rates), steps, veto, floor, rates))
    ok_rows = sorted((r for r in results if max(r[5]) <= 0.03), key=lambda r: (r[0], r[1]), reverse=True)
    print(json.dumps({"syllables": len(rows), "planted": int(planted.sum()), "on_correct": int(on_correct.sum()),
                      "degraded": int(degraded.sum()), "gated": int(gated[on_correct].sum()),
                      "false_wrong_groups": [*CONDITIONS, "espeak", "beside_planted"]}))  # fmt: skip
    for recall, _, steps, veto, floor, rates in ok_rows[:15]:
        line = {"margins": dict(zip(KINDS, steps, strict=True)), "veto": veto, "min_per_frame": floor}
        print(json.dumps({**line, "recall": round(recall, 4), "false_wrong": [round(x, 4) for x in rates]}))
    planted_kind = np.array([r["planted"] for r in rows])
    for k in KINDS:  # the planted syllables' margin of their own kind, and the correct syllables' spread
        own = sorted(round(float(m), 1) for m in margins[k][planted_kind == k])
        correct = margins[k][on_correct | groups[-1]]
        correct = correct[np.isfinite(correct)]
        spread = [round(float(np.percentile(correct, q)), 1) for q in (50, 90, 97, 99, 100)] if len(correct) else []
        print(json.dumps({"kind": k, "planted": own, "correct_p50_p90_p97_p99_max": spread}))
    return 0


def _quality_table() -> int:
    """How ``quality.BAND_LIMITED_DB`` and ``NOISY_SNR_DB`` were chosen: the measures per condition, calibration only.

    Reads only the audio (no Whisper evidence needed): every calibration clip under each of the four
    listening conditions, so each condition is seen on every sentence and voice.
    """
    from pipeline.pronunciation import quality

    seen: dict[str, dict[str, list[float]]] = {}
    for item in load_items():
        if item.split != "calibration" or not item.path.exists():
            continue
        for condition in CONDITIONS:
            q = quality.assess(load_audio(item, condition))
            group = seen.setdefault(f"{item.source}/{condition}", {"high_band_db": [], "snr_db": [], "degraded": []})
            group["high_band_db"].append(q.high_band_db)
            group["snr_db"].append(q.snr_db)
            group["degraded"].append(float(q.degraded))
    out = {
        name: {
            "n": len(v["snr_db"]),
            "high_band_db_min_p5_p50_p95_max": [
                round(float(np.percentile(v["high_band_db"], q)), 1) for q in (0, 5, 50, 95, 100)
            ],
            "snr_db_min_p5_p50_p95_max": [round(float(np.percentile(v["snr_db"], q)), 1) for q in (0, 5, 50, 95, 100)],
            "judged_degraded": round(float(np.mean(v["degraded"])), 4),
        }
        for name, v in sorted(seen.items())
    }
    print(
        json.dumps({"band_limited_db": quality.BAND_LIMITED_DB, "noisy_snr_db": quality.NOISY_SNR_DB, **out}, indent=1)
    )
    return 0


def _time_attempts(n: int) -> int:
    """Live time per attempt (the app's whole ``score``) on the first ``n`` clean calibration clips."""
    import os

    scorer = _live_scorer()
    items = [i for i in load_items() if i.split == "calibration" and i.source == "kokoro"][:n]
    scorer.score(load_audio(items[0], "clean"), items[0].text)  # warm up (first call loads the VAD)
    totals, parts = [], {}
    for item in items:
        t0 = time.perf_counter()
        result = scorer.score(load_audio(item, "clean"), item.text)
        totals.append((time.perf_counter() - t0) * 1e3)
        for k, v in result.timings_ms.items():
            parts.setdefault(k, []).append(v)
    print(
        json.dumps(
            {
                "attempts": len(totals),
                "ms_p50": round(float(np.median(totals))),
                "ms_max": round(max(totals)),
                "parts_ms_p50": {k: round(float(np.median(v)), 1) for k, v in parts.items()},
                "head": getattr(scorer.evidence, "head", None) is not None,
                "load_average": os.getloadavg(),
            }
        )
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Print the metrics of each split as one JSON object."""
    from pipeline.pronunciation.scoring import PronunciationScorer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=SPLITS, help="one split only (default: all three)")
    parser.add_argument("--collect", action="store_true", help="only compute the missing evidence (clips with audio)")
    parser.add_argument(
        "--cached-only", action="store_true", help="leave out clips whose evidence is not cached yet (counted)"
    )
    parser.add_argument("--sources", nargs="*", help="only these sources (kokoro, espeak, nikl)")
    parser.add_argument(
        "--grid", action="store_true", help="calibration only: metrics for a grid of the two acoustic thresholds"
    )
    parser.add_argument(
        "--margin-grid", action="store_true", help="calibration only: how the rival margins were chosen"
    )
    parser.add_argument("--rivals", action="store_true", help="weigh learner-like rivals (off in the app for now)")
    parser.add_argument("--time", type=int, metavar="N", help="live time per attempt on N calibration clips")
    parser.add_argument(
        "--quality", action="store_true", help="calibration only: the recording-quality measures per condition"
    )
    parser.add_argument("--no-head", action="store_true", help="replay without the CTC phoneme head (before it)")
    parser.add_argument("--head", help="replay with this phoneme head file instead of the shipped one")
    parser.add_argument(
        "--head-grid", action="store_true", help="calibration only: how the phoneme head's margins were chosen"
    )
    parser.add_argument(
        "--scorer-file",
        help="replay the PronunciationScorer of another scoring.py (e.g. main's, for first-run figures)",
    )
    args = parser.parse_args(argv)
    RIVALS["on"] = args.rivals
    from pipeline.pronunciation.phoneme_head import PhonemeHead

    HEAD["head"] = None if args.no_head else PhonemeHead.load(args.head) if args.head else PhonemeHead.load_default()
    if args.quality:
        return _quality_table()
    if args.head_grid:
        return _head_grid(args.cached_only)
    if args.time:
        return _time_attempts(args.time)
    if args.collect:
        return collect_all(args.split)
    if args.grid:
        return _grid(args.cached_only)
    if args.margin_grid:
        return _margin_grid(args.cached_only)
    if args.scorer_file:
        PronunciationScorer = _scorer_from(args.scorer_file)  # noqa: N806
    splits = [args.split] if args.split else list(SPLITS)
    out = {}
    for split in splits:
        recs = list(records(split, args.sources, args.cached_only))
        out[split] = evaluate(recs, PronunciationScorer)
        out[split]["left_out_uncached"] = _SKIPPED.get(split, 0)
        out[split]["without_espeak"] = evaluate([r for r in recs if r[0].source != "espeak"], PronunciationScorer)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
