"""Whisper beam size: accuracy against time on real and synthetic Korean speech; prints JSON.

Transcribes, with each beam size, the three NIKL recordings (``../shared/eval/korean-speech``)
and the 20 fixed replies of ``benchmarks.tts_intelligibility`` as spoken by each synthesizer
(``kokoro`` and ``espeak``, synthesised once at the start). Both sides are compared as spoken
text (``pipeline.text.normalize``), as in ``make bench-tts``. Prints CER and transcription time per
beam and per set, so a beam that is as accurate for less time would show.

Run::

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.beam_sweep --beams 1,2,3,5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from benchmarks.pipeline_bench import DEFAULT_SPEECH
from benchmarks.tts_intelligibility import REPLIES
from pipeline import audio, registry
from pipeline.backends.whisper import WhisperTranscriber
from pipeline.metrics import cer, read_transcripts
from pipeline.settings import Settings
from pipeline.stages import synthesize_in_tone
from pipeline.text.normalize import normalize


def speech_sets(settings: Settings, speech_dir: Path, synthesizers: list[str]) -> dict[str, list]:
    """Set name → [(decoded audio, reference text)]."""
    sets = {"nikl": [(audio.decode_file(p, settings), text) for p, text in read_transcripts(speech_dir)]}
    for name in synthesizers:
        synthesizer = registry.create("synthesizer", name, settings)
        sets[name] = [(audio.decode(synthesize_in_tone(synthesizer, text).wav, settings), text) for text in REPLIES]
    return sets


def run(beams: list[int], speech_dir: Path, synthesizers: list[str]) -> dict:
    """Whisper's CER and speed for each beam size, on real speech and the synthesizers' renderings."""
    settings = Settings.from_env()
    sets = speech_sets(settings, speech_dir, synthesizers)
    results = {}
    for beam in beams:
        transcriber = WhisperTranscriber(dataclasses.replace(settings, whisper_beam_size=beam))
        transcriber.transcribe(sets["nikl"][0][0])  # warm-up
        row = {}
        for name, items in sets.items():
            start = time.perf_counter()
            heard = [normalize(transcriber.transcribe(decoded).text) for decoded, _ in items]
            seconds = time.perf_counter() - start
            row[name] = {
                "cer": round(cer([normalize(text) for _, text in items], heard), 4),
                "transcribe_s": round(seconds, 2),
                "audio_s": round(sum(decoded.duration_s for decoded, _ in items), 2),
            }
        row["all"] = {
            "transcribe_s": round(sum(r["transcribe_s"] for r in row.values()), 2),
        }
        results[f"beam_{beam}"] = row
    return {
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        "whisper_cpu_threads": settings.whisper_cpu_threads,
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    """Sweep the Whisper beam sizes given on the command line; print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beams", default="1,2,3,5", help="comma-separated beam sizes (default: %(default)s)")
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH, help="folder with transcripts.tsv")
    parser.add_argument("--synthesizers", default="kokoro,espeak", help="voices whose renderings are transcribed")
    args = parser.parse_args(argv)
    beams = [int(b) for b in args.beams.split(",") if b.strip()]
    names = [n.strip() for n in args.synthesizers.split(",") if n.strip()]
    print(json.dumps(run(beams, args.speech_dir, names), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
