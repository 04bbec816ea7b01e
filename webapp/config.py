"""Web app settings: one frozen dataclass, loaded from ``MAUM_*`` environment variables.

Like ``pipeline.settings.Settings`` (which it carries in its ``pipeline`` field), nothing here
reads the environment at import time: call ``AppSettings.from_env()``. Tests build an
``AppSettings`` directly and never touch ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.settings import ENV_PREFIX, Settings, load_from_env, setting
from webapp.audiocrypt import AUDIO_KEY_FILENAME, AudioKeyring, load_or_create_keyring

#: The repository root: top-level ``templates/``, ``static/``, ``migrations/`` and ``instance/`` live here.
REPO_ROOT = Path(__file__).resolve().parent.parent

#: File name of the default SQLite database inside the instance folder.
SQLITE_FILENAME = "maum.sqlite3"

#: How alert e-mails reach the SMTP server: upgraded with STARTTLS, TLS from the start, or in the clear.
ALERT_SMTP_TLS_MODES = ("starttls", "ssl", "none")

#: File inside the instance folder that keeps the generated secret key.
SECRET_KEY_FILENAME = "secret_key"


@dataclass(frozen=True)
class AppSettings:
    """What the web app runs with. The defaults need no configuration at all."""

    database_url: str = setting(
        "", "SQLAlchemy database URL (DATABASE_URL also works); empty means SQLite in the instance folder."
    )
    secret_key: str = setting("", "Flask secret key; empty means one generated once and kept in the instance folder.")
    instance_path: str = setting("", "Folder for the database, audio files and secret key; empty means ./instance.")
    max_upload_bytes: int = setting(26 * 1024 * 1024, "Largest accepted request body, in bytes.")
    retention_days: int = setting(
        365, "Days a conversation is kept after its last activity; `flask purge` deletes older ones (0 keeps all)."
    )
    session_minutes: int = setting(60, "A counsellor's sign-in ends after this many minutes without a request.")
    login_max_failures: int = setting(5, "Failed sign-ins per account (four times as many per IP) before a lockout.")
    login_lockout_minutes: int = setting(15, "Window in which failed sign-ins count, and how long a lockout lasts.")
    trusted_proxies: int = setting(
        0, "Reverse proxies in front of the app whose X-Forwarded-For/-Proto headers are trusted (0 trusts none)."
    )
    alert_base_url: str = setting(
        "", "Address counsellors open the app at, for links in alerts; empty: the address the client's turn came to."
    )
    alert_smtp_host: str = setting("", "SMTP server for on-duty alert e-mails; empty sends no e-mail.")
    alert_smtp_port: int = setting(587, "SMTP server port (587 for starttls, 465 for ssl, 25 for none).")
    alert_smtp_tls: str = setting("starttls", "SMTP encryption: starttls, ssl or none.")
    alert_smtp_username: str = setting("", "SMTP user name; empty signs in as nobody.")
    alert_smtp_password: str = setting("", "SMTP password.")
    alert_email_from: str = setting("", "Sender address of alert e-mails; empty means the SMTP user name.")
    alert_email_to: str = setting("", "On-duty counsellors' addresses for alert e-mails, comma-separated.")
    alert_webhook_url: str = setting("", "URL that gets a signed JSON POST for each alert; empty sends none.")
    alert_webhook_secret: str = setting("", "Shared secret the webhook body is signed with (HMAC-SHA256).")
    alert_max_attempts: int = setting(5, "Tries per alert notice before it is given up (and audited as failed).")
    alert_retry_s: float = setting(
        30.0, "Wait before the first retry of a failed notice, in seconds; doubles each time."
    )
    alert_timeout_s: float = setting(10.0, "Network timeout for one alert e-mail or webhook call, in seconds.")
    db_connect_timeout_s: int = setting(
        5, "Seconds to wait for a PostgreSQL connection before answering 503 (psycopg connect_timeout; at least 2)."
    )
    db_statement_timeout_ms: int = setting(
        15000, "Longest a PostgreSQL statement may run, in ms, before it is cancelled and answered 503 (0: no limit)."
    )
    sqlite_busy_timeout_ms: int = setting(
        2000, "How long a SQLite write waits for another writer's lock, in ms, before answering 503."
    )
    ready_timeout_ms: int = setting(
        2000, "Time /readyz gives each database check (schema at head, a test write), in ms."
    )
    max_json_bytes: int = setting(
        64 * 1024, "Largest accepted JSON request body, in bytes (larger: 400 json_too_large)."
    )
    max_json_depth: int = setting(
        16, "Deepest nesting of arrays and objects accepted in a JSON request body (deeper: 400 json_too_deep)."
    )
    rate_limit_window_s: int = setting(
        60, "Length of the window in which the API's rate limits count requests, in seconds."
    )
    rate_turns_per_ip: int = setting(30, "Turns (voice or text) one IP address may post per window (0: no limit).")
    rate_turns_per_conversation: int = setting(12, "Turns one conversation may receive per window (0: no limit).")
    rate_conversations_per_ip: int = setting(10, "Conversations one IP address may start per window (0: no limit).")
    rate_practice_per_ip: int = setting(
        30, "Practice scorings and spoken example sentences one IP address may ask for per window (0: no limit)."
    )
    show_emotion_to_client: bool = setting(
        False, "Show the client the emotion Maum heard under their own words on the chat page."
    )
    audio_storage: str = setting(
        "local", "Where conversation audio is kept: local (the instance folder) or s3 (an S3-compatible bucket)."
    )
    s3_endpoint_url: str = setting("", "S3 endpoint URL (MinIO, Ceph RGW, ...); empty means AWS S3.")
    s3_bucket: str = setting("", "S3 bucket for conversation audio (required when MAUM_AUDIO_STORAGE=s3).")
    s3_region: str = setting("", "S3 region; empty uses boto3's default (AWS_REGION and friends).")
    s3_access_key_id: str = setting("", "S3 access key id; empty uses boto3's usual credential chain.")
    s3_secret_access_key: str = setting("", "S3 secret access key; empty uses boto3's usual credential chain.")
    s3_prefix: str = setting("", "Prefix of every object key (for example maum/), to share a bucket.")
    audio_keys: str = setting(
        "", "Audio encryption keys, id:base64 (32 bytes each), comma-separated; empty means one generated once."
    )
    audio_key_id: str = setting("", "Id of the MAUM_AUDIO_KEYS key new audio is encrypted with; empty: the last one.")
    reply_audio_format: str = setting(
        "opus", "How reply audio is stored: opus (Ogg Opus via ffmpeg, about 24 kbit/s) or wav (16-bit PCM)."
    )
    reply_opus_kbps: int = setting(24, "Bitrate of stored Opus reply audio, in kbit/s.")
    pipeline: Settings = field(
        default_factory=Settings,
        metadata={"help": "Voice pipeline settings (the MAUM_* variables of pipeline.settings).", "env": False},
    )

    def __post_init__(self) -> None:
        if self.alert_smtp_tls not in ALERT_SMTP_TLS_MODES:
            raise ValueError(f"MAUM_ALERT_SMTP_TLS must be one of {', '.join(ALERT_SMTP_TLS_MODES)}")
        if self.alert_smtp_host and not self.alert_email_to.strip():
            raise ValueError("MAUM_ALERT_SMTP_HOST is set but MAUM_ALERT_EMAIL_TO names nobody")
        if self.alert_webhook_url and not self.alert_webhook_secret:
            raise ValueError("MAUM_ALERT_WEBHOOK_URL needs MAUM_ALERT_WEBHOOK_SECRET to sign its calls")
        if self.alert_max_attempts < 1:
            raise ValueError("MAUM_ALERT_MAX_ATTEMPTS must be at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, prefix: str = ENV_PREFIX) -> AppSettings:
        """Build settings from ``{prefix}{FIELD_NAME}`` variables, plus the pipeline's own.

        ``DATABASE_URL`` (as set by most hosting platforms) is used when ``MAUM_DATABASE_URL`` is not.
        """
        environ = os.environ if environ is None else environ
        if prefix + "DATABASE_URL" not in environ and "DATABASE_URL" in environ:
            environ = {**environ, prefix + "DATABASE_URL": environ["DATABASE_URL"]}
        loaded = load_from_env(cls, environ, prefix)
        return dataclasses.replace(loaded, pipeline=Settings.from_env(environ, prefix))

    def resolved_instance_path(self) -> Path:
        """Return the instance folder as an absolute path."""
        return Path(self.instance_path).expanduser().resolve() if self.instance_path else REPO_ROOT / "instance"

    def sqlalchemy_url(self, instance_path: Path) -> str:
        """Return the database URL SQLAlchemy should use.

        Empty means a SQLite file in ``instance_path``. ``postgres://`` and ``postgresql://`` URLs (the
        form hosting platforms hand out) get the psycopg 3 driver; explicit drivers are kept.
        """
        url = self.database_url.strip()
        if not url:
            return f"sqlite:///{instance_path / SQLITE_FILENAME}"
        for scheme in ("postgres://", "postgresql://"):
            if url.startswith(scheme):
                return "postgresql+psycopg://" + url[len(scheme) :]
        return url

    def engine_options(self, url: str) -> dict[str, Any]:
        """SQLAlchemy engine options for ``url``: the connect, statement and lock timeouts of these settings.

        Without them a PostgreSQL that accepts TCP but never answers holds a request for ~130 s
        (the operating system's TCP timeout) and a locked SQLite file for Python's default 5 s.
        """
        options: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            options["connect_args"] = {"timeout": self.sqlite_busy_timeout_ms / 1000.0}
        elif url.startswith("postgresql"):
            connect_args: dict[str, Any] = {"connect_timeout": max(2, self.db_connect_timeout_s)}
            if self.db_statement_timeout_ms > 0:
                connect_args["options"] = f"-c statement_timeout={self.db_statement_timeout_ms}"
            options["connect_args"] = connect_args
            # Waiting for a free pooled connection is bounded too.
            options["pool_timeout"] = max(2, self.db_connect_timeout_s)
        return options

    def is_multi_node(self) -> bool:
        """Whether this configuration looks shared by several nodes: a non-SQLite database, or S3 audio."""
        url = self.database_url.strip()
        return bool(url and not url.startswith("sqlite")) or self.audio_storage == "s3"

    def resolved_secret_key(self, instance_path: Path) -> str:
        """Return the configured secret key, or the one kept in the instance folder (made on first use).

        Raises:
            RuntimeError: no key is set while several nodes may run (each would generate its own).
        """
        if self.secret_key:
            return self.secret_key
        if self.is_multi_node():
            raise RuntimeError(
                "MAUM_SECRET_KEY must be set (the same on every node) when the database is not SQLite or "
                "audio is in S3: a generated key differs per node and would sign every counsellor out."
            )
        return load_or_create_secret_key(instance_path / SECRET_KEY_FILENAME)

    def resolved_audio_keyring(self, instance_path: Path) -> AudioKeyring:
        """Return the audio keys: ``MAUM_AUDIO_KEYS``, or the key kept in the instance folder (made on first use).

        Raises:
            RuntimeError: no key is set while several nodes may run (each would generate its own).
            AudioKeyError: the keys are malformed.
        """
        if self.audio_keys.strip():
            return AudioKeyring.parse(self.audio_keys, self.audio_key_id)
        if self.is_multi_node():
            raise RuntimeError(
                "MAUM_AUDIO_KEYS must be set (the same on every node) when the database is not SQLite or audio "
                "is in S3: a generated key differs per node and other nodes could not play the audio."
            )
        return load_or_create_keyring(instance_path / AUDIO_KEY_FILENAME)


def load_or_create_secret_key(path: Path) -> str:
    """Read the key in ``path``, creating it (mode 0600) when it does not exist yet.

    Several gunicorn workers start at once: the key is written to a private temporary file and
    hard-linked into place, which fails if another worker won the race, so every worker ends up
    with the same complete key.
    """
    if path.exists():
        return _read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another worker was first; use its key
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise RuntimeError(f"{path} is empty; delete it to generate a new secret key")
    return key
