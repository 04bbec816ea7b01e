"""Backend registry and settings: lookups by name, clear errors, every setting documented."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline import registry
from pipeline.errors import MissingDependencyError, UnknownBackendError
from pipeline.settings import Settings, describe, resolve_device
from pipeline.stages import EmotionClassifier, Responder, Synthesizer, Transcriber

REPO = Path(__file__).resolve().parents[1]


def test_fake_backends_satisfy_their_protocols():
    settings = Settings()
    assert isinstance(registry.create("transcriber", "fake", settings), Transcriber)
    assert isinstance(registry.create("classifier", "fake", settings), EmotionClassifier)
    assert isinstance(registry.create("responder", "fake", settings), Responder)
    assert isinstance(registry.create("synthesizer", "fake", settings), Synthesizer)


def test_unknown_backend_lists_the_valid_names():
    with pytest.raises(UnknownBackendError) as err:
        registry.create("transcriber", "whisperx", Settings())
    valid = ", ".join(sorted(registry.TRANSCRIBERS))
    assert "whisperx" in str(err.value) and f"valid: {valid}" in str(err.value)
    assert "whisper" in registry.TRANSCRIBERS and "fake" in registry.TRANSCRIBERS


def test_unknown_stage_lists_the_stages():
    with pytest.raises(UnknownBackendError) as err:
        registry.backend_class("translator", "fake")
    assert "transcriber, classifier, responder, synthesizer" in str(err.value)


def test_missing_dependency_names_the_extra(monkeypatch):
    table = dict(registry.TRANSCRIBERS)
    table["future"] = registry.BackendSpec("maum_not_installed_module:Thing", extra="wav2vec2")
    monkeypatch.setitem(registry.STAGES, "transcriber", table)
    with pytest.raises(MissingDependencyError) as err:
        registry.create("transcriber", "future", Settings())
    assert 'pip install "maum[wav2vec2]"' in str(err.value)


def test_every_registered_target_exists():
    for stage, table in registry.STAGES.items():
        for name in table:
            if name in {"whisper", "e5-head", "care", "espeak"}:
                continue  # these import model packages; the slow tests build them
            assert callable(registry.backend_class(stage, name)), (stage, name)


def test_the_scoring_seams_are_registered_backends_apart_from_the_turn_stages():
    from pipeline.stages import AcousticEvidence, PhonemeRecognizer

    assert set(registry.SCORING).isdisjoint(registry.STAGES)  # a voice turn never loads them
    for name in registry.PHONEME_RECOGNIZERS:
        assert issubclass(registry.backend_class("phoneme_recognizer", name), PhonemeRecognizer), name
    evidence = registry.backend_class("acoustic_evidence", "whisper")
    assert issubclass(evidence, AcousticEvidence)
    assert evidence.for_transcriber(registry.create("transcriber", "fake", Settings()), Settings()) is None
    with pytest.raises(UnknownBackendError, match="valid: deepspeech2, wav2vec2"):
        registry.backend_class("phoneme_recognizer", "hubert")


def test_settings_from_env_parses_types():
    settings = Settings.from_env({
        "MAUM_WHISPER_BEAM_SIZE": "5", "MAUM_WHISPER_VAD": "off", "MAUM_MAX_AUDIO_S": "30.5",
        "MAUM_TRANSCRIBER": "fake", "OTHER": "ignored",
    })  # fmt: skip
    assert settings.whisper_beam_size == 5 and settings.whisper_vad is False
    assert settings.max_audio_s == 30.5 and settings.transcriber == "fake"
    assert settings.classifier == "e5-head"  # untouched default


def test_settings_reject_bad_values_naming_the_variable():
    with pytest.raises(ValueError, match="MAUM_WHISPER_BEAM_SIZE='five'"):
        Settings.from_env({"MAUM_WHISPER_BEAM_SIZE": "five"})
    with pytest.raises(ValueError, match="MAUM_WHISPER_VAD"):
        Settings.from_env({"MAUM_WHISPER_VAD": "maybe"})


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().device = "cuda:0"  # type: ignore[misc]


def test_device_setting():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("cuda:1") == "cuda:1"
    assert resolve_device("auto") in {"cpu", "cuda:0"}
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        resolve_device("gpu")


def test_readme_documents_every_setting():
    from webapp.config import AppSettings

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    names = [env for env, _, _ in describe(Settings) + describe(AppSettings)]
    missing = [env for env in names if f"`{env}`" not in readme]
    assert not missing, f"README lacks {missing}"
    assert len(names) > 20
