"""A file cache of synthesised sentences, shared by every worker process on one machine.

A sentence's audio depends on its text and on the voice that spoke it: the backend's
``voice_key(tone)`` (backend, voice, speed, model checksum). The cache key is the SHA-256 of both,
and the entry is a WAV file named after it, so workers need no shared memory:

* a write goes to a private temporary file that is renamed into place (``os.replace`` is atomic),
  so a reader sees either no entry or a complete one, and two workers writing the same sentence
  both leave a whole file;
* a hit refreshes the file's modification time, which makes ``mtime`` the last use;
* after a write, when the files together exceed ``max_bytes``, the least recently used go first
  (LRU by bytes);
* ``pinned`` entries (the crisis replies rendered by ``python -m pipeline prepare``) live in their
  own folder that eviction never touches, so a crisis reply's audio is always at hand.

Two threads, or two worker processes, asking for the same missing sentence wait for one
synthesis instead of running two (a lock in the process, then an advisory ``flock`` on one of 256
lock files in ``.locks``, chosen by the key): with two workers, the page's clip request often
lands on the worker that is not already speaking that sentence for the counsellor's file, and on
two cores a second synthesis of it would only halve the speed of both.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import soundfile as sf

from pipeline.types import Speech

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: each process synthesises on its own
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

PINNED_DIR = "pinned"
LOCKS_DIR = ".locks"
_SUFFIX = ".wav"


def cache_key(text: str, voice_key: str) -> str:
    """The file name stem of a sentence spoken by a voice."""
    return hashlib.sha256(f"{voice_key}\n{text}".encode()).hexdigest()


class SpeechCache:
    """Synthesised sentences on disk, bounded in size.

    Args:
        root: the cache folder (created when needed).
        max_bytes: the most bytes the unpinned entries may take together.
    """

    def __init__(self, root: str | Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _path(self, key: str, *, pinned: bool = False) -> Path:
        folder = self.root / PINNED_DIR if pinned else self.root
        return folder / key[:2] / f"{key}{_SUFFIX}"

    def get(self, text: str, voice_key: str) -> Speech | None:
        """The cached speech of ``text`` in ``voice_key``, or None (a hit counts as a use)."""
        key = cache_key(text, voice_key)
        for pinned in (True, False):
            path = self._path(key, pinned=pinned)
            try:
                wav = path.read_bytes()
            except FileNotFoundError:
                continue
            if not pinned:
                try:
                    os.utime(path)
                except OSError:  # evicted by another worker just now; the bytes are still good
                    pass
            try:
                with sf.SoundFile(io.BytesIO(wav)) as f:
                    sample_rate, frames = f.samplerate, f.frames
            except (sf.LibsndfileError, RuntimeError):
                log.warning("unreadable cache entry %s; synthesising again", path)
                continue
            return Speech(wav=wav, sample_rate=sample_rate, duration_s=round(frames / sample_rate, 3))
        return None

    def put(self, text: str, voice_key: str, speech: Speech, *, pinned: bool = False) -> None:
        """Store ``speech`` atomically; then evict the oldest entries if the cache is too big."""
        path = self._path(cache_key(text, voice_key), pinned=pinned)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            with open(tmp, "xb") as f:
                f.write(speech.wav)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        if not pinned:
            self.evict()

    @contextmanager
    def _process_lock(self, key: str) -> Iterator[None]:
        """Hold the lock file of ``key``'s stripe, so that other processes wait (best effort)."""
        if fcntl is None:
            yield
            return
        try:
            folder = self.root / LOCKS_DIR
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / f"{key[:2]}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # a read-only or vanished folder: synthesis still works, only not shared
            log.warning("no lock file for the speech cache in %s", self.root, exc_info=True)
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def get_or_make(
        self, text: str, voice_key: str, make: Callable[[], Speech], *, pinned: bool = False
    ) -> tuple[Speech, bool]:
        """``(speech, hit)``: the cached speech, or ``make()`` stored and returned.

        Threads and processes asking for the same entry wait for one ``make``.
        """
        key = cache_key(text, voice_key)
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        try:
            with lock:
                cached = self.get(text, voice_key)
                if cached is None:
                    with self._process_lock(key):
                        cached = self.get(text, voice_key)  # another process may have made it meanwhile
                        if cached is None:
                            return self._make(text, voice_key, make, pinned=pinned), False
                if pinned and not self._path(key, pinned=True).exists():
                    self.put(text, voice_key, cached, pinned=True)
                return cached, True
        finally:
            with self._locks_guard:
                if not lock.locked():
                    self._locks.pop(key, None)

    def _make(self, text: str, voice_key: str, make: Callable[[], Speech], *, pinned: bool) -> Speech:
        start = time.perf_counter()
        speech = make()
        log.debug("synthesised %d chars in %.0f ms", len(text), (time.perf_counter() - start) * 1e3)
        self.put(text, voice_key, speech, pinned=pinned)
        return speech

    def entries(self) -> list[tuple[float, int, Path]]:
        """``(last use, bytes, path)`` of every unpinned entry."""
        out = []
        if not self.root.is_dir():
            return out
        for sub in self.root.iterdir():
            if not sub.is_dir() or sub.name == PINNED_DIR:
                continue
            for path in sub.glob(f"*{_SUFFIX}"):
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                out.append((st.st_mtime, st.st_size, path))
        return out

    def size_bytes(self) -> int:
        """Bytes taken by the unpinned entries."""
        return sum(size for _, size, _ in self.entries())

    def evict(self) -> int:
        """Remove the least recently used entries until the cache fits ``max_bytes``; return how many."""
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)  # another worker may have removed it first
            total -= size
            removed += 1
        return removed
