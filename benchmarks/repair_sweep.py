"""How long the repair sweep takes on a large audio store: the full ``flask repair`` and the start-up sweep.

Builds a throw-away instance (SQLite) with ``--conversations`` conversations of ``--turns`` voice
turns each (two small files per turn), all older than two days, then a few fresh conversations,
and times:

- ``full``: ``repair`` over everything (what ``flask --app wsgi repair`` does);
- ``startup``: ``sweep_at_startup`` after an earlier sweep, which reads only the folders and turns
  changed since (what every gunicorn worker does when it starts).

Prints one JSON object. Run::

    .venv/bin/python -m benchmarks.repair_sweep --conversations 2000 --turns 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

from pipeline.settings import Settings
from webapp import create_app
from webapp.config import AppSettings
from webapp.db import Conversation, Turn, db, new_id
from webapp.extensions import get_audio_store
from webapp.repair import MARKER, repair, sweep_at_startup
from webapp.storage import sha256_hex

FAKE = Settings(transcriber="fake", classifier="fake", responder="fake", synthesizer="fake")


def populate(app, conversations: int, turns: int, created_at: datetime) -> None:
    """Insert conversations with voice turns and write their files (small, but real files)."""
    store = get_audio_store(app)
    data = b"RIFF" + bytes(60)
    conv_rows, turn_rows = [], []
    for _ in range(conversations):
        cid = new_id()
        conv_rows.append({"id": cid, "token_hash": "0" * 64, "created_at": created_at, "updated_at": created_at})
        folder = store.root / cid
        folder.mkdir(parents=True)
        for index in range(turns):
            tid = new_id()
            paths = {}
            for which in ("user", "reply"):
                rel = f"audio/{cid}/{tid}-{which}.wav"
                (app_path := Path(app.instance_path) / rel).write_bytes(data)
                then = created_at.timestamp()
                os.utime(app_path, (then, then))
                paths[which] = rel
            turn_rows.append(
                {
                    "id": tid,
                    "conversation_id": cid,
                    "index": index,
                    "created_at": created_at,
                    "input_kind": "audio",
                    "user_text": "오늘 좀 우울해요",
                    "reply_text": "이야기해 주셔서 고마워요.",
                    "reply_kind": "empathy",
                    "reply_id": "",
                    "emotion_label": "sadness",
                    "emotion_scores": {},
                    "risk_level": "none",
                    "risk_reasons": [],
                    "risk_categories": [],
                    "backends": {},
                    "timings_ms": {},
                    "user_audio_path": paths["user"],
                    "user_audio_sha256": sha256_hex(data),
                    "reply_audio_path": paths["reply"],
                    "reply_audio_sha256": sha256_hex(data),
                    "reply_audio_missing": False,
                    "synthesis_error": "",
                    "reply_fallback": "",
                    "degraded": [],
                }
            )
        then = created_at.timestamp()
        os.utime(folder, (then, then))
    with app.app_context():
        db.session.execute(sa.insert(Conversation), conv_rows)
        db.session.execute(sa.insert(Turn), turn_rows)
        db.session.commit()


def main(argv: list[str] | None = None) -> int:
    """Time the full repair sweep and the start-up sweep over a generated audio store; print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=3, help="Voice turns per conversation.")
    parser.add_argument("--fresh", type=int, default=10, help="Conversations changed since the last sweep.")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(AppSettings(instance_path=str(Path(tmp) / "instance"), secret_key="bench", pipeline=FAKE))
        with app.app_context():
            flask_migrate.upgrade()
        start = time.perf_counter()
        populate(app, args.conversations, args.turns, datetime.now(UTC) - timedelta(days=2))
        marker = Path(app.instance_path) / MARKER
        marker.touch()
        os.utime(marker, (time.time() - 86400,) * 2)  # the previous sweep: a day ago
        populate(app, args.fresh, args.turns, datetime.now(UTC))
        build_s = time.perf_counter() - start

        start = time.perf_counter()
        report = sweep_at_startup(app)
        startup_ms = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        with app.app_context():
            full = repair(get_audio_store(app))
        full_ms = (time.perf_counter() - start) * 1e3
        with app.app_context():
            db.engine.dispose()
    result = {
        "turns": (args.conversations + args.fresh) * args.turns,
        "files": (args.conversations + args.fresh) * args.turns * 2,
        "changed_since_last_sweep": {"conversations": args.fresh, "turns": args.fresh * args.turns},
        "startup_sweep_ms": round(startup_ms, 1),
        "full_repair_ms": round(full_ms, 1),
        "actions": {"startup": len(report.actions) if report else None, "full": len(full.actions)},
        "build_s": round(build_s, 1),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
