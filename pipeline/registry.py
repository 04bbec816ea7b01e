"""Backends by name: one explicit table per stage, imported only when chosen.

Each entry maps a backend name to ``"module:Class"`` and, for optional backends, the
pip extra that provides its dependencies. A backend class is built as ``Class(settings)``; one
marked ``embedder`` also gets the e5 embedder, and one marked ``kiwi`` the Kiwi analyser, of the
``Pipeline`` that builds it, so every user of either in a worker shares one model.

Besides the four stages of a voice turn (``STAGES``), pronunciation scoring has two seams of
its own (``SCORING``): acoustic evidence, keyed by the transcriber whose model it reads, and the
phoneme recogniser, keyed by the kind of model ``MAUM_PHONEME_MODEL`` names
(``load_phoneme_recognizer``).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import MissingDependencyError, ModelFilesError, UnknownBackendError
from pipeline.settings import Settings


@dataclass(frozen=True)
class BackendSpec:
    """Where a backend lives (``module:Class``) and the pip extra that installs what it needs."""

    target: str  # "package.module:ClassName"
    extra: str = ""  # pip extra that installs what it needs ("" = core install)
    embedder: bool = False  # built as Class(settings, embedder=...) with the caller's e5 embedder
    kiwi: bool = False  # built as Class(settings, kiwi=...) with the caller's Kiwi


TRANSCRIBERS: Mapping[str, BackendSpec] = {
    "whisper": BackendSpec("pipeline.backends.whisper:WhisperTranscriber"),
    "deepspeech2": BackendSpec("pipeline.backends.deepspeech2:DeepSpeech2Transcriber"),
    "wav2vec2": BackendSpec("pipeline.backends.wav2vec2:Wav2Vec2Transcriber"),
    "fake": BackendSpec("pipeline.backends.fake_transcriber:FakeTranscriber"),
}

CLASSIFIERS: Mapping[str, BackendSpec] = {
    "e5-head": BackendSpec("pipeline.backends.e5_head:E5HeadClassifier", embedder=True),
    "klue-bert": BackendSpec("pipeline.backends.klue_bert:KlueBertClassifier"),
    "keras": BackendSpec("pipeline.backends.keras_emotion:KerasEmotionClassifier", extra="tensorflow"),
    "fake": BackendSpec("pipeline.backends.fake_classifier:FakeClassifier"),
}

RESPONDERS: Mapping[str, BackendSpec] = {
    "care": BackendSpec("pipeline.care.responder:CareResponder", embedder=True, kiwi=True),
    "kogpt2": BackendSpec(  # both for its curated fallback
        "pipeline.backends.kogpt2:KoGPT2Responder", embedder=True, kiwi=True
    ),
    "fake": BackendSpec("pipeline.backends.fake_responder:FakeResponder"),
}

SYNTHESIZERS: Mapping[str, BackendSpec] = {
    "kokoro": BackendSpec("pipeline.backends.kokoro:KokoroSynthesizer", kiwi=True),
    "espeak": BackendSpec("pipeline.backends.espeak:EspeakSynthesizer"),
    "tacotron": BackendSpec("pipeline.backends.tacotron:TacotronSynthesizer"),
    "vits": BackendSpec("pipeline.backends.vits:VitsSynthesizer"),
    "fake": BackendSpec("pipeline.backends.fake_synthesizer:FakeSynthesizer"),
}

STAGES: Mapping[str, Mapping[str, BackendSpec]] = {
    "transcriber": TRANSCRIBERS,
    "classifier": CLASSIFIERS,
    "responder": RESPONDERS,
    "synthesizer": SYNTHESIZERS,
}

#: Acoustic evidence for pronunciation scoring, by the transcriber backend whose loaded model it
#: reads (built with ``Class.for_transcriber(transcriber, settings)``; None when it cannot).
ACOUSTIC_EVIDENCE: Mapping[str, BackendSpec] = {
    "whisper": BackendSpec("pipeline.backends.whisper_evidence:WhisperEvidence"),
}

#: Phoneme recognisers (``MAUM_PHONEME_MODEL``), by kind of model: a DeepSpeech2 checkpoint file
#: with an IPA vocabulary, or a wav2vec2 CTC folder whose tokens are IPA.
PHONEME_RECOGNIZERS: Mapping[str, BackendSpec] = {
    "deepspeech2": BackendSpec("pipeline.backends.deepspeech2:DeepSpeech2Phonemes"),
    "wav2vec2": BackendSpec("pipeline.backends.wav2vec2:Wav2Vec2Phonemes"),
}

#: The seams of pronunciation scoring; not stages of a voice turn (``Pipeline`` loads them for practice only).
SCORING: Mapping[str, Mapping[str, BackendSpec]] = {
    "acoustic_evidence": ACOUSTIC_EVIDENCE,
    "phoneme_recognizer": PHONEME_RECOGNIZERS,
}


def backend_class(stage: str, name: str) -> type:
    """Import and return the class registered for ``name`` in ``stage``.

    Raises:
        UnknownBackendError: no such stage or name; the message lists the valid ones.
        MissingDependencyError: the backend's module needs a package that is not installed;
            the message names the pip extra to install.
    """
    entry = spec(stage, name)
    module_name, _, class_name = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f'pip install "maum[{entry.extra}]"' if entry.extra else "pip install -e ."
        raise MissingDependencyError(detail=f"{stage} backend {name!r} needs {exc.name or exc}: run {hint}") from exc
    return getattr(module, class_name)


def spec(stage: str, name: str) -> BackendSpec:
    """The table entry of ``name`` in ``stage``.

    Raises:
        UnknownBackendError: no such stage or name; the message lists the valid ones.
    """
    tables = {**STAGES, **SCORING}
    if stage not in tables:
        raise UnknownBackendError(detail=f"unknown stage {stage!r}; valid: {', '.join(tables)}")
    table = tables[stage]
    if name not in table:
        raise UnknownBackendError(detail=f"unknown {stage} backend {name!r}; valid: {', '.join(sorted(table))}")
    return table[name]


def create(
    stage: str,
    name: str,
    settings: Settings,
    *,
    embedder: Callable[[], Any] | None = None,
    kiwi: Callable[[], Any] | None = None,
) -> Any:
    """Build the backend ``name`` for ``stage`` with ``settings``.

    Args:
        stage: a key of ``STAGES`` or ``SCORING``.
        name: the backend's name in that table.
        settings: handed to the backend class.
        embedder: returns the caller's e5 embedder (``Pipeline.embedder``); called, and its
            embedder handed on, only for a backend whose entry is marked ``embedder``. Without
            it such a backend uses ``pipeline.text.e5.shared_embedder``.
        kiwi: returns the caller's Kiwi (``Pipeline.kiwi``), likewise only for an entry marked
            ``kiwi``; without it such a backend uses ``pipeline.text.morphology.shared_kiwi``.
    """
    cls = backend_class(stage, name)
    entry = spec(stage, name)
    resources: dict[str, Any] = {}
    if embedder is not None and entry.embedder:
        resources["embedder"] = embedder()
    if kiwi is not None and entry.kiwi:
        resources["kiwi"] = kiwi()
    return cls(settings, **resources)


def load_phoneme_recognizer(settings: Settings) -> Any:
    """The ``PhonemeRecognizer`` ``settings.phoneme_model`` names, or None when it is empty.

    A file is a DeepSpeech2 checkpoint with an IPA vocabulary (``training/train_deepspeech2.py``);
    a folder is a Hugging Face wav2vec2 CTC model whose tokens are IPA symbols.

    Raises:
        ModelFilesError: the path does not exist or the model does not write IPA.
    """
    path = settings.phoneme_model.strip()
    if not path:
        return None
    target = Path(path)
    if target.is_file():
        return create("phoneme_recognizer", "deepspeech2", dataclasses.replace(settings, deepspeech2_checkpoint=path))
    if target.is_dir():
        return create("phoneme_recognizer", "wav2vec2", dataclasses.replace(settings, wav2vec2_model=path))
    raise ModelFilesError(detail=f"MAUM_PHONEME_MODEL={path!r}: no such file or folder")
