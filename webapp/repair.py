"""Repair what a crash left behind in the audio store: at worker start-up, and by ``flask --app wsgi repair``.

``PendingFiles`` (``webapp/storage.py``) makes every file durable before its row commits, so a
crash leaves at worst files that no row refers to. The sweep:

1. For each turn that refers to a file that is not there: if a leftover temporary file of
   older versions of Maum (which committed first and renamed after) has the recorded sha256, it
   is put in place (``restore_file``); otherwise the row is marked (``mark_reply_audio_missing``
   or ``mark_user_audio_missing``: path cleared, ``store_audio`` added to ``degraded``) so the
   counsellor page shows that the file was lost instead of a dead player.
2. Finishes replies whose audio was still being assembled when a worker died: a turn answered
   with clips but without its complete reply file, older than ``STALE_ASSEMBLY_S``, is spoken
   again from its clips (mostly in the sentence cache) and gets its file
   (``finish_reply_audio``); when that fails, or in a sweep without a voice, it is marked
   ``reply_audio_missing`` with ``assembly_interrupted`` (``mark_reply_audio_unfinished``), so
   neither the counsellor nor the client waits on a file that will never come.
3. Removes hidden temporary files (``remove_temporary``) and files no row refers to
   (``remove_orphan``), but only when older than ``min_age_s``: a younger file may belong to a
   turn another worker is committing right now. This makes sweeps safe with several workers
   and nodes; a file lock also keeps two workers of one instance from sweeping at once.

At start-up each gunicorn worker sweeps once, in the background, only what changed since the
last sweep (turns created and conversation folders modified since, minus a margin): cheap even
on a large store. The command sweeps everything.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath

import sqlalchemy as sa
from flask import Flask

from webapp.db import Turn, db
from webapp.extensions import SWEPT, get_audio_store
from webapp.storage import AudioStore, final_name_of, is_temporary, sha256_hex

log = logging.getLogger(__name__)

#: Files younger than this may belong to a turn still being committed by another worker (the
#: wait between writing a turn's files and its commit is bounded by the database timeouts).
ORPHAN_MIN_AGE_S = 600.0

#: A reply file is assembled within seconds of the answer; one still missing after this long was
#: abandoned by a worker that died (a stopping worker waits for its own, ``wait_for_reply_audio``).
STALE_ASSEMBLY_S = 600.0

#: The start-up sweep also looks this far back before the previous sweep (clock skew, slow commits).
LOOKBACK_MARGIN_S = 3600.0

#: In the instance folder: the mtime of MARKER is when the last start-up sweep began.
MARKER = ".last-repair"
LOCK = ".repair.lock"

ACTION_LINES_KO = {
    "restore_file": "되살림 (남아 있던 임시 파일에서)",
    "mark_reply_audio_missing": "표시함 (답 음성 파일이 없어요)",
    "mark_user_audio_missing": "표시함 (내담자 녹음 파일이 없어요)",
    "finish_reply_audio": "마저 만듦 (멈춘 작업자가 남긴 답 음성 파일)",
    "mark_reply_audio_unfinished": "표시함 (답 음성 파일을 마저 만들지 못했어요)",
    "remove_temporary": "지움 (쓰다 만 임시 파일)",
    "remove_orphan": "지움 (어느 대화 기록에도 없는 파일)",
}


@dataclass(frozen=True)
class RepairAction:
    """One thing the sweep did (or, in a dry run, would do)."""

    action: str  # a key of ACTION_LINES_KO
    path: str
    turn_id: str = ""

    def line(self) -> str:
        """One line for people, in Korean."""
        turn = f" [turn {self.turn_id}]" if self.turn_id else ""
        return f"{ACTION_LINES_KO[self.action]}: {self.path}{turn}"


@dataclass
class RepairReport:
    """What a repair sweep of the audio store did (or, with ``dry_run``, would do), one action each."""

    actions: list[RepairAction] = field(default_factory=list)
    dry_run: bool = False

    def count(self, action: str) -> int:
        """How many actions of the kind ``action`` the sweep took."""
        return sum(1 for a in self.actions if a.action == action)


def repair(
    store: AudioStore,
    *,
    dry_run: bool = False,
    min_age_s: float = ORPHAN_MIN_AGE_S,
    since: float | None = None,
    now: float | None = None,
    finish: Callable[[Turn], bool] | None = None,
) -> RepairReport:
    """Find and fix what crashes left in ``store`` and the turns table (see the module docstring).

    Args:
        store: the audio store.
        dry_run: only report.
        min_age_s: leave files younger than this alone.
        since: a Unix time; only turns created and folders modified since then are looked at
            (None: everything).
        now: the current Unix time (tests).
        finish: speaks an abandoned reply's clips and attaches the file; True when the turn got
            it (None: such turns are only marked).

    Returns:
        What was done, in order.
    """
    now = time.time() if now is None else now
    report = RepairReport(dry_run=dry_run)
    files = list(store.iter_files(modified_since=since))
    temporaries: dict[str, list[str]] = defaultdict(list)  # final rel_path -> leftover temporaries
    for rel_path, _ in files:
        if is_temporary(rel_path):
            path = PurePosixPath(rel_path)
            temporaries[str(path.with_name(final_name_of(path.name)))].append(rel_path)
    used: set[str] = set()

    query = sa.select(
        Turn.id, Turn.user_audio_path, Turn.user_audio_sha256, Turn.reply_audio_path, Turn.reply_audio_sha256
    ).where(sa.or_(Turn.user_audio_path.is_not(None), Turn.reply_audio_path.is_not(None)))
    if since is not None:
        query = query.where(Turn.created_at >= datetime.fromtimestamp(since, UTC))
    for turn_id, user_path, user_sha, reply_path, reply_sha in db.session.execute(query).all():
        for which, rel_path, sha in (("user", user_path, user_sha), ("reply", reply_path, reply_sha)):
            if not rel_path or store.exists(rel_path):
                continue
            restored = _restore(store, rel_path, sha, temporaries.get(rel_path, ()), dry_run)
            if restored:
                used.add(restored)
                report.actions.append(RepairAction("restore_file", rel_path, turn_id))
                continue
            report.actions.append(RepairAction(f"mark_{which}_audio_missing", rel_path, turn_id))
            if not dry_run:
                _mark_missing(turn_id, which)
    if not dry_run:
        db.session.commit()
    _finish_abandoned(report, now=now, since=since, dry_run=dry_run, finish=finish)

    emptied: set[str] = set()
    referenced = _referenced_paths({PurePosixPath(p).parent.name for p, _ in files})
    for rel_path, mtime in files:
        if rel_path in used or rel_path in referenced or now - mtime < min_age_s:
            continue
        action = "remove_temporary" if is_temporary(rel_path) else "remove_orphan"
        report.actions.append(RepairAction(action, rel_path))
        if not dry_run:
            store.delete(rel_path)
            emptied.add(str(PurePosixPath(rel_path).parent))
    for folder in sorted(emptied):
        store.remove_folder_if_empty(folder)
    return report


def _finish_abandoned(
    report: RepairReport, *, now: float, since: float | None, dry_run: bool, finish: Callable[[Turn], bool] | None
) -> None:
    """Give the turns whose reply file a dead worker never finished their file, or mark them."""
    cutoff = datetime.fromtimestamp(now - STALE_ASSEMBLY_S, UTC)
    query = sa.select(Turn).where(
        Turn.reply_audio_path.is_(None), Turn.reply_audio_missing.is_(False), Turn.created_at < cutoff
    )
    if since is not None:
        query = query.where(Turn.created_at >= datetime.fromtimestamp(since, UTC))
    abandoned = [turn for turn in db.session.scalars(query).all() if turn.reply_clips]
    db.session.rollback()  # no transaction stays open while a voice speaks
    for turn in abandoned:
        label = f"{turn.conversation_id}/{turn.id}-reply"
        if dry_run:
            report.actions.append(RepairAction("finish_reply_audio", label, turn.id))
            continue
        done = False
        if finish is not None:
            try:
                done = finish(turn)
            except Exception:  # noqa: BLE001 - the turn is marked below instead
                log.exception("repair sweep: could not finish the reply audio of turn %s", turn.id)
        if done:
            report.actions.append(RepairAction("finish_reply_audio", label, turn.id))
            continue
        row = db.session.get(Turn, turn.id)
        if row is not None and row.reply_audio_path is None and not row.reply_audio_missing:
            row.reply_audio_missing, row.synthesis_error = True, "assembly_interrupted"
            row.degraded = [*(row.degraded or []), "synthesize"]
            db.session.commit()
        report.actions.append(RepairAction("mark_reply_audio_unfinished", label, turn.id))


def _restore(store: AudioStore, rel_path: str, sha: str | None, candidates: Iterable[str], dry_run: bool) -> str:
    """Put a leftover temporary file whose checksum matches back under ``rel_path``; return it ("" if none)."""
    for candidate in candidates:
        try:
            data = store.read(candidate, sealed_for=rel_path)
        except ValueError:  # does not decrypt: not this file's bytes
            continue
        if sha and sha256_hex(data) == sha:
            if not dry_run:
                store.put(rel_path, data)
                store.delete(candidate)
            return candidate
    return ""


def _mark_missing(turn_id: str, which: str) -> None:
    turn = db.session.get(Turn, turn_id)
    if turn is None:
        return
    if which == "reply":
        turn.reply_audio_path, turn.reply_audio_sha256 = None, None
        turn.reply_audio_missing = True
        turn.synthesis_error = "audio_file_lost"
    else:
        turn.user_audio_path, turn.user_audio_sha256 = None, None
    if "store_audio" not in (turn.degraded or []):
        turn.degraded = [*(turn.degraded or []), "store_audio"]


def _referenced_paths(conversation_ids: set[str], chunk: int = 500) -> set[str]:
    """Every audio path the turns of these conversations refer to."""
    ids = sorted(conversation_ids)
    referenced: set[str] = set()
    for start in range(0, len(ids), chunk):
        rows = db.session.execute(
            sa.select(Turn.user_audio_path, Turn.reply_audio_path).where(
                Turn.conversation_id.in_(ids[start : start + chunk])
            )
        ).all()
        referenced.update(p for row in rows for p in row if p)
    return referenced


def reply_finisher(app: Flask) -> Callable[[Turn], bool]:
    """Speaks an abandoned turn's clips with the app's voice and attaches the complete file."""

    def finish(turn: Turn) -> bool:
        from webapp.reply_audio import assemble_reply_audio, turn_tone

        assemble_reply_audio(app, turn.id, list(turn.reply_clips), turn_tone(turn))
        db.session.expire_all()  # the file was attached in another session
        row = db.session.get(Turn, turn.id)
        return row is not None and row.reply_audio_path is not None

    return finish


@contextmanager
def _instance_lock(instance_path: str, *, blocking: bool) -> Iterator[bool]:
    """Hold the instance's repair lock; yields False when not blocking and another process holds it."""
    fd = os.open(os.path.join(instance_path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def run_repair(app: Flask, *, dry_run: bool = False, min_age_s: float = ORPHAN_MIN_AGE_S) -> RepairReport:
    """The whole sweep under the instance lock (waits for a start-up sweep of another worker)."""
    with app.app_context(), _instance_lock(app.instance_path, blocking=True):
        return repair(get_audio_store(app), dry_run=dry_run, min_age_s=min_age_s, finish=reply_finisher(app))


def sweep_at_startup(app: Flask) -> RepairReport | None:
    """Sweep what changed since the last sweep, once per process; never raises.

    Returns:
        The report, or None when another worker was sweeping, this process already swept, or it failed.
    """
    if app.extensions.get(SWEPT):
        return None
    app.extensions[SWEPT] = True
    marker = os.path.join(app.instance_path, MARKER)
    try:
        with app.app_context(), _instance_lock(app.instance_path, blocking=False) as locked:
            if not locked:
                log.info("repair sweep: another worker is sweeping")
                return None
            started = time.time()
            since = os.stat(marker).st_mtime - LOOKBACK_MARGIN_S if os.path.exists(marker) else None
            report = repair(get_audio_store(app), since=since, finish=reply_finisher(app))
            with open(marker, "a"):
                pass
            os.utime(marker, (started, started))
            for action in report.actions:
                log.warning("repair sweep: %s", action.line())
            log.info("repair sweep: %d action(s) in %.0f ms", len(report.actions), (time.time() - started) * 1e3)
            return report
    except Exception:
        log.exception("repair sweep at start-up failed; run `flask --app wsgi repair`")
        return None
