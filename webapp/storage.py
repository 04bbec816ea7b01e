"""Audio files on disk, under ``<instance>/audio/<conversation_id>/``, written crash-consistently with their rows.

Rows refer to files by a path relative to the instance folder plus a sha256, so the instance
folder can move.

The order that makes a crash leave either no turn or a complete one lives in ``PendingFiles``
and uses only the store's primitives (``put``, ``read``, ``delete``, ``exists``, ``iter_files``), so any
backend (another one may keep objects in S3) follows it:

1. ``add`` puts each file durably under its **final** name (local disk: a temporary file,
   ``fsync``, ``rename``, ``fsync`` of the folder). A write that fails is reported, not raised:
   the turn is then stored without that file rather than lost.
2. ``commit_with`` flushes the row: an error there is definite (no row), so the files are removed.
3. ``COMMIT``: from here on the turn is complete. An error during ``COMMIT`` itself is ambiguous
   (the server may have committed before the connection broke), so the files stay.

A crash before 3 leaves files that no row refers to (and, mid-write, hidden ``.tmp`` files);
a crash after 3 leaves a complete turn. ``webapp/repair.py`` removes the leftovers once they are
older than any turn in flight, and marks rows whose files have gone missing for another reason.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

log = logging.getLogger(__name__)

AUDIO_DIR = "audio"

# Container → (file extension, MIME type), told apart by their first bytes. Uploads keep the
# bytes the browser sent; the extension only helps people and players that look at names.
_MIMETYPES = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".webm": "audio/webm",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".mp3": "audio/mpeg",
    ".bin": "application/octet-stream",
}


def audio_extension(data: bytes) -> str:
    """Pick a file extension for an audio upload from its magic bytes (``.bin`` when unknown)."""
    head = data[:12]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM / Matroska
        return ".webm"
    if head[4:8] == b"ftyp":
        return ".m4a"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # ADTS sync word, layer 0
        return ".aac"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    return ".bin"


def mimetype_for(path: str | Path) -> str:
    """Return the MIME type to serve a stored audio file with."""
    return _MIMETYPES.get(Path(path).suffix.lower(), "application/octet-stream")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoredFile:
    """A file as a row refers to it: path relative to the instance folder, and its checksum."""

    path: str
    sha256: str


#: Suffix of files being written; a crash can leave them behind (removed by the repair sweep).
TEMP_SUFFIX = ".tmp"


def is_temporary(rel_path: str) -> bool:
    """Whether a stored path is a file still being written (or left behind by a crash mid-write)."""
    name = PurePosixPath(rel_path).name
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def temporary_name(final_name: str) -> str:
    """A fresh hidden temporary name next to ``final_name`` (``.<name>.<random>.tmp``)."""
    return f".{final_name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"


def final_name_of(temporary: str) -> str:
    """The final name a temporary file was written for (inverse of ``temporary_name``)."""
    return temporary[1:].rsplit(".", 2)[0]


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AudioStore:
    """Where conversation audio lives: the instance folder.

    Args:
        instance_path: the app's instance folder; files go under its ``audio/`` folder.
    """

    def __init__(self, instance_path: str | Path) -> None:
        self.instance_path = Path(instance_path)
        self.root = self.instance_path / AUDIO_DIR
        self._resolved_root = self.root.resolve()

    def resolve(self, rel_path: str) -> Path:
        """Return the absolute path of a stored file.

        Raises:
            ValueError: ``rel_path`` points outside the audio folder.
        """
        path = (self.instance_path / PurePosixPath(rel_path)).resolve()
        if not path.is_relative_to(self._resolved_root):
            raise ValueError(f"{rel_path!r} is outside {self.root}")
        return path

    def begin(self) -> PendingFiles:
        """Start writing the files of one turn."""
        return PendingFiles(self)

    # --- primitives: what another backend implements -----------------------------------------

    def put(self, rel_path: str, data: bytes) -> None:
        """Write ``data`` durably and atomically under ``rel_path``: complete or not there at all.

        Raises:
            OSError: the disk refused (full, read-only, ...); nothing is left under ``rel_path``.
        """
        final = self.resolve(rel_path)
        if not final.parent.is_dir():
            final.parent.mkdir(parents=True, exist_ok=True)
            _fsync_dir(final.parent.parent)
        tmp = final.with_name(temporary_name(final.name))
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except Exception:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)

    def delete(self, rel_path: str) -> None:
        """Remove a stored file; a missing one is fine."""
        self.resolve(rel_path).unlink(missing_ok=True)

    def read(self, rel_path: str) -> bytes:
        """The bytes stored under ``rel_path``."""
        return self.resolve(rel_path).read_bytes()

    def exists(self, rel_path: str) -> bool:
        """Whether a complete file is stored under ``rel_path`` (cheap: the sweep asks it for every file).

        Raises:
            ValueError: ``rel_path`` points outside the audio folder.
        """
        path = os.path.normpath(os.path.join(self.instance_path, rel_path))
        if not path.startswith(str(self.root) + os.sep):
            raise ValueError(f"{rel_path!r} is outside {self.root}")
        return os.path.isfile(path)

    def iter_files(self, modified_since: float | None = None) -> Iterator[tuple[str, float]]:
        """Every stored file as ``(rel_path, mtime)``, temporary ones included.

        Args:
            modified_since: a Unix time; conversation folders not changed since then are skipped
                (a folder's mtime moves whenever a file in it is created, renamed or removed).
        """
        try:
            folders = sorted(
                (e for e in os.scandir(self.root) if e.is_dir(follow_symlinks=False)), key=lambda e: e.name
            )
        except FileNotFoundError:
            return
        for folder in folders:
            if modified_since is not None and folder.stat(follow_symlinks=False).st_mtime < modified_since:
                continue
            with os.scandir(folder.path) as entries:
                files = sorted((e for e in entries if e.is_file(follow_symlinks=False)), key=lambda e: e.name)
            for entry in files:
                yield f"{AUDIO_DIR}/{folder.name}/{entry.name}", entry.stat(follow_symlinks=False).st_mtime

    def remove_folder_if_empty(self, rel_folder: str) -> None:
        """Remove a conversation folder left empty (after its files were swept)."""
        folder = self.resolve(rel_folder)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


class PendingFiles:
    """The files of one turn, written before the row that refers to them is committed (see the module docstring)."""

    def __init__(self, store: AudioStore) -> None:
        self.store = store
        self._written: list[str] = []
        #: rel_path -> what went wrong, for files that could not be written (the turn is kept without them).
        self.failed: dict[str, str] = {}

    def add(self, conversation_id: str, name: str, data: bytes) -> StoredFile | None:
        """Put ``data`` durably under its final name; None (logged, in ``failed``) when the store refused it."""
        rel_path = f"{AUDIO_DIR}/{conversation_id}/{name}"
        try:
            self.store.put(rel_path, data)
        except Exception as exc:  # noqa: BLE001 - a full disk must not cost the client the reply
            log.exception("could not store %s; the turn is kept without it", rel_path)
            self.failed[rel_path] = type(exc).__name__
            return None
        self._written.append(rel_path)
        return StoredFile(path=rel_path, sha256=sha256_hex(data))

    def commit_with(self, session: Any) -> None:
        """Commit ``session``, whose new rows refer to the files added, in the crash-consistent order.

        Raises:
            Whatever flushing or committing raised, after removing the files when no row can
            refer to them.
        """
        # ``except Exception`` only: when the process is killed (SystemExit, KeyboardInterrupt) no
        # clean-up can be relied on, and the repair sweep is what deals with the leftovers.
        try:
            session.flush()
        except Exception:
            session.rollback()
            self.discard()
            raise
        try:
            session.commit()
        except Exception:
            # Ambiguous: the row may be committed. Keep the files; the repair sweep removes them
            # later if no row refers to them.
            log.warning("commit failed after its audio was written: %s kept for the repair sweep", self._written)
            session.rollback()
            raise

    def discard(self) -> None:
        """Remove every file written so far; never raises."""
        for rel_path in self._written:
            try:
                self.store.delete(rel_path)
            except OSError:
                log.exception("could not remove %s", rel_path)
        self._written.clear()
