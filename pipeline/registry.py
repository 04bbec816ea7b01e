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
    """Where a backend lives (``module:Class``) and the pip extra that installs what it needs."""

    target: str  # "package.module:ClassName"
    extra: str = ""  # pip extra that installs what it needs ("" = core install)


TRANSCRIBERS: Mapping[str, BackendSpec] = {
    "whisper": BackendSpec("pipeline.backends.whisper:WhisperTranscriber"),
    "deepspeech2": BackendSpec("pipeline.backends.deepspeech2:DeepSpeech2Transcriber"),
    "wav2vec2": BackendSpec("pipeline.backends.wav2vec2:Wav2Vec2Transcriber"),
    "fake": BackendSpec("pipeline.backends.fake:FakeTranscriber"),
}

CLASSIFIERS: Mapping[str, BackendSpec] = {
    "e5-head": BackendSpec("pipeline.backends.e5_head:E5HeadClassifier"),
    "klue-bert": BackendSpec("pipeline.backends.klue_bert:KlueBertClassifier"),
    "keras": BackendSpec("pipeline.backends.keras_emotion:KerasEmotionClassifier", extra="tensorflow"),
    "fake": BackendSpec("pipeline.backends.fake:FakeClassifier"),
}

RESPONDERS: Mapping[str, BackendSpec] = {
    "care": BackendSpec("pipeline.care.responder:CareResponder"),
    "kogpt2": BackendSpec("pipeline.backends.kogpt2:KoGPT2Responder"),
    "fake": BackendSpec("pipeline.backends.fake:FakeResponder"),
}

SYNTHESIZERS: Mapping[str, BackendSpec] = {
    "kokoro": BackendSpec("pipeline.backends.kokoro:KokoroSynthesizer"),
    "espeak": BackendSpec("pipeline.backends.espeak:EspeakSynthesizer"),
    "tacotron": BackendSpec("pipeline.backends.tacotron:TacotronSynthesizer"),
    "vits": BackendSpec("pipeline.backends.vits:VitsSynthesizer"),
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
