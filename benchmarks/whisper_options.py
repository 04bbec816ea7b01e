"""Whisper decoding options: accuracy against time on real and synthetic Korean speech; prints JSON.

Transcribes the three NIKL recordings (``../shared/eval/korean-speech``) and the 20 fixed replies
of ``benchmarks.tts_intelligibility`` as Kokoro and espeak speak them (WAVs written by ``make
bench-tts --out DIR``: ``DIR/kokoro/reply_NN.wav`` and ``DIR/espeak/…``, or synthesised here
once) with several options, interleaved (each clip is transcribed with every option in turn, so a
change in the machine's load hits all options alike). Both sides are compared as spoken text
(``pipeline.text.normalize``), as in ``make bench-tts``. Prints CER and transcription time per
option and set, and for each option whether it is at least as accurate as the full 30-s window
with beam 5 (the old default) on every set.

``--sentences TSV`` adds a set in the clients' own style: ``--limit`` rows spread over a risk
sentence file (spoken, unpunctuated, with recognition errors; use a spent development set, never a
holdout) as Kokoro speaks them. For that set each option also reports whether the risk level the
turn's assessor gives the transcript equals the level it gives the written sentence
(``risk_level_kept``), and how many of the sentences assessed ``high`` stay ``high``
(``high_kept``): what a recognition error costs where it matters most.

Options: ``beam`` (beam size), ``window_s`` (the shortest window the encoder sees,
``MAUM_WHISPER_WINDOW_S``; 30 is Whisper's full window), ``notime`` (``without_timestamps=True``).

Run::

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.tts_intelligibility --out /tmp/tts
    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.whisper_options --synthetic-dir /tmp/tts --repeat 2
    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.whisper_options --synthetic-dir /tmp/tts \
        --sentences tests/data/risk_dev5/sentences.tsv --limit 80 --options beam5_window30,beam5_window15
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
    "beam5_window20": {"beam_size": 5, "window_s": 20.0},
    "beam5_window15": {"beam_size": 5, "window_s": 15.0},
}
BASELINE = "beam5_window30"
SYNTHESIZERS = ("kokoro", "espeak")


def spoken_clips(settings: Settings, sentences: Path, limit: int) -> list[tuple[str, str, object]]:
    """``("spoken", text, audio)`` for ``limit`` sentences of a risk TSV spread evenly over it, as Kokoro says them."""
    from pipeline.risk_eval import read_cases

    texts = [row["text"] for row in read_cases(sentences)]
    texts = texts[:: max(1, len(texts) // max(1, limit))][:limit]
    synthesizer = registry.create("synthesizer", "kokoro", settings)
    return [("spoken", t, audio.decode(synthesizer.synthesize(t).wav, settings)) for t in texts]


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


def risk_kept(refs: list[str], hyps: list[str], assess) -> dict:
    """How often the transcript's risk level equals the written sentence's, overall and for ``high``."""
    ref_levels = [assess(t).level for t in refs]
    hyp_levels = [assess(t).level for t in hyps]
    high = [i for i, level in enumerate(ref_levels) if level == "high"]
    return {
        "risk_level_kept": round(sum(a == b for a, b in zip(ref_levels, hyp_levels, strict=True)) / len(refs), 4),
        "high_kept": f"{sum(hyp_levels[i] == 'high' for i in high)}/{len(high)}",
    }


def run(
    speech_dir: Path,
    synthetic_dir: Path | None,
    repeat: int,
    options: dict | None = None,
    sentences: Path | None = None,
    limit: int = 80,
) -> dict:
    """CER and transcription time of every option on the real and synthetic recordings."""
    options = options or OPTIONS
    settings = Settings.from_env()
    model = registry.create("transcriber", "whisper", settings).model
    items = clips(settings, speech_dir, synthetic_dir)
    if sentences is not None:
        items += spoken_clips(settings, sentences, limit)
    sets = sorted({item[0] for item in items})
    transcribe(model, items[0][2].samples, options[BASELINE])  # warm-up
    hyps = {name: [] for name in options}
    times = {name: {which: [] for which in sets} for name in options}
    for which, _, clip in items:
        for r in range(repeat):
            for name, chosen in options.items():
                start = time.perf_counter()
                text = transcribe(model, clip.samples, chosen)
                times[name][which].append((time.perf_counter() - start) * 1000.0)
                if r == 0:
                    hyps[name].append(text)
    result = {}
    assess = None
    for name in options:
        row = {}
        for which in sets:
            idx = [i for i, item in enumerate(items) if item[0] == which]
            refs = [normalize(items[i][1]) for i in idx]
            row[which] = {
                "cer": round(cer(refs, [normalize(hyps[name][i]) for i in idx]), 4),
                "ms_p50": round(statistics.median(times[name][which]), 1),
                "ms_total": round(sum(times[name][which]) / repeat, 1),
            }
        if "spoken" in sets:
            from pipeline.risk_eval import _hybrid

            assess = assess or _hybrid()
            idx = [i for i, item in enumerate(items) if item[0] == "spoken"]
            row["spoken"].update(risk_kept([items[i][1] for i in idx], [hyps[name][i] for i in idx], assess))
        result[name] = row
    base = result[BASELINE]
    for row in result.values():
        row["as_accurate_as_baseline"] = all(row[w]["cer"] <= base[w]["cer"] for w in sets)
        row["time_vs_baseline"] = round(
            sum(row[w]["ms_total"] for w in sets) / sum(base[w]["ms_total"] for w in sets), 3
        )
    return {"load_avg_1m": round(os.getloadavg()[0], 2), "cpu_threads": settings.whisper_cpu_threads,
            "repeat": repeat, "baseline": BASELINE, "options": options, "results": result}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH)
    parser.add_argument("--synthetic-dir", type=Path, default=None, help="make bench-tts --out folder")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--sentences", type=Path, default=None, help="risk sentence TSV: Kokoro speaks these too")
    parser.add_argument("--limit", type=int, default=80, help="how many of --sentences")
    parser.add_argument("--options", default="", help=f"comma-separated subset of the options (always {BASELINE})")
    args = parser.parse_args(argv)
    names = [n for n in args.options.split(",") if n]
    unknown = sorted(set(names) - set(OPTIONS))
    if unknown:
        parser.error(f"unknown options {unknown}; known: {sorted(OPTIONS)}")
    chosen = {n: OPTIONS[n] for n in [BASELINE, *names] if n in OPTIONS} if names else OPTIONS
    result = run(args.speech_dir, args.synthetic_dir, args.repeat, chosen, args.sentences, args.limit)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
