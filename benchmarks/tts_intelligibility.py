"""Intelligibility of the synthesizers side by side: speak fixed Korean replies, read them back, print CER.

Synthesises ``REPLIES`` (20 replies in Maum's register, with numbers, times, dates, phone
numbers, money and Latin letters) with each synthesizer (``--synthesizers``, default
``kokoro,espeak``; no sentence cache), transcribes each WAV with the configured transcriber
(default Whisper base, beam 5) listening with its full 30-s window (``--window``): the voice is
judged by the most careful listener there is, not by the shorter window the app uses to keep up
under load (``MAUM_WHISPER_WINDOW_S``), and prints one JSON object: CER overall and per sentence, and
the synthesis real-time factor (synthesis seconds per second of speech) of each.

Both sides are compared as spoken text: the reference and Whisper's transcript go through
``pipeline.text.normalize`` (Whisper writes ``109`` or ``3시`` in digits), then ``pipeline.metrics.cer``
drops spaces and punctuation. ``cer_written`` compares the written reply with the raw transcript,
for reference.

Run::

    make bench-tts      # or: HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.tts_intelligibility --out /tmp/tts
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

from pipeline import audio, registry
from pipeline.metrics import cer
from pipeline.settings import Settings
from pipeline.stages import synthesize_in_tone
from pipeline.text.normalize import normalize
from pipeline.turn import Pipeline

REPLIES = [
    "안녕하세요. 저는 마음이에요. 오늘 하루는 어떠셨어요?",
    "많이 힘드셨겠어요. 천천히 이야기해 주세요.",
    "그런 일이 있었군요. 그 마음 충분히 이해해요.",
    "지금 많이 힘드시면 자살예방상담전화 109에 전화해 주세요.",
    "정신건강위기상담 전화는 1577-0199예요. 24시간 받아요.",
    "위급한 상황이면 112나 119에 바로 연락하세요.",
    "청소년 상담은 1388, 여성 긴급전화는 1366이에요.",
    "다음 상담은 2025년 11월 21일 오후 3시 30분이에요.",
    "하루에 물을 8잔 정도 마셔 보세요.",
    "잠은 7시간에서 8시간 자는 게 좋아요.",
    "요즘 3주 동안 잠을 잘 못 주무셨군요.",
    "숨을 4초 동안 들이쉬고, 7초 동안 참았다가, 8초 동안 내쉬어 보세요.",
    "상담 비용은 한 번에 5,000원이에요.",
    "작은 일 3가지를 적어 보면 마음이 조금 가벼워질 거예요.",
    "저는 AI라서 진단이나 약 처방은 할 수 없어요.",
    "산책을 10분만 해도 기분이 달라질 수 있어요.",
    "6월이나 10월처럼 날씨 좋은 달에 여행을 계획해 보세요.",
    "친구 2명에게 먼저 연락해 보는 건 어떨까요?",
    "상담 센터 번호는 02-123-4567이에요.",
    "이야기해 줘서 고마워요. 언제든 다시 찾아와 주세요.",
]


def measure(pipe: Pipeline, synthesizer, name: str, out_dir: Path | None) -> dict:
    """Speak every reply with ``synthesizer``, read it back with the pipeline's transcriber."""
    settings = pipe.settings
    references = [normalize(text) for text in REPLIES]
    raw_hyps, hyps, rows = [], [], []
    synth_s = transcribe_s = speech_s = 0.0
    for i, (text, reference) in enumerate(zip(REPLIES, references, strict=True)):
        t0 = time.perf_counter()
        speech = synthesize_in_tone(synthesizer, text)  # no cache: every reply is synthesised here
        t1 = time.perf_counter()
        transcript = pipe.transcriber.transcribe(audio.decode(speech.wav, settings))
        t2 = time.perf_counter()
        synth_s += t1 - t0
        transcribe_s += t2 - t1
        speech_s += speech.duration_s
        if out_dir is not None:
            (out_dir / name).mkdir(parents=True, exist_ok=True)
            (out_dir / name / f"reply_{i:02d}.wav").write_bytes(speech.wav)
        spoken_hyp = normalize(transcript.text)
        raw_hyps.append(transcript.text)
        hyps.append(spoken_hyp)
        rows.append({
            "text": text,
            "heard": transcript.text,
            "cer": round(cer([reference], [spoken_hyp]), 4),
            "speech_s": round(speech.duration_s, 2),
        })  # fmt: skip
    return {
        "backend": getattr(synthesizer, "name", name),
        "cer": round(cer(references, hyps), 4),
        "cer_written": round(cer(REPLIES, raw_hyps), 4),
        "real_time_factor": round(synth_s / speech_s, 3),
        "seconds": {"synthesize": round(synth_s, 2), "transcribe": round(transcribe_s, 2),
                    "speech": round(speech_s, 2)},
        "per_sentence": rows,
    }  # fmt: skip


def run(
    out_dir: Path | None = None, synthesizers: tuple[str, ...] = ("kokoro", "espeak"), window_s: float = 30.0
) -> dict:
    """Speak the test replies with each synthesizer and read them back with Whisper: CER and speed."""
    settings = dataclasses.replace(Settings.from_env(), whisper_window_s=window_s)
    pipe = Pipeline(settings)
    start = time.perf_counter()
    transcriber = pipe.transcriber
    load_s = {"transcriber": round(time.perf_counter() - start, 2)}
    results = {}
    for name in synthesizers:
        t0 = time.perf_counter()
        synthesizer = registry.create("synthesizer", name, settings)
        load_s[name] = round(time.perf_counter() - t0, 2)
        results[name] = measure(pipe, synthesizer, name, out_dir)
    return {
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
                    "python": platform.python_version(), "platform": platform.platform()},
        "transcriber": getattr(transcriber, "name", settings.transcriber),
        "whisper_beam_size": settings.whisper_beam_size,
        "whisper_window_s": settings.whisper_window_s,
        "sentences": len(REPLIES),
        "cer": {name: r["cer"] for name, r in results.items()},
        "real_time_factor": {name: r["real_time_factor"] for name, r in results.items()},
        "load_s": load_s,
        "total_s": round(time.perf_counter() - start, 2),
        "synthesizers": results,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Compare the synthesizers' intelligibility; print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="also write each reply's WAV into this folder")
    parser.add_argument(
        "--synthesizers", default="kokoro,espeak", help="comma-separated synthesizers to compare (default: %(default)s)"
    )
    parser.add_argument(
        "--window", type=float, default=30.0, help="the listening Whisper's shortest window, s (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    names = tuple(n.strip() for n in args.synthesizers.split(",") if n.strip())
    print(json.dumps(run(args.out, names, args.window), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
