"""One whole turn through the pipeline on fake backends: order, timings, failures."""

from __future__ import annotations

import dataclasses
import io

import pytest
import soundfile as sf

from pipeline.errors import BackendError, EmptyTextError, TextTooLongError
from pipeline.settings import Settings
from pipeline.turn import Pipeline, clean_text
from pipeline.types import EMOTION_LABELS, Audio, HistoryTurn
from tests.samples import bigram_embed, tone

FAKES = Settings(transcriber="fake", classifier="fake", responder="fake", synthesizer="fake")


class BrokenSynthesizer:
    def synthesize(self, text, *, tone=""):
        raise BackendError(detail="speaker on fire")


def test_text_turn_runs_every_stage_with_timings():
    result = Pipeline(FAKES).run_text("  요즘   너무 우울해요\n")
    assert result.transcript.text == "요즘 너무 우울해요"
    assert result.emotion.label == "sadness" and set(result.emotion.scores) == set(EMOTION_LABELS)
    assert result.risk.level == "none"
    assert result.reply.text
    wav = sf.read(io.BytesIO(result.speech.wav))
    assert wav[1] == 16000 and len(wav[0]) > 0
    assert {"risk", "emotion", "respond", "synthesize", "total"} <= set(result.timings_ms)
    assert "transcribe" not in result.timings_ms


def test_audio_turn_transcribes_first():
    result = Pipeline(FAKES).run_audio(Audio(tone(1.0), 16000))
    assert result.transcript.text == "오늘 좀 우울해요"
    assert result.timings_ms["transcribe"] >= 0
    assert result.timings_ms["total"] >= result.timings_ms["transcribe"]


def test_high_risk_reaches_the_responder_as_high():
    result = Pipeline(FAKES).run_text("이제 그만 죽고 싶어요")
    assert result.risk.level == "high"
    assert result.reply.kind == "crisis" and "109" in result.reply.text


def test_nothing_heard_gives_neutral_emotion_and_still_a_reply():
    import numpy as np

    result = Pipeline(FAKES).run_audio(Audio(np.zeros(16000, dtype=np.float32), 16000))
    assert result.transcript.text == ""
    assert result.emotion.label == "neutral" and result.emotion.scores["neutral"] == 1.0
    assert result.reply.text


def test_history_reaches_the_responder():
    history = [HistoryTurn("안녕", "안녕하세요", "neutral", "r1"), HistoryTurn("네", "그렇군요", "neutral", "r2")]
    assert Pipeline(FAKES).run_text("그냥요", history).reply.text.startswith("3번째")


def test_synthesis_failure_keeps_the_reply_text():
    settings = dataclasses.replace(FAKES, synthesizer_fallback="")
    result = Pipeline(settings, synthesizer=BrokenSynthesizer()).run_text("오늘 기뻐요")
    assert result.speech is None
    assert result.synthesis_error == "backend_error"
    assert result.reply.text and result.emotion.label == "happiness"


def test_a_failing_voice_gives_way_to_the_fallback_voice():
    settings = dataclasses.replace(FAKES, synthesizer_fallback="fake")
    result = Pipeline(settings, synthesizer=BrokenSynthesizer()).run_text("오늘 기뻐요")
    assert result.synthesis_error == ""
    samples, rate = sf.read(io.BytesIO(result.speech.wav))
    assert rate == 16000 and len(samples) > 0.2 * rate


def test_a_voice_that_cannot_load_gives_way_to_the_fallback(monkeypatch):
    from pipeline import registry
    from pipeline.errors import MissingDependencyError

    real_create = registry.create

    def create(stage, name, settings):
        if name == "kokoro":
            raise MissingDependencyError(detail="onnxruntime is gone")
        return real_create(stage, name, settings)

    monkeypatch.setattr(registry, "create", create)
    settings = dataclasses.replace(FAKES, synthesizer="kokoro", synthesizer_fallback="fake")
    pipe = Pipeline(settings)
    result = pipe.run_text("오늘 기뻐요")
    assert pipe.backend_names()["synthesizer"] == "fake"
    assert result.speech is not None and result.synthesis_error == ""


def test_backends_are_built_once_and_lazily():
    pipe = Pipeline(FAKES)
    assert not pipe.loaded
    first = pipe.classifier
    pipe.run_text("하나")
    assert pipe.classifier is first
    pipe.load_all()
    assert pipe.loaded


def test_a_reading_is_scored_on_the_pipelines_own_transcriber_and_scorer():
    pipe = Pipeline(FAKES)
    heard = pipe.transcriber.text  # the fake hears this sentence in any sound
    buffer = io.BytesIO()
    sf.write(buffer, tone(2.0), 16000, format="WAV")
    good = pipe.score_reading(buffer.getvalue(), heard)
    assert good.heard_text == heard and good.source == "transcript"
    assert not good.acoustic  # a fake transcriber has no Whisper model to read the target with
    assert all(s.status == "correct" for s in good.syllables)
    other = pipe.score_reading(Audio(tone(2.0), 16000), "국물이 맛있어요")
    assert other.completeness < good.completeness
    assert pipe.scorer is pipe.scorer and pipe.scorer.transcriber is pipe.transcriber  # one scorer, built once


def test_unknown_stage_keyword_is_refused():
    with pytest.raises(TypeError, match="unknown stages"):
        Pipeline(FAKES, translator=object())


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\x00\x07"])
def test_empty_text(text):
    with pytest.raises(EmptyTextError) as err:
        clean_text(text, 100)
    assert err.value.code == "text_empty" and "비어 있어요" in err.value.message


def test_too_long_text_says_the_limit():
    with pytest.raises(TextTooLongError) as err:
        Pipeline(Settings(max_text_chars=10, classifier="fake", responder="fake")).run_text("가" * 11)
    assert err.value.code == "text_too_long" and "10자" in err.value.message


def test_text_is_nfc_normalised_and_control_characters_dropped():
    decomposed = "\u1112\u1161\u11ab"  # 한 as three separate jamo
    assert clean_text(f"{decomposed}국\u200b어", 100) == "한국어"  # zero-width space removed
    assert clean_text("기분이\x00좋아요\r\n", 100) == "기분이 좋아요"  # control → space


class CountingEmbedder:
    """An e5 stand-in (hashed character bigrams) that counts how many were built."""

    built = 0

    def __init__(self) -> None:
        CountingEmbedder.built += 1

    def embed_queries(self, texts):
        return bigram_embed(texts)


def test_one_pipeline_loads_one_embedder_and_lends_it_to_every_e5_user(tmp_path, monkeypatch):
    import pipeline.backends.e5_head
    import pipeline.care.assessor
    import pipeline.care.responder
    import pipeline.turn

    def no_process_embedder():
        raise AssertionError("a Pipeline's backends must use the Pipeline's embedder")

    for module in (pipeline.backends.e5_head, pipeline.care.assessor, pipeline.care.responder):
        monkeypatch.setattr(module, "shared_embedder", no_process_embedder)
    monkeypatch.setattr(pipeline.turn, "E5Embedder", CountingEmbedder)
    monkeypatch.setattr(CountingEmbedder, "built", 0)
    settings = dataclasses.replace(
        FAKES, classifier="e5-head", responder="care", risk_classifier="auto", cache_dir=str(tmp_path)
    )
    pipe = Pipeline(settings)
    result = pipe.run_text("요즘 잠을 못 자서 너무 힘들어요", synthesize=False)
    assert CountingEmbedder.built == 1
    assert pipe.classifier.embedder is pipe.embedder
    assert pipe.responder.embed == pipe.embedder.embed_queries
    assert pipe.risk_assessor.uses_classifier and pipe.risk_assessor.embed == pipe.embedder.embed_queries
    assert result.reply.text and result.emotion.label in EMOTION_LABELS
    assert CountingEmbedder.built == 1


class CountingKiwi:
    """A Kiwi stand-in that counts how many were built and how often it was asked (it asks ``real``)."""

    built = 0

    def __init__(self, real) -> None:
        CountingKiwi.built += 1
        self.real = real
        self.calls = 0

    def tokenize(self, *args, **kwargs):
        self.calls += 1
        return self.real.tokenize(*args, **kwargs)


def test_one_pipeline_builds_one_kiwi_and_lends_it_to_every_reader_of_morphology(tmp_path, monkeypatch):
    import pipeline.care.policy
    import pipeline.pronunciation.g2p
    import pipeline.text.morphology
    import pipeline.turn
    from pipeline import registry
    from pipeline.pronunciation.g2p import pronounce
    from pipeline.speech.kokoro_text import kokoro_phonemes

    real = pipeline.text.morphology.shared_kiwi()
    expected = pronounce("국물을 먹었다", real).hangul

    def no_process_kiwi():
        raise AssertionError("a Pipeline's users must read with the Pipeline's Kiwi")

    for module in (pipeline.text.morphology, pipeline.pronunciation.g2p, pipeline.care.policy):
        monkeypatch.setattr(module, "shared_kiwi", no_process_kiwi)
    monkeypatch.setattr(pipeline.turn, "load_kiwi", lambda: CountingKiwi(real))
    monkeypatch.setattr(CountingKiwi, "built", 0)
    settings = dataclasses.replace(FAKES, responder="care", cache_dir=str(tmp_path))
    pipe = Pipeline(settings, embedder=CountingEmbedder())
    result = pipe.run_text("회사에서 팀장님 때문에 너무 힘들었어요", synthesize=False)
    assert result.reply.text and not result.degraded
    assert CountingKiwi.built == 1
    assert pipe.responder.reflector.kiwi is pipe.kiwi
    after_turn = pipe.kiwi.calls
    assert after_turn > 0  # the responder's reflection and the care layer's check read with it
    assert pipe.pronounce("국물을 먹었다").hangul == expected
    assert pipe.scorer.kiwi is pipe.kiwi
    assert registry.spec("synthesizer", "kokoro").kiwi and kokoro_phonemes("국물", pipe.kiwi)
    assert pipe.kiwi.calls > after_turn
    assert CountingKiwi.built == 1
