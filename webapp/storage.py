"""Audio files, under ``audio/<conversation_id>/``, encrypted and written crash-consistently with their rows.

Two backends keep them: the instance folder (``LocalAudioStore``, the default) and an
S3-compatible bucket (``S3AudioStore``) that every node of a multi-node deployment shares. Rows
refer to files by a path relative to the store (``audio/<conversation>/<file>``) plus the sha256
of the plaintext, so the instance folder can move and objects can be re-encrypted.

The order that makes a crash leave either no turn or a complete one lives in ``PendingFiles``
and uses only the store's primitives (``put``, ``read``, ``delete``, ``exists``, ``iter_files``), so any
backend follows it:

1. ``add`` puts each file durably under its **final** name (local disk: a temporary file,
   ``fsync``, ``rename``, ``fsync`` of the folder; S3: one PUT, atomic by itself). A write that
   fails is reported, not raised: the turn is then stored without that file rather than lost.
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
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from webapp.audiocrypt import AudioDecryptError, AudioKeyring, key_id_of

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
    """The SHA-256 of ``data`` as 64 hex digits (kept beside each audio file's path)."""
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
    """Where conversation audio lives, encrypted at rest; a backend implements the ``_put_raw`` family.

    ``put`` and ``read`` encrypt and decrypt with the keyring (``webapp/audiocrypt.py``), the
    object's path being the associated data; the other primitives see objects as they are stored.

    Args:
        keyring: the audio keys; None stores plaintext (only tests and tools that need it).
    """

    #: Short name of the backend (``local``, ``s3``), for logs and the health page.
    kind = "base"

    def __init__(self, keyring: AudioKeyring | None = None) -> None:
        self.keyring = keyring

    def begin(self) -> PendingFiles:
        """Start writing the files of one turn."""
        return PendingFiles(self)

    # --- primitives: what PendingFiles, the repair sweep and deletions use ----------------------

    def put(self, rel_path: str, data: bytes) -> None:
        """Encrypt and write ``data`` durably and atomically under ``rel_path``: complete or not there at all.

        Raises:
            OSError: the disk or object store refused; nothing is left under ``rel_path``.
        """
        self._check(rel_path)
        self.put_raw(rel_path, self.keyring.seal(rel_path, data) if self.keyring else data)

    def read(self, rel_path: str, *, sealed_for: str | None = None) -> bytes:
        """The (decrypted) bytes stored under ``rel_path``.

        Args:
            rel_path: where the object is.
            sealed_for: the path it was encrypted for when that differs (a leftover temporary file
                holds the bytes written for its final name).

        Raises:
            FileNotFoundError: nothing is stored there.
            AudioDecryptError: the object does not decrypt with the keys held.
        """
        blob = self.read_raw(rel_path)
        return self.keyring.open(sealed_for or rel_path, blob) if self.keyring else blob

    def delete(self, rel_path: str) -> None:
        """Remove a stored file; a missing one is fine."""
        raise NotImplementedError

    def exists(self, rel_path: str) -> bool:
        """Whether a complete file is stored under ``rel_path`` (cheap: the sweep asks it for every file)."""
        raise NotImplementedError

    def iter_files(self, modified_since: float | None = None) -> Iterator[tuple[str, float]]:
        """Every stored file as ``(rel_path, mtime)``, temporary ones included."""
        raise NotImplementedError

    def remove_folder_if_empty(self, rel_folder: str) -> None:
        """Remove a conversation folder left empty (after its files were swept)."""

    def delete_folder(self, rel_folder: str) -> int:
        """Remove a conversation's folder with every file in it; return how many files went."""
        raise NotImplementedError

    def put_raw(self, rel_path: str, blob: bytes) -> None:
        """Store ``blob`` as it is (already encrypted), durably and atomically."""
        raise NotImplementedError

    def read_raw(self, rel_path: str) -> bytes:
        """The bytes under ``rel_path`` exactly as stored (encrypted)."""
        raise NotImplementedError

    def _check(self, rel_path: str) -> None:
        path = PurePosixPath(rel_path)
        if path.is_absolute() or ".." in path.parts or path.parts[:1] != (AUDIO_DIR,):
            raise ValueError(f"{rel_path!r} is outside {AUDIO_DIR}/")


class LocalAudioStore(AudioStore):
    """The instance folder's ``audio/`` folder (the default; one node, or a folder every node shares).

    Args:
        instance_path: the app's instance folder; files go under its ``audio/`` folder.
        keyring: the audio keys (None: plaintext).
    """

    kind = "local"

    def __init__(self, instance_path: str | Path, keyring: AudioKeyring | None = None) -> None:
        super().__init__(keyring)
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

    def _check(self, rel_path: str) -> None:
        self.resolve(rel_path)

    def put_raw(self, rel_path: str, blob: bytes) -> None:
        """Write ``blob`` under its final name durably: a temporary file, fsync, rename, fsync the folder."""
        final = self.resolve(rel_path)
        if not final.parent.is_dir():
            final.parent.mkdir(parents=True, exist_ok=True)
            _fsync_dir(final.parent.parent)
        tmp = final.with_name(temporary_name(final.name))
        try:
            with open(tmp, "xb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except Exception:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)

    def read_raw(self, rel_path: str) -> bytes:
        """The stored (encrypted) bytes of a file; ``FileNotFoundError`` when it is missing."""
        return self.resolve(rel_path).read_bytes()

    def delete(self, rel_path: str) -> None:
        """Remove a stored file; a missing one is fine."""
        self.resolve(rel_path).unlink(missing_ok=True)

    def exists(self, rel_path: str) -> bool:
        """Whether a complete file is stored under ``rel_path``.

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

    def delete_folder(self, rel_folder: str) -> int:
        """Remove a conversation's folder with every file in it; return how many files went."""
        folder = self.resolve(rel_folder)
        if not folder.is_dir():
            return 0
        removed = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
        return removed


class S3AudioStore(AudioStore):
    """An S3-compatible bucket (AWS S3, MinIO, Ceph RGW): objects ``<prefix>audio/<conversation>/<file>``.

    A PUT is atomic (an object is complete or absent), so there are no temporary objects; a
    folder is only a key prefix, so nothing is left to remove when it empties. Every node of a
    multi-node deployment points at the same bucket and prefix.

    Args:
        client: a boto3 S3 client (endpoint, region and credentials already set).
        bucket: the bucket name.
        prefix: prepended to every key (``maum/`` keeps Maum's objects apart in a shared bucket).
        keyring: the audio keys (None: plaintext).
    """

    kind = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "", keyring: AudioKeyring | None = None) -> None:
        super().__init__(keyring)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: Any, keyring: AudioKeyring | None) -> S3AudioStore:
        """Build the store from ``AppSettings`` (``s3_*`` fields)."""
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region or None,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=settings.s3_secret_access_key or None,
            config=Config(
                connect_timeout=5, read_timeout=30, retries={"max_attempts": 3}, s3={"addressing_style": "path"}
            ),
        )
        return cls(client, settings.s3_bucket, settings.s3_prefix, keyring)

    def _key(self, rel_path: str) -> str:
        self._check(rel_path)
        return self.prefix + rel_path

    def put_raw(self, rel_path: str, blob: bytes) -> None:
        """Put ``blob`` into the bucket; ``OSError`` when the object store refuses it."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(rel_path), Body=blob)
        except Exception as exc:
            raise OSError(f"S3 refused {rel_path}: {exc}") from exc

    def read_raw(self, rel_path: str) -> bytes:
        """The stored (encrypted) bytes of an object; ``FileNotFoundError`` when it is missing."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(rel_path))["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(rel_path) from exc

    def delete(self, rel_path: str) -> None:
        """Remove a stored object; a missing one is fine."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(rel_path))

    def exists(self, rel_path: str) -> bool:
        """Whether an object is stored under ``rel_path`` (one HEAD request).

        Raises:
            ValueError: ``rel_path`` points outside the audio folder.
        """
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(rel_path))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _list(self, rel_folder: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + rel_folder.rstrip("/") + "/"):
            yield from page.get("Contents", ())

    def iter_files(self, modified_since: float | None = None) -> Iterator[tuple[str, float]]:
        """Every stored object as ``(rel_path, mtime)``, listed by prefix.

        Args:
            modified_since: a Unix time; objects last written before then are skipped.
        """
        for obj in self._list(AUDIO_DIR):
            mtime = obj["LastModified"].timestamp()
            if modified_since is not None and mtime < modified_since:
                continue
            yield obj["Key"][len(self.prefix) :], mtime

    def delete_folder(self, rel_folder: str) -> int:
        """Remove every object under a conversation's prefix; return how many went."""
        self._check(rel_folder + "/x")
        keys = [obj["Key"] for obj in self._list(rel_folder)]
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
            )
        return len(keys)


def build_audio_store(settings: Any, instance_path: Path, keyring: AudioKeyring | None) -> AudioStore:
    """The store ``settings.audio_storage`` names (``local`` or ``s3``).

    Raises:
        ValueError: an unknown backend name, or S3 without a bucket.
    """
    backends = {"local": lambda: LocalAudioStore(instance_path, keyring)}
    backends["s3"] = lambda: S3AudioStore.from_settings(settings, keyring)
    if settings.audio_storage not in backends:
        raise ValueError(f"MAUM_AUDIO_STORAGE={settings.audio_storage!r}; choose one of {sorted(backends)}")
    if settings.audio_storage == "s3" and not settings.s3_bucket:
        raise ValueError("MAUM_AUDIO_STORAGE=s3 needs MAUM_S3_BUCKET")
    return backends[settings.audio_storage]()


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
            except Exception:  # noqa: BLE001 - an unreachable object store must not hide the first error
                log.exception("could not remove %s", rel_path)
        self._written.clear()


@dataclass
class ReencryptReport:
    """What ``reencrypt`` did: objects rewritten under the current key, already under it, and failed."""

    rewritten: int = 0
    current: int = 0
    failed: list[str] | None = None


def reencrypt(store: AudioStore) -> ReencryptReport:
    """Rewrite every stored object not yet under the current key (idempotent: a second run rewrites nothing).

    Unencrypted files of older installs are encrypted too. Each object is replaced atomically by
    ``put``, and its plaintext (so the row's sha256) does not change.
    """
    if store.keyring is None:
        raise ValueError("the store has no audio keys")
    report = ReencryptReport(failed=[])
    for rel_path, _ in list(store.iter_files()):
        if is_temporary(rel_path):
            continue
        try:
            blob = store.read_raw(rel_path)
            if key_id_of(blob) == store.keyring.current:
                report.current += 1
                continue
            store.put(rel_path, store.keyring.open(rel_path, blob))
            report.rewritten += 1
        except FileNotFoundError:
            continue  # deleted meanwhile (a purge)
        except Exception:  # noqa: BLE001 - one bad object must not stop the rest
            log.exception("could not re-encrypt %s", rel_path)
            report.failed.append(rel_path)
    return report


def read_audio(store: AudioStore, turn_id: str, rel_path: str) -> bytes | None:
    """A turn's audio for a player, or None (logged) when it is missing or does not decrypt."""
    try:
        return store.read(rel_path)
    except FileNotFoundError:
        log.error("audio file of turn %s is missing: %s", turn_id, rel_path)
    except (AudioDecryptError, OSError, ValueError):
        log.exception("audio file of turn %s cannot be read: %s", turn_id, rel_path)
    return None
