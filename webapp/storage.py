"""Audio files on disk, under ``<instance>/audio/<conversation_id>/``.

Rows refer to files by a path relative to the instance folder plus a sha256, so the instance
folder can move. Files of one turn are written all-or-nothing together with its row:
``PendingFiles`` writes them under temporary names, the caller commits the row, then
``publish`` renames them into place (or ``discard`` removes them when anything failed).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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


class AudioStore:
    """Where conversation audio lives.

    Args:
        instance_path: the app's instance folder; files go under its ``audio/`` folder.
    """

    def __init__(self, instance_path: str | Path) -> None:
        self.instance_path = Path(instance_path)
        self.root = self.instance_path / AUDIO_DIR

    def resolve(self, rel_path: str) -> Path:
        """Return the absolute path of a stored file.

        Raises:
            ValueError: ``rel_path`` points outside the audio folder.
        """
        path = (self.instance_path / PurePosixPath(rel_path)).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"{rel_path!r} is outside {self.root}")
        return path

    def begin(self) -> PendingFiles:
        """Start writing the files of one turn."""
        return PendingFiles(self)


class PendingFiles:
    """Files written under temporary names until the row that refers to them is committed."""

    def __init__(self, store: AudioStore) -> None:
        self.store = store
        self._staged: list[tuple[Path, Path]] = []  # (temporary, final)
        self._published: list[Path] = []

    def add(self, conversation_id: str, name: str, data: bytes) -> StoredFile:
        """Write ``data`` to a temporary file next to its final place and return how to refer to it."""
        rel_path = f"{AUDIO_DIR}/{conversation_id}/{name}"
        final = self.store.resolve(rel_path)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")
        self._staged.append((tmp, final))
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return StoredFile(path=rel_path, sha256=sha256_hex(data))

    def publish(self) -> None:
        """Move every file to its final name (after the row was committed)."""
        for tmp, final in self._staged:
            os.replace(tmp, final)
            self._published.append(final)
        self._staged.clear()

    def discard(self) -> None:
        """Remove every file written so far, temporary or published; never raises."""
        for path in [tmp for tmp, _ in self._staged] + self._published:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                log.exception("could not remove %s", path)
        self._staged.clear()
        self._published.clear()
