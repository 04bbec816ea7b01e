"""Backends by name: one explicit table per stage, imported only when chosen.

Each entry maps a backend name to ``"module:Class"`` and, for optional backends, the
pip extra that provides its dependencies. A backend class is built as ``Class(settings)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.errors import MissingDependencyError, UnknownBackendError
from pipeline.settings import Settings


@dataclass(frozen=True)
class BackendSpec:
    target: str  # "package.module:ClassName"
    extra: str = ""  # pip extra that installs what it needs ("" = core install)


TRANSCRIBERS: Mapping[str, BackendSpec] = {
    "whisper": BackendSpec("pipeline.backends.whisper:WhisperTranscriber"),
    "fake": BackendSpec("pipeline.backends.fake:FakeTranscriber"),
}

CLASSIFIERS: Mapping[str, BackendSpec] = {
    "e5-head": BackendSpec("pipeline.backends.e5_head:E5HeadClassifier"),
    "fake": BackendSpec("pipeline.backends.fake:FakeClassifier"),
}

RESPONDERS: Mapping[str, BackendSpec] = {
    "care": BackendSpec("pipeline.care.responder:CareResponder"),
    "fake": BackendSpec("pipeline.backends.fake:FakeResponder"),
}

SYNTHESIZERS: Mapping[str, BackendSpec] = {
    "espeak": BackendSpec("pipeline.backends.espeak:EspeakSynthesizer"),
    "fake": BackendSpec("pipeline.backends.fake:FakeSynthesizer"),
}

STAGES: Mapping[str, Mapping[str, BackendSpec]] = {
    "transcriber": TRANSCRIBERS,
    "classifier": CLASSIFIERS,
    "responder": RESPONDERS,
    "synthesizer": SYNTHESIZERS,
}


def backend_class(stage: str, name: str) -> type:
    """Import and return the class registered for ``name`` in ``stage``.

    Raises:
        UnknownBackendError: no such stage or name; the message lists the valid ones.
        MissingDependencyError: the backend's module needs a package that is not installed;
            the message names the pip extra to install.
    """
    if stage not in STAGES:
        raise UnknownBackendError(detail=f"unknown stage {stage!r}; valid: {', '.join(STAGES)}")
    table = STAGES[stage]
    if name not in table:
        raise UnknownBackendError(detail=f"unknown {stage} backend {name!r}; valid: {', '.join(sorted(table))}")
    spec = table[name]
    module_name, _, class_name = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f'pip install "maum[{spec.extra}]"' if spec.extra else "pip install -e ."
        raise MissingDependencyError(detail=f"{stage} backend {name!r} needs {exc.name or exc}: run {hint}") from exc
    return getattr(module, class_name)


def create(stage: str, name: str, settings: Settings) -> Any:
    """Build the backend ``name`` for ``stage`` with ``settings``."""
    return backend_class(stage, name)(settings)
