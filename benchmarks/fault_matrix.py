"""Fault-injection matrix: a crisis voice turn broken at each step, then a restart and the repair sweep.

For every step of a turn and two ways of breaking it, one voice turn whose transcript is a crisis
sentence ("죽고 싶어요") goes through the real web app: fake speech models, the real ``care``
responder (with a tiny stand-in embedder instead of e5), SQLite in a fresh instance folder.

- ``raise``: the step raises an ordinary exception (a model error, a full disk, a lost database
  connection), and the app handles it;
- ``kill``: the process dies at that step, simulated by a ``BaseException`` that no
  ``except Exception`` clean-up catches; the same instance folder is then opened as a
  restarted process would open it, and the repair sweep runs (``webapp/repair.py``).

For each it records what the client was told and what is stored after the restart, and checks
the promises (``tests/test_faults.py`` asserts them):

- ``kept_promise``: when the client was told the turn was stored (201), it is stored, complete;
- ``consistent``: every stored turn has all the files it refers to, with their checksums, and no
  file is left that no turn refers to;
- ``crisis_numbers``: whatever the client read carries its crisis lines: an error message every
  line (109, 1577-0199, 112, 119, 1388, 1366); the crisis reply to this suicide statement the
  suicide lines of its situation (109, and 112 or 119);
- ``answered``: a failure after risk assessment still answered and stored the reply.

Prints one JSON object: ``{"matrix": {step: {mode: summary}}, "ok": bool}`` (``--details`` adds
every field of every run). Run::

    .venv/bin/python -m benchmarks.fault_matrix
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import errno
import io
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import flask_migrate
import numpy as np
import soundfile as sf
import sqlalchemy as sa
from flask_sqlalchemy.session import Session

import pipeline.registry
import pipeline.turn
import webapp.storage
from pipeline.backends.fake_classifier import FakeClassifier
from pipeline.backends.fake_synthesizer import FakeSynthesizer
from pipeline.backends.fake_transcriber import FakeTranscriber
from pipeline.care.responder import CareResponder
from pipeline.errors import ModelFilesError, UndecodableAudioError
from pipeline.settings import Settings
from pipeline.turn import Pipeline
from webapp import create_app
from webapp.config import AppSettings
from webapp.db import Turn, db
from webapp.extensions import PIPELINE, get_audio_store
from webapp.repair import run_repair
from webapp.reply_audio import wait_for_reply_audio
from webapp.storage import sha256_hex

CRISIS_TEXT = "죽고 싶어요"
CRISIS_NUMBERS = ("109", "1577-0199", "112", "119", "1388", "1366")
FAKE = Settings(transcriber="fake", classifier="fake", responder="care", synthesizer="fake")

#: Step → what breaks there. Steps before risk assessment may fail the turn (with the hotlines in
#: the error); every later one must not cost the reply.
STEPS: dict[str, str] = {
    "decode": "the upload cannot be decoded",
    "transcriber_load": "the speech recogniser's model cannot load",
    "transcribe": "speech recognition fails",
    "classifier_load": "the emotion model cannot load",
    "classify": "emotion recognition fails",
    "responder_load": "the responder cannot load",
    "respond": "the responder fails",
    "synthesizer_load": "the voice cannot load (vits without a model, espeak-ng missing)",
    "synthesize": "speech synthesis fails",
    "file_write": "writing an audio file fails (disk full)",
    "fsync": "flushing an audio file to disk fails",
    "rename": "moving an audio file to its final name fails",
    "flush": "writing the turn's row fails (database lost)",
    "commit": "the COMMIT fails (connection lost: did it commit?)",
    "after_commit": "after the COMMIT, before the answer is sent",
}
BEFORE_RISK = frozenset({"decode", "transcriber_load", "transcribe"})
MODES = ("raise", "kill")


class Killed(BaseException):
    """The process dies here: nothing after this runs, no ``except Exception`` clean-up either."""


class CrisisTranscriber(FakeTranscriber):
    """A fake transcriber that hears the crisis sentence in any sound."""

    text = CRISIS_TEXT


def crisis_wav() -> bytes:
    """One second of a 220 Hz tone (the fake transcriber hears the crisis sentence in any sound)."""
    buf = io.BytesIO()
    t = np.arange(16000) / 16000.0
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _failing(mode: str, error: Exception) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise Killed() if mode == "kill" else error

    return fail


def _has_new_turn(session: Session) -> bool:
    return any(isinstance(o, Turn) for o in [*session.new, *session.identity_map.values()])


@contextlib.contextmanager
def inject(step: str, mode: str) -> Iterator[dict[str, Any]]:
    """Patch the app so that ``step`` fails in ``mode``; yields the ready backends the pipeline gets."""
    settings = Settings(**{**FAKE.__dict__})
    backends: dict[str, Any] = {
        "transcriber": CrisisTranscriber(settings),
        "classifier": FakeClassifier(settings),
        "responder": CareResponder(settings, embed=_bigram_embed, reflect=False),
        "synthesizer": FakeSynthesizer(settings),
    }
    patches: list[Any] = []
    stage_methods = {"transcribe": "transcriber", "classify": "classifier", "respond": "responder"}
    if step in stage_methods:
        patches.append(mock.patch.object(backends[stage_methods[step]], step, _failing(mode, RuntimeError(step))))
    elif step == "synthesize":
        patches.append(mock.patch.object(backends["synthesizer"], "synthesize", _failing(mode, RuntimeError(step))))
    elif step.endswith("_load"):
        stage = step.removesuffix("_load")
        del backends[stage]  # built from the registry on first use, which fails
        error = ModelFilesError(detail=f"{stage} model files are missing")
        patches.append(mock.patch.object(pipeline.registry, "create", _failing(mode, error)))
    elif step == "decode":
        patches.append(mock.patch.object(pipeline.turn, "decode", _failing(mode, UndecodableAudioError())))
    elif step == "file_write":
        fail = _failing(mode, OSError(errno.ENOSPC, "No space left on device"))

        def write_fails(path: Any, *args: Any, **kwargs: Any) -> Any:
            builtins.open(path, *args, **kwargs).close()  # the file exists, empty: it broke mid-write
            return fail()

        patches.append(mock.patch.object(webapp.storage, "open", write_fails, create=True))
    elif step == "fsync":
        fail = _failing(mode, OSError(errno.EIO, "Input/output error"))
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            # A file's data, not a folder's entry (a new conversation's folder is synced first).
            return fail() if stat.S_ISREG(os.fstat(fd).st_mode) else real_fsync(fd)

        patches.append(mock.patch("os.fsync", fsync))
    elif step == "rename":
        patches.append(mock.patch("os.replace", _failing(mode, OSError(errno.EIO, "Input/output error"))))
    elif step in ("flush", "commit", "after_commit"):
        original = getattr(Session, "commit" if step != "flush" else "flush")
        lost = sa.exc.OperationalError("COMMIT", None, ConnectionError("server closed the connection unexpectedly"))

        def broken(self: Session, *args: Any, **kwargs: Any) -> Any:
            if not _has_new_turn(self):
                return original(self, *args, **kwargs)
            if step == "after_commit":
                original(self, *args, **kwargs)
            raise Killed() if mode == "kill" else lost

        patches.append(mock.patch.object(Session, "commit" if step != "flush" else "flush", broken))
    else:
        raise ValueError(f"unknown step {step!r}; valid: {', '.join(STEPS)}")
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield backends


def _bigram_embed(texts: list[str]) -> np.ndarray:
    from tests.samples import bigram_embed  # the test suite's stand-in for e5: no model to load

    return bigram_embed(texts)


def run_scenario(step: str, mode: str, workdir: Path) -> dict[str, Any]:
    """One crisis voice turn broken at ``step`` in ``mode``, a restart, the sweep; what was seen and kept."""
    settings = AppSettings(instance_path=str(workdir / "instance"), secret_key="fault-matrix", pipeline=FAKE)
    app = create_app(settings)
    with app.app_context():
        flask_migrate.upgrade()
    client = app.test_client()
    created = client.post("/api/conversations").json
    outcome: dict[str, Any] = {"step": step, "mode": mode}
    try:
        with inject(step, mode) as backends:
            app.extensions[PIPELINE] = Pipeline(FAKE, **backends)
            response = client.post(
                f"/api/conversations/{created['id']}/turns",
                data={"audio": (io.BytesIO(crisis_wav()), "recording.wav")},
                headers={"Authorization": f"Bearer {created['token']}"},
                content_type="multipart/form-data",
            )
            wait_for_reply_audio()  # the reply's complete file is made after the answer, still under the fault
        body = response.json or {}
        outcome["status"] = response.status_code
        told = (
            body.get("reply", {}).get("text") if response.status_code == 201 else body.get("error", {}).get("message")
        )
        outcome["code"] = None if response.status_code == 201 else body.get("error", {}).get("code")
        outcome["degraded"] = body.get("degraded", [])
        if response.status_code == 201:
            outcome["crisis_numbers"] = bool(told) and "109" in told and ("112" in told or "119" in told)
        else:
            outcome["crisis_numbers"] = bool(told) and all(n in told for n in CRISIS_NUMBERS)
        outcome["told_turn_id"] = body.get("turn_id")
    except Killed:
        outcome.update(status="killed", code=None, degraded=[], crisis_numbers=None, told_turn_id=None)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

    restarted = create_app(settings)  # the same instance folder, as a new process would open it
    report = run_repair(restarted, min_age_s=0)
    outcome["repairs"] = [a.action for a in report.actions]
    store = get_audio_store(restarted)
    with restarted.app_context():
        rows = db.session.scalars(sa.select(Turn)).all()
        referenced: set[str] = set()
        complete = True
        for turn in rows:
            for path, sha in (
                (turn.user_audio_path, turn.user_audio_sha256),
                (turn.reply_audio_path, turn.reply_audio_sha256),
            ):
                if path:
                    referenced.add(path)
                    complete &= store.exists(path) and sha256_hex(store.read(path)) == sha
        stray = [p for p, _ in store.iter_files() if p not in referenced]
        outcome["turns_stored"] = [
            {"id": t.id, "risk": t.risk_level, "reply_kind": t.reply_kind, "degraded": list(t.degraded)} for t in rows
        ]
        db.engine.dispose()
    told_id = outcome["told_turn_id"]
    outcome["kept_promise"] = told_id is None or [t["id"] for t in outcome["turns_stored"]] == [told_id]
    outcome["consistent"] = complete and not stray
    outcome["answered"] = outcome["status"] == 201
    return outcome


def summary(outcome: dict[str, Any]) -> str:
    """One line for the matrix, e.g. ``201 crisis reply, stored (degraded: synthesize)``."""
    stored = outcome["turns_stored"]
    kept = "stored" if stored else "nothing stored"
    if stored and stored[0]["degraded"]:
        kept += f" (degraded: {', '.join(stored[0]['degraded'])})"
    if outcome["status"] == "killed":
        seen = "killed → restart"
    elif outcome["status"] == 201:
        kind = stored[0]["reply_kind"] if stored else "?"
        seen = f"201 {kind} reply" + (
            " with all crisis lines" if outcome["crisis_numbers"] else " WITHOUT the crisis lines"
        )
    else:
        seen = f"{outcome['status']} {outcome['code']}" + (
            " + hotlines" if outcome["crisis_numbers"] else " WITHOUT hotlines"
        )
    swept = f"; sweep: {', '.join(sorted(set(outcome['repairs'])))}" if outcome["repairs"] else ""
    broken = "" if outcome["kept_promise"] and outcome["consistent"] else " BROKEN PROMISE"
    return f"{seen}, {kept}{swept}{broken}"


def main(argv: list[str] | None = None) -> int:
    """Break a crisis voice turn at every step (raise and kill); print what the client was told and what was kept."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--details", action="store_true", help="Print every field of every run too.")
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.CRITICAL)  # the app logs every injected failure; the matrix is the output
    outcomes = []
    for step in STEPS:
        for mode in MODES:
            with tempfile.TemporaryDirectory() as tmp:
                outcomes.append(run_scenario(step, mode, Path(tmp)))
    ok = all(
        o["kept_promise"]
        and o["consistent"]
        and o["crisis_numbers"] is not False
        and (
            o["answered"]
            or o["mode"] == "kill"
            or o["step"] in BEFORE_RISK
            or o["step"] in ("flush", "commit", "after_commit")
        )
        for o in outcomes
    )
    result: dict[str, Any] = {
        "turn": f"voice turn, transcript {CRISIS_TEXT!r} (risk high)",
        "matrix": {step: {o["mode"]: summary(o) for o in outcomes if o["step"] == step} for step in STEPS},
        "ok": ok,
    }
    if args.details:
        result["details"] = outcomes
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
