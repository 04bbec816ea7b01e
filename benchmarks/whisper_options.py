"""Whisper decoding options: accuracy against time on real and synthetic Korean speech; prints JSON.

Transcribes the three NIKL recordings (``../shared/eval/korean-speech``) and the 20 fixed replies
of ``benchmarks.tts_intelligibility`` as Kokoro and espeak speak them (WAVs written by ``make
bench-tts --out DIR``: ``DIR/kokoro/reply_NN.wav`` and ``DIR/espeak/…``, or synthesised here
once) with several options, interleaved (each clip is transcribed with every option in turn, so a
change in the machine's load hits all options alike). Both sides are compared as spoken text
(``pipeline.text.normalize``), as in ``make bench-tts``. Prints CER and transcription time per
option and set, and for each option whether it is at least as accurate as the full 30-s window
with beam 5 (the old default) on every set.

Options: ``beam`` (beam size), ``window_s`` (the shortest window the encoder sees,
``MAUM_WHISPER_WINDOW_S``; 30 is Whisper's full window), ``notime`` (``without_timestamps=True``).

Run::

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.tts_intelligibility --out /tmp/tts
    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.whisper_options --synthetic-dir /tmp/tts --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks.pipeline_bench import DEFAULT_SPEECH
from benchmarks.tts_intelligibility import REPLIES
from pipeline import audio, registry
from pipeline.backends.whisper import is_hallucination
from pipeline.metrics import cer, read_transcripts
from pipeline.settings import Settings
from pipeline.text.normalize import normalize

OPTIONS = {
    "beam5_window30": {"beam_size": 5, "window_s": 30.0},
    "beam5_window10": {"beam_size": 5, "window_s": 10.0},
    "beam5_window0": {"beam_size": 5, "window_s": 0.0},
    "beam5_window10_notime": {"beam_size": 5, "window_s": 10.0, "without_timestamps": True},
    "beam3_window10": {"beam_size": 3, "window_s": 10.0},
}
BASELINE = "beam5_window30"
SYNTHESIZERS = ("kokoro", "espeak")


def clips(settings: Settings, speech_dir: Path, synthetic_dir: Path | None) -> list[tuple[str, str, object]]:
    """``(set, reference, audio)`` for the real recordings and the replies each synthesizer spoke."""
    out = [("nikl", text, audio.decode_file(path, settings)) for path, text in read_transcripts(speech_dir)]
    for name in SYNTHESIZERS:
        folder = synthetic_dir / name if synthetic_dir is not None else None
        if folder is not None and (folder / "reply_00.wav").is_file():
            wavs = [folder / f"reply_{i:02d}.wav" for i in range(len(REPLIES))]
            out += [(name, t, audio.decode_file(p, settings)) for p, t in zip(wavs, REPLIES, strict=True)]
        else:
            synthesizer = registry.create("synthesizer", name, settings)
            out += [(name, t, audio.decode(synthesizer.synthesize(t).wav, settings)) for t in REPLIES]
    return out


def transcribe(model, samples, options: dict) -> str:
    """One transcript of ``samples`` with the given options (``window_s`` is the model's)."""
    options = dict(options)
    model.min_window_s = options.pop("window_s", 30.0)
    segments, _ = model.transcribe(
        samples, language="ko", task="transcribe", vad_filter=True, condition_on_previous_text=False, **options
    )
    return " ".join(
        s.text.strip()
        for s in segments
        if s.text.strip() and not is_hallucination(s.text, s.no_speech_prob, s.avg_logprob)
    )


def run(speech_dir: Path, synthetic_dir: Path | None, repeat: int) -> dict:
    """CER and transcription time of every option on the real and synthetic recordings."""
    settings = Settings.from_env()
    model = registry.create("transcriber", "whisper", settings).model
    items = clips(settings, speech_dir, synthetic_dir)
    sets = sorted({item[0] for item in items})
    transcribe(model, items[0][2].samples, OPTIONS[BASELINE])  # warm-up
    hyps = {name: [] for name in OPTIONS}
    times = {name: {which: [] for which in sets} for name in OPTIONS}
    for which, _, clip in items:
        for r in range(repeat):
            for name, options in OPTIONS.items():
                start = time.perf_counter()
                text = transcribe(model, clip.samples, options)
                times[name][which].append((time.perf_counter() - start) * 1000.0)
                if r == 0:
                    hyps[name].append(text)
    result = {}
    for name in OPTIONS:
        row = {}
        for which in sets:
            idx = [i for i, item in enumerate(items) if item[0] == which]
            refs = [normalize(items[i][1]) for i in idx]
            row[which] = {
                "cer": round(cer(refs, [normalize(hyps[name][i]) for i in idx]), 4),
                "ms_p50": round(statistics.median(times[name][which]), 1),
                "ms_total": round(sum(times[name][which]) / repeat, 1),
            }
        result[name] = row
    base = result[BASELINE]
    for row in result.values():
        row["as_accurate_as_baseline"] = all(row[w]["cer"] <= base[w]["cer"] for w in sets)
        row["time_vs_baseline"] = round(
            sum(row[w]["ms_total"] for w in sets) / sum(base[w]["ms_total"] for w in sets), 3
        )
    return {"load_avg_1m": round(os.getloadavg()[0], 2), "cpu_threads": settings.whisper_cpu_threads,
            "repeat": repeat, "baseline": BASELINE, "options": OPTIONS, "results": result}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH)
    parser.add_argument("--synthetic-dir", type=Path, default=None, help="make bench-tts --out folder")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.speech_dir, args.synthetic_dir, args.repeat), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
