"""Command line of the pipeline: ``python -m pipeline COMMAND``.

Prints one JSON object per line. The command names and JSON fields are a contract that
scripts and evaluations rely on (see ARCHITECTURE.md); add fields, never rename them.
Backends and limits come from ``MAUM_*`` environment variables (see README).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.audio import decode_file
from pipeline.care.conversation import CareState, conversation_risk
from pipeline.errors import PipelineError
from pipeline.settings import Settings, describe
from pipeline.turn import Pipeline
from pipeline.types import HistoryTurn, TurnResult


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _error(exc: PipelineError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message}


def _lines() -> Iterator[str]:
    for line in sys.stdin:
        if line.strip():
            yield line.rstrip("\n")


def cmd_transcribe(pipe: Pipeline, args: argparse.Namespace) -> int:
    """``transcribe FILE...``: one ``{file, text, latency_ms}`` line per audio file (an error line for a bad one)."""
    failed = 0
    for file in args.files:
        try:
            audio = decode_file(file, pipe.settings)
            transcript = pipe.transcriber.transcribe(audio)
        except (PipelineError, OSError) as exc:
            failed += 1
            err = _error(exc) if isinstance(exc, PipelineError) else {"code": "file_unreadable", "message": str(exc)}
            _emit({"file": file, "error": err})
            continue
        _emit({
            "file": file,
            "text": transcript.text,
            "latency_ms": round(transcript.latency_ms, 1),
            "duration_s": round(audio.duration_s, 3),
            "confidence": transcript.confidence,
        })  # fmt: skip
    return 1 if failed else 0


def cmd_emotion(pipe: Pipeline, args: argparse.Namespace) -> int:
    """``emotion``: one ``{text, label, scores}`` line per sentence on stdin."""
    for text in _lines():
        emotion = pipe.classifier.classify(text)
        _emit({"text": text, "label": emotion.label, "scores": dict(emotion.scores)})
    return 0


def cmd_risk(pipe: Pipeline, args: argparse.Namespace) -> int:
    """``risk``: one ``{text, level, reasons, categories}`` line per sentence on stdin (rules + classifier)."""
    assessor = pipe.risk_assessor  # rules + classifier (MAUM_RISK_CLASSIFIER)
    for text in _lines():
        risk = assessor.assess(text)
        _emit({"text": text, "level": risk.level, "reasons": list(risk.reasons), "categories": list(risk.categories)})
    return 0


def cmd_reply(pipe: Pipeline, args: argparse.Namespace) -> int:
    """``reply``: the lines on stdin as one conversation, care state carried across; one reply line each."""
    history: list[HistoryTurn] = []
    state = CareState()
    for line in _lines():
        try:
            result = pipe.run_text(line, history, synthesize=False, care_state=state)
        except PipelineError as exc:
            _emit({"text": line, "error": _error(exc)})
            continue
        _emit({
            "text": result.transcript.text,
            "emotion": result.emotion.label,
            "risk": result.risk.level,
            "reply": result.reply.text,
            "reply_kind": result.reply.kind,
            "reply_fallback": result.reply.fallback_reason,  # why a generator (kogpt2) was not used
            "reply_spoken": result.reply.spoken_text,
            "risk_categories": list(result.risk.categories),
            "conversation_risk": conversation_risk(result.care_state),
        })  # fmt: skip
        history.append(_history_turn(result))
        state = result.care_state
    return 0


def cmd_normalize(pipe: Pipeline, args: argparse.Namespace) -> int:
    """``normalize``: each sentence with numbers and symbols read out in Hangul (``spoken``)."""
    from pipeline.text.normalize import normalize

    for text in _lines():
        _emit({"text": text, "spoken": normalize(text)})
    return 0


def cmd_pronounce(pipe: Pipeline, args: argparse.Namespace) -> int:
    """``pronounce``: each sentence's standard pronunciation, its IPA and the rules that applied."""
    for text in _lines():
        p = pipe.pronounce(text)
        _emit({"text": text, "pronunciation": p.hangul, "ipa": p.ipa, "rules": [r.as_dict() for r in p.rules]})
    return 0


def cmd_score(pipe: Pipeline, args: argparse.Namespace) -> int:
    """``score FILE --text ...``: rate a reading of ``text`` syllable by syllable; one JSON line."""
    try:
        audio = decode_file(args.file, pipe.settings)
        result = pipe.score_reading(audio, args.text)
    except PipelineError as exc:
        _emit({"file": args.file, "error": _error(exc)})
        return 1
    _emit({"file": args.file, **result.as_dict()})
    return 0


def _history_turn(result: TurnResult) -> HistoryTurn:
    return HistoryTurn(
        user_text=result.transcript.text,
        reply_text=result.reply.text,
        emotion=result.emotion.label,
        reply_id=result.reply.reply_id,
    )


def cmd_turn(pipe: Pipeline, args: argparse.Namespace) -> int:
    """``turn FILE --out REPLY.wav``: one whole voice turn; prints the result and writes the spoken reply."""
    try:
        result = pipe.run_recording(Path(args.file).read_bytes())
    except PipelineError as exc:
        _emit({"file": args.file, "error": _error(exc)})
        return 1
    if result.speech is not None:
        Path(args.out).write_bytes(result.speech.wav)
    _emit({
        "transcript": result.transcript.text,
        "emotion": {"label": result.emotion.label, "scores": dict(result.emotion.scores)},
        "risk": {"level": result.risk.level, "reasons": list(result.risk.reasons)},
        "reply": {"text": result.reply.text, "kind": result.reply.kind,
                  "audio": args.out if result.speech else None},
        "timings_ms": dict(result.timings_ms),
        "degraded": list(result.degraded),
    })  # fmt: skip
    return 0 if result.speech is not None else 1


def crisis_texts(pipe: Pipeline) -> list[tuple[str, str]]:
    """``(text, tone)`` of what must sound at once: every crisis reply, and any reply's spoken form."""
    from pipeline.care.bank import load_bank

    bank = load_bank(pipe.settings.replies_path or None)
    crisis_ids = {r.id for r in bank.crisis}
    out: list[tuple[str, str]] = []
    for reply in bank.everything():
        spoken = getattr(reply, "spoken_text", "")  # added to the bank for crisis replies
        if reply.id in crisis_ids:
            out.append((spoken or reply.text, "crisis"))
        elif spoken:
            out.append((spoken, reply.emotion))
    return out


def cmd_prepare(pipe: Pipeline, args: argparse.Namespace) -> int:
    """Assemble offline model files and caches so the first request is fast.

    Also speaks the crisis replies into the sentence cache (pinned, never evicted), so that a
    crisis reply's audio is there at once.
    """
    start = time.perf_counter()
    pipe.load_all()
    prerendered = pipe.prerender(crisis_texts(pipe)) if not args.no_prerender else {}
    _emit({
        "cache_dir": str(pipe.settings.resolved_cache_dir),
        "backends": pipe.backend_names(),
        "tts_cache_dir": str(pipe.speech_cache.root),
        "prerendered": prerendered,
        "seconds": round(time.perf_counter() - start, 1),
    })  # fmt: skip
    return 0


def cmd_settings(pipe: Pipeline, args: argparse.Namespace) -> int:
    """``settings``: every ``MAUM_*`` setting with its default and help, one line each."""
    for env, help_text, default in describe(Settings):
        _emit({"env": env, "default": default, "help": help_text})
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m pipeline``, one subcommand per ``cmd_*`` function."""
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log model loading to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("transcribe", help="audio files → {file, text, latency_ms}")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_transcribe)
    sub.add_parser("emotion", help="stdin lines → {text, label, scores}").set_defaults(func=cmd_emotion)
    sub.add_parser("risk", help="stdin lines → {text, level, reasons, categories}").set_defaults(func=cmd_risk)
    sub.add_parser("reply", help="stdin lines, one conversation → {text, emotion, risk, reply}").set_defaults(
        func=cmd_reply
    )
    sub.add_parser("normalize", help="stdin lines → {text, spoken} (numbers, symbols read out)").set_defaults(
        func=cmd_normalize
    )
    sub.add_parser("pronounce", help="stdin lines → {text, pronunciation, ipa, rules} (표준발음법)").set_defaults(
        func=cmd_pronounce
    )
    p = sub.add_parser("score", help="one recording + its target sentence → pronunciation scores and feedback")
    p.add_argument("file")
    p.add_argument("--text", required=True, help="the sentence the recording should say")
    p.set_defaults(func=cmd_score)
    p = sub.add_parser("turn", help="one audio file → {transcript, emotion, risk, reply, timings_ms}")
    p.add_argument("file")
    p.add_argument("--out", required=True, help="where to write the reply WAV")
    p.set_defaults(func=cmd_turn)
    p = sub.add_parser("prepare", help="assemble offline model files and caches, speak the crisis replies")
    p.add_argument("--no-prerender", action="store_true", help="do not speak the crisis replies into the cache")
    p.set_defaults(func=cmd_prepare)
    sub.add_parser("settings", help="list MAUM_* settings").set_defaults(func=cmd_settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command on the configured backends; the exit status is 0, or 1 when an input failed."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        pipe = Pipeline(Settings.from_env())
        return args.func(pipe, args)
    except PipelineError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
