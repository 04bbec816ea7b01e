"""Benchmark the default voice pipeline on this machine and print one JSON object.

Measures, with the configured backends (defaults: whisper / e5-head / care / espeak):
- model load time per stage;
- per-stage latency p50/p95 (transcribe, risk, emotion, respond, and synthesize for a reply's
  first sentence), on sentences that are each new to the embedding caches (uncached work);
- the transcriber's real-time factor and CER on ``../shared/eval/korean-speech``;
- a ~5-second voice turn as the web app answers it: time to the reply text (decode → transcribe
  → risk → emotion → reply) and time to the first reply audio (plus the first sentence's
  synthesis, uncached), median and p95, with the text caches cleared before each;
- peak resident memory of the process.

Run::

    make bench          # or: .venv/bin/python -m benchmarks.pipeline_bench --repeat 10

Targets (ARCHITECTURE.md, 2 CPU cores): RTF ≤ 0.2, reply text ≤ 1200 ms and first reply audio
≤ 1800 ms median for a 5-s turn, emotion ≤ 20 ms, peak memory ≤ 1.5 GB. ``targets`` in the
output says which were met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from pipeline import audio
from pipeline.care.risk import assess_risk
from pipeline.metrics import cer, read_transcripts
from pipeline.settings import Settings
from pipeline.speech.voice import reply_sentences, spoken_text
from pipeline.stages import reply_tone, synthesize_in_tone
from pipeline.turn import Pipeline

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SPEECH = REPO.parent / "shared" / "eval" / "korean-speech"

SENTENCES = [
    "요즘 회사에서 너무 지쳐서 아무것도 하기 싫어요",
    "친구가 내 생일을 기억해 줘서 정말 기뻤어",
    "내일 발표가 있는데 너무 떨리고 무서워요",
    "동생이 또 내 물건을 마음대로 써서 화가 나",
    "오늘은 그냥 평범하게 하루를 보냈어요",
    "갑자기 합격 소식을 들어서 깜짝 놀랐어요",
    "그 사람 행동이 정말 역겨워서 보기도 싫어",
    "밤에 혼자 있으면 너무 외로워요",
]


# Said before a sentence, they make each pass's texts new to every cache without changing their feeling.
OPENERS = ["", "요즘 ", "사실은 ", "솔직히 ", "어제부터 ", "오늘도 ", "그런데 ", "음, ", "정말로 ", "아무래도 "]


def distinct_sentences(repeat: int) -> list[str]:
    """``repeat`` passes over ``SENTENCES``, every text different (an opener in front)."""
    if repeat > len(OPENERS):
        raise ValueError(f"at most {len(OPENERS)} passes have distinct sentences")
    return [opener + text for opener in OPENERS[:repeat] for text in SENTENCES]


def forget_text_caches(pipe: Pipeline) -> None:
    """Drop the embeddings the classifier and responder kept, so a repeated turn is timed uncached."""
    recent = getattr(pipe.embedder, "_recent", None)
    if recent is not None:
        recent.clear()
    queries = getattr(pipe.responder, "_queries", None)
    if queries is not None:
        queries.clear()


def percentiles(values: list[float]) -> dict[str, float]:
    """``{"p50", "p95", "n"}`` of ``values``, rounded to 0.1."""
    arr = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(arr, 50)), 1),
        "p95": round(float(np.percentile(arr, 95)), 1),
        "n": len(values),
    }


def run(speech_dir: Path, repeat: int) -> dict:
    """Load times and per-stage latencies of the configured pipeline over real Korean speech."""
    settings = Settings.from_env()
    pipe = Pipeline(settings)
    load_ms = {}
    for stage in ("transcriber", "classifier", "responder", "synthesizer"):
        start = time.perf_counter()
        pipe.backend(stage)
        load_ms[stage] = round((time.perf_counter() - start) * 1000.0, 1)

    items = [(path, text, audio.decode_file(path, settings)) for path, text in read_transcripts(speech_dir)]
    pipe.transcriber.transcribe(items[0][2])  # warm-up: first call allocates buffers

    transcribe_ms, processed_s, audio_s, hyps = [], 0.0, 0.0, []
    for i in range(repeat):
        for _, _, decoded in items:
            start = time.perf_counter()
            transcript = pipe.transcriber.transcribe(decoded)
            elapsed = time.perf_counter() - start
            transcribe_ms.append(elapsed * 1000.0)
            processed_s += elapsed
            audio_s += decoded.duration_s
            if i == 0:
                hyps.append(transcript.text)

    risk_ms, emotion_ms, respond_ms, synth_ms = [], [], [], []
    for text in distinct_sentences(repeat):  # each text once: no embedding cache hit is timed
        t0 = time.perf_counter()
        risk = assess_risk(text)
        t1 = time.perf_counter()
        emotion = pipe.classifier.classify(text)
        t2 = time.perf_counter()
        reply = pipe.responder.respond(text, emotion, risk)
        t3 = time.perf_counter()
        pipe.synthesizer.synthesize(reply_sentences(reply.text)[0])  # uncached: the backend itself
        t4 = time.perf_counter()
        risk_ms.append((t1 - t0) * 1e3)
        emotion_ms.append((t2 - t1) * 1e3)
        respond_ms.append((t3 - t2) * 1e3)
        synth_ms.append((t4 - t3) * 1e3)

    # End-to-end as the web app answers: the longest sample (~5 s), bytes in → reply text (the
    # answer does not wait for speech) → the first sentence's audio (what the page plays first).
    path, _, longest = max(items, key=lambda item: item[2].duration_s)
    raw = Path(path).read_bytes()
    text_ms, first_audio_ms = [], []
    for _ in range(repeat):
        forget_text_caches(pipe)
        start = time.perf_counter()
        result = pipe.run_recording(raw, synthesize=False)
        text_done = time.perf_counter()
        first = reply_sentences(spoken_text(result.reply))[0]
        synthesize_in_tone(pipe.synthesizer, first, reply_tone(result.reply.kind, result.emotion.label))
        text_ms.append((text_done - start) * 1000.0)
        first_audio_ms.append((time.perf_counter() - start) * 1000.0)

    rtf = processed_s / audio_s
    error_rate = cer([text for _, text, _ in items], hyps)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    text_median, first_audio_median = statistics.median(text_ms), statistics.median(first_audio_ms)
    return {
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
                    "python": platform.python_version(), "platform": platform.platform()},
        "backends": pipe.backend_names(),
        "settings": {"whisper_beam_size": settings.whisper_beam_size,
                     "whisper_cpu_threads": settings.whisper_cpu_threads,
                     "whisper_compute_type": settings.whisper_compute_type},
        "load_ms": load_ms,
        "latency_ms": {
            "transcribe": percentiles(transcribe_ms),
            "risk": percentiles(risk_ms),
            "emotion": percentiles(emotion_ms),
            "respond": percentiles(respond_ms),
            "synthesize": percentiles(synth_ms),
        },
        "transcriber": {
            "real_time_factor": round(rtf, 3),
            "cer": round(error_rate, 4),
            "audio_files": len(items),
            "audio_s": round(audio_s / repeat, 2),
            "hypotheses": hyps,
        },
        "turn_ms": {
            "audio_s": round(longest.duration_s, 2),
            "reply_text": percentiles(text_ms),
            "first_reply_audio": percentiles(first_audio_ms),
        },
        "peak_rss_mb": round(peak_rss_mb, 1),
        "targets": {
            "rtf_le_0.2": rtf <= 0.2,
            "reply_text_median_le_1200ms": text_median <= 1200.0,
            "first_reply_audio_median_le_1800ms": first_audio_median <= 1800.0,
            "emotion_p50_le_20ms": statistics.median(emotion_ms) <= 20.0,
            "peak_rss_le_1500mb": peak_rss_mb <= 1500.0,
        },
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Benchmark the configured pipeline stage by stage; print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH, help="folder with transcripts.tsv")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the data")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.speech_dir, args.repeat), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
