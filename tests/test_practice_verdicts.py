"""Verdicts grounded in the target's acoustics, fluency that needs the target read, and the set.

Fake evidence only (fast); the real Whisper path is in ``test_scoring.py`` and the benchmark
``benchmarks/pronunciation_bench.py`` measures the verdicts on the labelled set.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.pronunciation import feedback, scoring, variants
from pipeline.pronunciation.fluency import measure_fluency
from pipeline.pronunciation.g2p import pronounce
from pipeline.pronunciation.scoring import (
    ACOUSTIC_GOOD,
    ACOUSTIC_POOR,
    PronunciationScorer,
    judge_syllable,
)
from pipeline.types import Audio, Transcript


def _bursts() -> np.ndarray:
    """Two seconds of 'speech': tone bursts with quiet between (a clean recording's dynamics)."""
    t = np.arange(32000) / 16000
    envelope = (np.sin(2 * np.pi * 2.0 * t) > 0).astype(np.float32)
    return (0.3 * envelope * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


_AUDIO = Audio(samples=_bursts(), sample_rate=16000)
_HISS = Audio(samples=(0.05 * np.random.default_rng(0).standard_normal(32000)).astype(np.float32), sample_rate=16000)


def _steady(audio: Audio) -> list[tuple[float, float]]:
    return [(0.1, 1.9)]


class _Says:
    def __init__(self, text: str, confidence: float = 0.9) -> None:
        self.text, self.confidence = text, confidence

    def transcribe(self, audio: Audio) -> Transcript:
        return Transcript(text=self.text, confidence=self.confidence)


class _Evidence:
    """Probabilities per form: ``spelled`` for the target as written, ``pronounced`` as said."""

    def __init__(self, spelled: dict[int, float], pronounced: dict[int, float] | None = None, base: float = 0.9):
        self.spelled, self.pronounced, self.base = spelled, pronounced or {}, base

    def syllable_probabilities(self, audio: Audio, spoken: str) -> list[float | None]:
        return self.probabilities_for(audio, [spoken])[0]

    def probabilities_for(self, audio, texts):
        out = []
        for n, text in enumerate(texts):
            table = self.spelled if n == 0 else self.pronounced
            out.append([None if c == " " else table.get(i, self.base) for i, c in enumerate(text)])
        return out


def test_a_recognition_error_is_not_the_speakers_error():
    # Whisper wrote 각방은 for 가까운, but the audio supports every target syllable.
    scorer = PronunciationScorer(_Says("가장 각방은 지하찰력이"), _Evidence({}), stretches=_steady)
    result = scorer.score(_AUDIO, "가장 가까운 지하철역이")
    assert all(s.rating == feedback.GOOD for s in result.syllables)
    assert result.accuracy >= 90


def test_wrong_needs_poor_acoustics_and_something_else_heard():
    text = "국물이 맛있어요"
    k = pronounce(text).spoken.index("있")
    heard_else = PronunciationScorer(_Says("국물이 맛없어요"), _Evidence({k: 0.01}), stretches=_steady)
    syllable = next(s for s in heard_else.score(_AUDIO, text).syllables if s.index == k)
    assert syllable.spelled == "있" and syllable.rating == feedback.WRONG
    assert syllable.reason == feedback.REASON_SUBSTITUTED and "처럼 들렸어요" in syllable.message
    heard_same = PronunciationScorer(_Says(text), _Evidence({k: 0.01}), stretches=_steady)
    same = next(s for s in heard_same.score(_AUDIO, text).syllables if s.index == k)
    assert same.rating == feedback.UNSURE and same.reason == feedback.REASON_UNCLEAR


class _Phonemes:
    def __init__(self, symbols: list[str]) -> None:
        self.symbols = symbols

    def recognize_phonemes(self, audio: Audio) -> list[str]:
        return list(self.symbols)


def test_rule_not_applied_is_reported_on_the_syllable_it_changes_with_its_article():
    # 국물 read as spelled, [국물]: the audio does not support [궁] and [국] was heard there.
    heard = ["k", "u", "k̚", "m", "u", "l"]
    scorer = PronunciationScorer(None, _Evidence({0: 0.01}), _Phonemes(heard), stretches=_steady)
    first, second = scorer.score(_AUDIO, "국물").syllables
    assert first.rating == feedback.WRONG and first.reason == feedback.RULE_NOT_APPLIED
    assert "제18항" in first.message and "[궁]" in first.message
    assert "비음화" in first.tip
    assert second.rating == feedback.GOOD


def test_each_syllable_explains_only_the_rules_that_change_it():
    scorer = PronunciationScorer(_Says("국물이"), _Evidence({}), stretches=_steady)
    guk, mul = scorer.score(_AUDIO, "국물이").syllables[:2]
    assert [line for line in guk.explanation if "연음" in line] == []
    assert any("비음화" in line for line in guk.explanation)
    assert any("연음" in line for line in mul.explanation)
    assert all("비음화" not in line for line in mul.explanation)


def test_noisy_unsure_recording_is_unjudgeable_not_wrong():
    noisy = PronunciationScorer(_Says("구 무 시", confidence=0.2), _Evidence({}, base=0.05), stretches=_steady)
    result = noisy.score(_HISS, "국물이 시원해요")
    assert not result.judgeable
    assert all(s.rating == feedback.UNJUDGEABLE for s in result.syllables)
    assert all(s.reason == feedback.REASON_UNJUDGEABLE for s in result.syllables)
    assert "판단하기 어려워요" in result.summary and "판단하기 어려워요" in result.syllables[0].message
    data = json.loads(json.dumps(result.as_dict(), ensure_ascii=False))
    assert data["judgeable"] is False and data["syllables"][0]["rating"] == "unjudgeable"
    silent = PronunciationScorer(_Says(""), _Evidence({}, base=0.01), stretches=lambda a: [])
    assert all(s.rating == feedback.UNJUDGEABLE for s in silent.score(_AUDIO, "국물이").syllables)
    # The same weak acoustics in a clean recording are judged: reading another sentence is not noise.
    assert noisy.score(_AUDIO, "국물이 시원해요").judgeable


def test_a_clear_reading_of_another_sentence_is_wrong_and_not_fluent():
    scorer = PronunciationScorer(_Says("라디오도 영화도 몰랐다"), _Evidence({}, base=0.01), stretches=_steady)
    result = scorer.score(_AUDIO, "검게 탄 얼굴이 그대로 비치었다")
    assert result.judgeable
    assert sum(s.rating == feedback.WRONG for s in result.syllables) >= 8
    assert result.fluency <= 40 and result.overall < 40


def test_fluency_scales_with_how_much_of_the_target_was_read():
    full = measure_fluency([(0.0, 2.0)], 10, coverage=1.0)
    part = measure_fluency([(0.0, 2.0)], 10, coverage=0.3)
    assert full.score == 100 and part.score == pytest.approx(100 * 0.3**2)
    # A third of the target (an unrelated sentence sharing its endings) stays far below 40.
    assert measure_fluency([(0.0, 2.0)], 10, coverage=1 / 3).score < 15


@pytest.mark.parametrize(
    ("p", "status", "rating"),
    [
        (ACOUSTIC_GOOD, "substituted", feedback.GOOD),
        ((ACOUSTIC_GOOD + ACOUSTIC_POOR) / 2, "substituted", feedback.UNSURE),
        ((ACOUSTIC_GOOD + ACOUSTIC_POOR) / 2, "correct", feedback.GOOD),
        (ACOUSTIC_POOR / 2, "correct", feedback.UNSURE),
        (ACOUSTIC_POOR / 2, "omitted", feedback.WRONG),
    ],
)
def test_verdict_table(p, status, rating):
    assert judge_syllable(status, 1.0 if status == "correct" else 0.3, p).rating == rating


def test_no_syllable_is_wrong_where_the_recogniser_does_not_follow_the_speaker():
    # Whisper misheard most of a correct (accented) reading, unsure of itself: nothing is blamed.
    text = "해돋이를 보러 갔어요"
    misheard = PronunciationScorer(
        _Says("헤또치 룰 보라갔어요", confidence=0.4), _Evidence({}, base=0.01), stretches=_steady
    )
    result = misheard.score(_AUDIO, text)
    assert result.judgeable
    assert not [s for s in result.syllables if s.rating == feedback.WRONG]
    assert any(s.rating == feedback.UNSURE for s in result.syllables)
    # The same syllable, misheard with poor acoustics, is wrong when the rest was followed well.
    k = pronounce(text).spoken.index("러")
    followed = PronunciationScorer(_Says("해돋이를 보라 갔어요"), _Evidence({k: 0.01}), stretches=_steady)
    syllable = next(s for s in followed.score(_AUDIO, text).syllables if s.index == k)
    assert syllable.rating == feedback.WRONG


# --------------------------------------------------------------------------------------------
# Learner-like rivals weighed against the target (``variants.hypotheses``, ``scoring.best_rivals``)


class _Weighs(_Evidence):
    """Also weighs hypotheses: every text scores ``-5`` nats but references (0) and ``favoured``."""

    def __init__(self, favoured: dict[str, float], references: set[str]) -> None:
        super().__init__({})
        self.favoured, self.references = favoured, references
        self.weighed: list[str] = []

    def weigh(self, audio, spoken, texts):
        self.weighed.extend(texts)
        scores = [self.favoured.get(t, 0.0 if t in self.references else -5.0) for t in texts]
        return self.syllable_probabilities(audio, spoken), scores


def _rival_text(text: str, index: int, heard: str) -> tuple[str, set[str]]:
    found = variants.hypotheses(pronounce(text))
    pick = next(h for h in found if h.variant.index == index and h.variant.heard == heard)
    return pick.text, {h.reference for h in found}


def test_hypotheses_differ_from_their_reference_in_the_changed_word_only():
    pron = pronounce("국물이 정말 맛있어요")
    found = variants.hypotheses(pron)
    assert {h.variant.kind for h in found} == {"rule_not_applied", "substituted", "omitted", "inserted"}
    for h in found:
        ref_words, words = h.reference.split(" "), h.text.split(" ")
        changed = [n for n, (a, b) in enumerate(zip(ref_words, words, strict=True)) if a != b]
        assert len(changed) == 1
        w = pron.hangul[: h.variant.index].count(" ")
        assert changed == [w]
        assert ref_words[w] == pron.hangul.split(" ")[w]  # the word as pronounced
        assert [x for n, x in enumerate(ref_words) if n != w] == [
            x for n, x in enumerate(pron.spoken.split(" ")) if n != w
        ]
    rule = next(h for h in found if h.variant.kind == "rule_not_applied")
    assert (rule.reference.split(" ")[0], rule.text.split(" ")[0]) == ("궁무리", "국무리")


def test_confusions_cover_liquid_nasal_and_finals_but_not_ae_e():
    assert "나" in variants.confusions("라") and "라" in variants.confusions("나")
    assert {"강", "감"} <= set(variants.confusions("간")) and {"각", "갑"} <= set(variants.confusions("갇"))
    assert variants.confusions("개") == [] and variants.confusions("게") == []
    assert len(variants.hypotheses(pronounce("사랑해"), extra=True)) > len(
        variants.hypotheses(pronounce("사랑해"), extra=False)
    )


def test_a_rival_that_beats_the_target_makes_the_syllable_wrong_and_says_what_was_heard():
    text = "밥을 먹었어요"
    k = pronounce(text).hangul.index("거")
    rival, references = _rival_text(text, k, "커")
    beaten = scoring.WRONG_MARGIN["substituted"] + 1.0
    # The transcript was auto-corrected to the target and the target's probability is high: only the rival tells.
    scorer = PronunciationScorer(_Says(text), _Weighs({rival: beaten}, references), stretches=_steady, rivals=True)
    result = scorer.score(_AUDIO, text)
    syllable = next(s for s in result.syllables if s.index == k)
    assert syllable.rating == feedback.WRONG and syllable.reason == feedback.REASON_SUBSTITUTED
    assert syllable.heard == "커" and "[커]처럼 들렸어요" in syllable.message
    assert syllable.score <= scoring.BEATEN_SCORE
    assert [s.index for s in result.syllables if s.rating != feedback.GOOD] == [k]


def test_a_rival_close_to_the_target_is_not_wrong():
    text = "밥을 먹었어요"
    k = pronounce(text).hangul.index("거")
    rival, references = _rival_text(text, k, "커")
    # Every other syllable's best rival is at −5 nats (the attempt's median): the margin counts from there.
    close = -5.0 + scoring.WRONG_MARGIN["substituted"] - 0.5
    scorer = PronunciationScorer(_Says(text), _Weighs({rival: close}, references), stretches=_steady, rivals=True)
    result = scorer.score(_AUDIO, text)
    assert all(s.rating != feedback.WRONG for s in result.syllables)
    clear = PronunciationScorer(_Says(text), _Weighs({rival: close + 1.0}, references), stretches=_steady, rivals=True)
    assert next(s for s in clear.score(_AUDIO, text).syllables if s.index == k).rating == feedback.WRONG


def test_an_omitted_syllable_found_by_its_rival_is_reported_as_omitted():
    text = "밥을 먹었어요"
    k = pronounce(text).hangul.index("머")
    rival, references = _rival_text(text, k, "")
    beaten = scoring.WRONG_MARGIN["omitted"] + 1.0
    scorer = PronunciationScorer(_Says(text), _Weighs({rival: beaten}, references), stretches=_steady, rivals=True)
    syllable = next(s for s in scorer.score(_AUDIO, text).syllables if s.index == k)
    assert syllable.rating == feedback.WRONG and syllable.reason == feedback.REASON_OMITTED
    assert syllable.heard == "" and "들리지 않았어요" in syllable.message


def test_an_unclear_recording_stays_unjudgeable_even_when_a_rival_wins():
    text = "국물이 시원해요"
    k = pronounce(text).hangul.index("시")
    found = variants.hypotheses(pronounce(text))
    rival = next(h.text for h in found if h.variant.index == k and h.variant.kind == "substituted")
    weighs = _Weighs({rival: 50.0}, {h.reference for h in found})
    weighs.base = 0.05
    scorer = PronunciationScorer(_Says("구 무 시", confidence=0.2), weighs, stretches=_steady, rivals=True)
    result = scorer.score(_HISS, text)
    assert not result.judgeable
    assert all(s.rating == feedback.UNJUDGEABLE for s in result.syllables)
    assert weighs.weighed  # the hypotheses were weighed, and did not override "too unclear to judge"


def test_rivals_are_weighed_only_when_asked():
    text = "밥을 먹었어요"
    k = pronounce(text).hangul.index("거")
    rival, references = _rival_text(text, k, "커")
    weighs = _Weighs({rival: 50.0}, references)
    result = PronunciationScorer(_Says(text), weighs, stretches=_steady).score(_AUDIO, text)
    assert weighs.weighed == [] and all(s.rating == feedback.GOOD for s in result.syllables)
