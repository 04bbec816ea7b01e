r"""Evaluate speech-to-text backends on a folder with ``transcripts.tsv``, clean and in noise.

For each backend, CER and WER (``pipeline.metrics``: spaces and punctuation ignored for CER) and
the real-time factor on the clean recordings, then the same after mixing noise made in code
(``pipeline.speech.asr_noise``: white, pink, babble from the other recordings played backwards) at each
chosen signal-to-noise ratio. The original systems were compared on normal, far-field and
near-field noisy speech; noise at 20/10/0 dB SNR stands in for that here.

Run::

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.asr_eval ../shared/eval/korean-speech
    HF_HUB_OFFLINE=1 MAUM_DEEPSPEECH2_CHECKPOINT=runs/ds2-syllable/best.pt \
        .venv/bin/python -m benchmarks.asr_eval FOLDER --backends whisper,deepspeech2 --snr 20,10,0 --noise white,babble

Prints a table, then one JSON object on the last line (``--json FILE`` also writes it). Backends
and their settings come from the ``MAUM_*`` environment variables, as everywhere else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import registry
from pipeline.audio import decode_file
from pipeline.errors import PipelineError
from pipeline.metrics import cer, read_transcripts, wer
from pipeline.settings import Settings
from pipeline.speech.asr_noise import NOISE_KINDS, make_noise, mix_at_snr
from pipeline.types import Audio

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = REPO.parent / "shared" / "eval" / "korean-speech"


def parse_list(text: str) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]`` (empty parts dropped)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def noisy_versions(
    clean: list[Audio], kinds: list[str], snrs: list[float], seed: int
) -> dict[tuple[str, float], list[Audio]]:
    """Every recording mixed with each noise kind at each SNR; deterministic for a seed."""
    out: dict[tuple[str, float], list[Audio]] = {}
    for kind in kinds:
        for snr in snrs:
            mixed = []
            for i, audio in enumerate(clean):
                rng = np.random.default_rng([seed, i, zlib.crc32(kind.encode())])
                others = [a.samples for j, a in enumerate(clean) if j != i] or [audio.samples]
                noise = make_noise(kind, len(audio.samples), rng, talkers=others)
                mixed.append(Audio(mix_at_snr(audio.samples, noise, snr), audio.sample_rate))
            out[(kind, snr)] = mixed
    return out


def run_backend(transcriber: Any, audios: list[Audio], refs: list[str]) -> dict[str, Any]:
    """Transcribe every clip with one backend; CER, WER and real-time factor against ``refs``."""
    hyps, latency_ms = [], 0.0
    for audio in audios:
        transcript = transcriber.transcribe(audio)
        hyps.append(transcript.text)
        latency_ms += transcript.latency_ms
    duration_s = sum(a.duration_s for a in audios)
    return {
        "cer": round(cer(refs, hyps), 4),
        "wer": round(wer(refs, hyps), 4),
        "rtf": round(latency_ms / 1000.0 / duration_s, 3),
        "hypotheses": hyps,
    }


def evaluate(
    folder: str | Path, backends: list[str], snrs: list[float], kinds: list[str], seed: int, settings: Settings
) -> dict[str, Any]:
    """CER/WER/RTF per backend and condition (``clean``, then ``<noise>@<snr>dB``)."""
    rows = read_transcripts(folder)
    if not rows:
        raise ValueError(f"{folder}/transcripts.tsv lists no recordings")
    refs = [text for _, text in rows]
    clean = [decode_file(path, settings) for path, _ in rows]
    conditions: list[tuple[str, str | None, float | None, list[Audio]]] = [("clean", None, None, clean)]
    for (kind, snr), audios in noisy_versions(clean, kinds, snrs, seed).items():
        conditions.append((f"{kind}@{snr:g}dB", kind, snr, audios))
    results: list[dict[str, Any]] = []
    for name in backends:
        try:
            transcriber = registry.create("transcriber", name, dataclasses.replace(settings, transcriber=name))
        except (PipelineError, ValueError) as exc:
            results.append({"backend": name, "error": str(exc)})
            continue
        for label, kind, snr, audios in conditions:
            scores = run_backend(transcriber, audios, refs)
            results.append({"backend": name, "condition": label, "noise": kind, "snr_db": snr, **scores})
    return {
        "folder": str(folder),
        "recordings": len(rows),
        "duration_s": round(sum(a.duration_s for a in clean), 2),
        "references": refs,
        "seed": seed,
        "results": results,
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as a fixed-width table: one row per backend and condition."""
    lines = [f"{'backend':<14} {'condition':<16} {'CER':>7} {'WER':>7} {'RTF':>7}", "-" * 55]
    for r in report["results"]:
        if "error" in r:
            lines.append(f"{r['backend']:<14} error: {r['error']}")
        else:
            lines.append(f"{r['backend']:<14} {r['condition']:<16} {r['cer']:>7.3f} {r['wer']:>7.3f} {r['rtf']:>7.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Evaluate the chosen transcribers on clean and noisy versions of a folder; print a table and JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER), help="folder with transcripts.tsv and audio/")
    parser.add_argument("--backends", default="whisper", help="comma-separated transcriber names (default: whisper)")
    parser.add_argument("--snr", default="20,10,0", help="comma-separated SNRs in dB; empty for clean only")
    parser.add_argument(
        "--noise", default="white,babble", help=f"comma-separated noise kinds: {', '.join(NOISE_KINDS)}"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    kinds = parse_list(args.noise)
    unknown = set(kinds) - set(NOISE_KINDS)
    if unknown:
        parser.error(f"unknown noise kinds {sorted(unknown)}; valid: {', '.join(NOISE_KINDS)}")
    snrs = [float(s) for s in parse_list(args.snr)]
    report = evaluate(args.folder, parse_list(args.backends), snrs, kinds, args.seed, Settings.from_env())
    print(format_table(report))
    text = json.dumps(report, ensure_ascii=False)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 1 if any("error" in r for r in report["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
