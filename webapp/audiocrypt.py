"""Audio encrypted at rest: AES-256-GCM per object, under keys named by id, with rotation.

An encrypted object is ``header || ciphertext || 16-byte tag``, the header being::

    b"MAUM"  version (1 byte)  key-id length (1 byte)  key id (ASCII)  nonce (12 bytes)

The associated data is the header plus the object's path (``audio/<conversation>/<file>``), so an
object copied or swapped to another turn's path does not decrypt, and neither does one whose
header was edited. Objects that do not start with the magic are the unencrypted files of older
installs and are returned as they are (no audio container starts with ``MAUM``).

Keys come from ``MAUM_AUDIO_KEYS`` (``id:base64,id:base64``; each key 32 bytes) and
``MAUM_AUDIO_KEY_ID`` names the one new objects are written with; the others still decrypt, which
is what makes rotation safe: add a key, switch the id, run ``flask --app wsgi audio reencrypt``.
Without keys, a single-node install generates one once into ``<instance>/audio_key`` (mode 0600).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"MAUM"
FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
#: File inside the instance folder that keeps the generated key of a single-node install.
AUDIO_KEY_FILENAME = "audio_key"
#: Key id of a generated key.
GENERATED_KEY_ID = "local1"

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class AudioKeyError(ValueError):
    """The audio key settings are unusable (the message says which and why)."""


class AudioDecryptError(ValueError):
    """An object did not decrypt: unknown key id, wrong path, or tampered bytes."""


def is_encrypted(blob: bytes) -> bool:
    """Whether ``blob`` carries the header of an encrypted object."""
    return blob[:4] == MAGIC


def key_id_of(blob: bytes) -> str | None:
    """The key id in an encrypted object's header; None for an unencrypted one."""
    if not is_encrypted(blob) or len(blob) < 6:
        return None
    length = blob[5]
    return blob[6 : 6 + length].decode("ascii", "replace")


@dataclass(frozen=True)
class AudioKeyring:
    """The keys audio objects are encrypted with: ``keys`` (id → 32 bytes) and the ``current`` id for new writes."""

    keys: dict[str, bytes]
    current: str

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise AudioKeyError(
                f"MAUM_AUDIO_KEY_ID {self.current!r} is not one of MAUM_AUDIO_KEYS ({sorted(self.keys)})"
            )

    @classmethod
    def parse(cls, keys: str, current: str = "") -> AudioKeyring:
        """Read ``id:base64,id:base64`` (commas or whitespace between); ``current`` defaults to the last one.

        Raises:
            AudioKeyError: a malformed entry, a key that is not 32 bytes, or an unknown ``current``.
        """
        parsed: dict[str, bytes] = {}
        for entry in re.split(r"[,\s]+", keys.strip()):
            if not entry:
                continue
            key_id, sep, b64 = entry.partition(":")
            if not sep or not _KEY_ID.match(key_id):
                raise AudioKeyError(
                    f"MAUM_AUDIO_KEYS entry {key_id!r} is not `id:base64key` (id: letters, digits, ._-)"
                )
            try:
                key = base64.b64decode(b64, validate=True)
            except ValueError as exc:
                raise AudioKeyError(f"MAUM_AUDIO_KEYS key {key_id!r} is not base64") from exc
            if len(key) != KEY_BYTES:
                raise AudioKeyError(f"MAUM_AUDIO_KEYS key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}")
            parsed[key_id] = key
        if not parsed:
            raise AudioKeyError("MAUM_AUDIO_KEYS holds no key")
        return cls(keys=parsed, current=current or list(parsed)[-1])

    def seal(self, path: str, data: bytes) -> bytes:
        """Encrypt ``data`` for ``path`` under the current key."""
        key_id = self.current.encode("ascii")
        header = MAGIC + struct.pack("BB", FORMAT_VERSION, len(key_id)) + key_id + os.urandom(NONCE_BYTES)
        nonce = header[-NONCE_BYTES:]
        return header + AESGCM(self.keys[self.current]).encrypt(nonce, data, header + path.encode("utf-8"))

    def open(self, path: str, blob: bytes) -> bytes:
        """Decrypt an object stored under ``path``; an unencrypted one (older installs) comes back unchanged.

        Raises:
            AudioDecryptError: unknown format version or key id, or the bytes or path do not match.
        """
        if not is_encrypted(blob):
            return blob
        if len(blob) < 6 or blob[4] != FORMAT_VERSION:
            raise AudioDecryptError(f"{path}: unknown encryption format version")
        end = 6 + blob[5] + NONCE_BYTES
        key_id = blob[6 : 6 + blob[5]].decode("ascii", "replace")
        key = self.keys.get(key_id)
        if key is None:
            raise AudioDecryptError(f"{path}: encrypted under key {key_id!r}, which MAUM_AUDIO_KEYS does not hold")
        header = blob[:end]
        try:
            return AESGCM(key).decrypt(header[-NONCE_BYTES:], blob[end:], header + path.encode("utf-8"))
        except Exception as exc:  # cryptography's InvalidTag carries no message
            raise AudioDecryptError(f"{path}: does not decrypt (tampered, or stored under another path)") from exc


def new_key_b64() -> str:
    """A fresh random AES-256 key, base64 (for ``MAUM_AUDIO_KEYS``)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def load_or_create_keyring(path: Path) -> AudioKeyring:
    """The single-node keyring kept in ``path`` (``id:base64``), created once (mode 0600) when missing.

    Like the secret key, the key is written to a private temporary file and hard-linked into
    place, so gunicorn workers starting at once all end up with the same key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(f"{GENERATED_KEY_ID}:{new_key_b64()}\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another worker was first; use its key
        finally:
            tmp.unlink(missing_ok=True)
    return AudioKeyring.parse(path.read_text(encoding="ascii"))
