"""Benchmark the default voice pipeline on this machine and print one JSON object.

Measures, with the configured backends (defaults: whisper / e5-head / care / espeak):
- model load time per stage;
- per-stage latency p50/p95 (transcribe, risk, emotion, respond, synthesize);
- the transcriber's real-time factor and CER on ``../shared/eval/korean-speech``;
- end-to-end latency of a ~5-second voice turn (decode → … → reply WAV), median and p95;
- peak resident memory of the process.

Run::

    make bench          # or: .venv/bin/python -m benchmarks.pipeline_bench --repeat 10

Targets (ARCHITECTURE.md, 2 CPU cores): RTF ≤ 0.2, 5-s turn median ≤ 1200 ms, emotion ≤ 20 ms,
peak memory ≤ 1.2 GB. ``targets`` in the output says which were met.
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


def percentiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(arr, 50)), 1),
        "p95": round(float(np.percentile(arr, 95)), 1),
        "n": len(values),
    }


def run(speech_dir: Path, repeat: int) -> dict:
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
    for _ in range(repeat):
        for text in SENTENCES:
            t0 = time.perf_counter()
            risk = assess_risk(text)
            t1 = time.perf_counter()
            emotion = pipe.classifier.classify(text)
            t2 = time.perf_counter()
            reply = pipe.responder.respond(text, emotion, risk)
            t3 = time.perf_counter()
            pipe.synthesizer.synthesize(reply.text)
            t4 = time.perf_counter()
            risk_ms.append((t1 - t0) * 1e3)
            emotion_ms.append((t2 - t1) * 1e3)
            respond_ms.append((t3 - t2) * 1e3)
            synth_ms.append((t4 - t3) * 1e3)

    # End-to-end: the longest sample (~5 s), bytes in → reply WAV out, as the web app runs it.
    path, _, longest = max(items, key=lambda item: item[2].duration_s)
    raw = Path(path).read_bytes()
    turn_ms = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = pipe.run_recording(raw)
        assert result.speech is not None
        turn_ms.append((time.perf_counter() - start) * 1000.0)

    rtf = processed_s / audio_s
    error_rate = cer([text for _, text, _ in items], hyps)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    turn_median = statistics.median(turn_ms)
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
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
        "turn_ms": {**percentiles(turn_ms), "audio_s": round(longest.duration_s, 2)},
        "peak_rss_mb": round(peak_rss_mb, 1),
        "targets": {
            "rtf_le_0.2": rtf <= 0.2,
            "turn_median_le_1200ms": turn_median <= 1200.0,
            "emotion_p50_le_20ms": statistics.median(emotion_ms) <= 20.0,
            "peak_rss_le_1200mb": peak_rss_mb <= 1200.0,
        },
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH, help="folder with transcripts.tsv")
    parser.add_argument("--repeat", type=int, default=5, help="passes over the data")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.speech_dir, args.repeat), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
