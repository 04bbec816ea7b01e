"""Pipeline settings: one frozen dataclass, loaded from ``MAUM_*`` environment variables.

Every field carries a one-line ``help`` in its metadata; the README lists them all (a test checks).
Nothing here reads the environment at import time: call ``Settings.from_env()``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ENV_PREFIX = "MAUM_"

T = TypeVar("T")


def setting(default: Any, help: str) -> Any:  # noqa: A002 - "help" reads best in the field table
    """A dataclass field with a one-line help text."""
    return field(default=default, metadata={"help": help})


def default_cache_dir() -> str:
    """Where prepared model files go: ``$XDG_CACHE_HOME/maum`` or ``~/.cache/maum``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "maum")


@dataclass(frozen=True)
class Settings:
    """What the voice pipeline runs with. Safe defaults work offline on a CPU."""

    device: str = setting("auto", "Where neural models run: auto, cpu, or cuda:N.")
    transcriber: str = setting("whisper", "Speech-to-text backend (see pipeline/registry.py).")
    classifier: str = setting("e5-head", "Emotion classifier backend.")
    responder: str = setting("care", "Reply backend.")
    synthesizer: str = setting("espeak", "Text-to-speech backend.")
    cache_dir: str = setting("", "Folder for prepared model files; empty means ~/.cache/maum.")
    whisper_model: str = setting("", "Whisper model: empty for the bundled base model, or a local CTranslate2 folder.")
    whisper_compute_type: str = setting("int8", "CTranslate2 compute type for Whisper.")
    whisper_beam_size: int = setting(1, "Whisper beam size (1 is greedy and fastest).")
    whisper_cpu_threads: int = setting(2, "CPU threads for Whisper; 0 lets CTranslate2 choose.")
    whisper_vad: bool = setting(True, "Skip non-speech with the Silero VAD bundled in faster-whisper.")
    language: str = setting("ko", "Language spoken by clients (Whisper language code).")
    emotion_head: str = setting("", "Emotion head file (.npz); empty means the one shipped in pipeline/assets.")
    replies_path: str = setting("", "Curated reply bank (JSON); empty means the one shipped in pipeline/care/data.")
    care_min_match: float = setting(
        0.92, "Cue similarity (e5 cosine) below which the care responder invites more instead of guessing."
    )
    care_min_emotion: float = setting(
        0.6, "Emotion probability the care responder trusts when no cue is close in meaning."
    )
    espeak_voice: str = setting("ko", "espeak-ng voice name.")
    espeak_rate_wpm: int = setting(160, "espeak-ng speaking rate in words per minute.")
    max_audio_s: float = setting(60.0, "Longest accepted recording, in seconds.")
    min_audio_s: float = setting(0.2, "Shortest accepted recording, in seconds.")
    max_audio_bytes: int = setting(25 * 1024 * 1024, "Largest accepted audio upload, in bytes.")
    silence_dbfs: float = setting(-55.0, "Recordings quieter than this RMS level (dBFS) count as silent.")
    max_text_chars: int = setting(1000, "Longest accepted typed message, in characters.")

    @property
    def resolved_cache_dir(self) -> Path:
        return Path(self.cache_dir or default_cache_dir())

    @classmethod
    def from_env(cls: type[T], environ: Mapping[str, str] | None = None, prefix: str = ENV_PREFIX) -> T:
        """Build settings from ``{prefix}{FIELD_NAME}`` variables; unset ones keep their defaults."""
        return load_from_env(cls, environ if environ is not None else os.environ, prefix)


def env_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of ``cls`` that are single environment variables (not marked ``env: False``)."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("env", True)]


def load_from_env(cls: type[T], environ: Mapping[str, str], prefix: str) -> T:
    """Fill the simple-typed fields of dataclass ``cls`` from ``environ``.

    Raises:
        ValueError: a variable does not parse as its field's type (names the variable).
    """
    values: dict[str, Any] = {}
    for f in env_fields(cls):
        name = prefix + f.name.upper()
        if name not in environ:
            continue
        raw = environ[name].strip()
        values[f.name] = _parse(raw, f.type, name)
    return cls(**values)


def _parse(raw: str, type_name: Any, name: str) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
    try:
        if kind == "bool":
            lowered = raw.lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a valid {kind}") from None
    return raw


def describe(cls: type) -> list[tuple[str, str, Any]]:
    """(environment variable, help, default) for each field, for docs and ``--help``."""
    return [(ENV_PREFIX + f.name.upper(), f.metadata.get("help", ""), f.default) for f in env_fields(cls)]


def resolve_device(device: str) -> str:
    """Turn the ``device`` setting into a concrete torch device string, once.

    ``auto`` picks ``cuda:0`` when torch sees a GPU, else ``cpu``. Torch is imported only here
    and only when needed, so the default CPU pipeline never pays for it.
    """
    if device != "auto":
        if device != "cpu" and not device.startswith("cuda"):
            raise ValueError(f"device must be auto, cpu or cuda:N, not {device!r}")
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda:0" if torch.cuda.is_available() else "cpu"
