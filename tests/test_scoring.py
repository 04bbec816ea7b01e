"""Scoring real speech: the NIKL read sentences against their own text and against others.

These load the real Whisper base model (CTranslate2) and its Silero VAD, so they are ``slow``.
"""

from __future__ import annotations

import json

import pytest

from pipeline.audio import decode_file
from pipeline.backends.whisper_evidence import WhisperEvidence
from pipeline.pronunciation import feedback
from pipeline.pronunciation.scoring import PronunciationScorer
from pipeline.settings import Settings
from pipeline.turn import Pipeline
from tests.samples import real_sentences

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    return Pipeline(Settings())


@pytest.fixture(scope="module")
def scorer(pipe: Pipeline) -> PronunciationScorer:
    scorer = pipe.scorer
    assert isinstance(scorer.evidence, WhisperEvidence)
    return scorer


@pytest.fixture(scope="module")
def recordings():
    sentences = real_sentences()
    assert len(sentences) == 3
    return [(decode_file(path), text) for path, text in sentences]


@pytest.fixture(scope="module")
def score(scorer, recordings):
    """``score(k, text)``: recording k scored against ``text``, each pair computed once."""
    cache = {}

    def run(k: int, text: str):
        if (k, text) not in cache:
            cache[k, text] = scorer.score(recordings[k][0], text)
        return cache[k, text]

    return run


def test_own_sentence_scores_high_and_other_sentences_low(score, recordings):
    own, other = [], []
    for k, (_, text) in enumerate(recordings):
        result = score(k, text)
        own.append(result.overall)
        assert result.accuracy >= 85, (text, result.heard_text, result.accuracy)
        assert result.completeness >= 95
        assert sum(s.rating == feedback.WRONG for s in result.syllables) <= 1
        for _, other_text in recordings[:k] + recordings[k + 1 :]:
            mismatch = score(k, other_text)
            other.append(mismatch.overall)
            assert mismatch.accuracy <= 40, (text, other_text, mismatch.accuracy)
            assert mismatch.overall <= 45
    print(f"\nown sentence overall: {own}\nother sentences overall: {other}")
    assert min(own) >= 85
    assert min(own) - max(other) >= 40


def test_acoustic_evidence_catches_one_wrong_word(scorer, score, recordings):
    audio, _ = recordings[0]  # 기차도 전기도 없었다
    probabilities = scorer.evidence.syllable_probabilities(audio, "기차도 전기도 있었다")
    true = scorer.evidence.syllable_probabilities(audio, "기차도 전기도 없었다")
    spoken = "기차도 전기도 있었다"
    changed = spoken.index("있")
    assert probabilities[changed] < 0.1
    assert true[changed] > 0.5
    others = [p for k, p in enumerate(true) if p is not None]
    assert sum(others) / len(others) > 0.8
    result = score(0, "기차도 전기도 있었다")
    wrong = [s for s in result.syllables if s.rating != feedback.GOOD]
    assert [s.spelled for s in wrong][:1] == ["있"]


def test_fluency_from_real_speech(score, recordings):
    result = score(2, recordings[2][1])
    assert 3.0 <= result.timing.rate_sps <= 9.0
    assert result.timing.long_pauses == 0
    assert result.fluency >= 80
    assert set(result.timings_ms) >= {"transcribe", "acoustic", "align", "vad", "total"}


def test_cli_score(pipe, recordings, capsys, monkeypatch):
    from pipeline import __main__ as cli
    from tests.samples import KOREAN_SPEECH

    monkeypatch.setattr(cli, "Pipeline", lambda settings: pipe)  # reuse the loaded model
    path = str(KOREAN_SPEECH / "audio" / "nikl_fv01_t01_s02.wav")
    assert cli.main(["score", path, "--text", "라디오도 영화도 몰랐다"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scores"]["overall"] >= 85
    assert data["expected"]["pronunciation"] == "라디오도 영화도 몰랃따"
    assert len(data["syllables"]) == 10
    assert all(s["rating"] in ("good", "unsure", "wrong") for s in data["syllables"])


def test_a_dropped_syllable_loses_to_its_rival_and_a_correct_reading_does_not(scorer):
    # Calibration clips of the labelled set: 앞으로 잘 부탁해요 read correctly, and with 부 dropped.
    from benchmarks.pronunciation_bench import SET_DIR
    from pipeline.pronunciation import scoring
    from pipeline.pronunciation.g2p import pronounce

    target = pronounce("앞으로 잘 부탁해요")
    dropped = decode_file(SET_DIR / "audio" / "1-07_kokoro_omitted_6.flac")
    correct = decode_file(SET_DIR / "audio" / "1-07_kokoro_correct.flac")
    probabilities, rivals = scoring.best_rivals(target, scorer.evidence.weigh, dropped)
    assert probabilities == scorer.evidence.syllable_probabilities(dropped, target.spoken)
    strongest = max(rivals.values(), key=lambda r: r.relative)
    assert strongest.variant.index == 6 and strongest.variant.kind == "omitted" and strongest.peak
    assert strongest.relative >= scoring.WRONG_MARGIN["omitted"]
    _, rivals = scoring.best_rivals(target, scorer.evidence.weigh, correct)
    assert all(r.relative < scoring.WRONG_MARGIN[r.variant.kind] or not r.peak for r in rivals.values())
