"""Recording quality (``pipeline.pronunciation.quality``) and the gate it sets on the phoneme head.

Made-up signals only (fast): a wide-band tone sweep must read as fine, the same sweep through a
low-pass or a telephone band as band-limited, and with white noise as noisy; on such audio a
learner-like variant the head prefers makes a syllable "unsure", never "wrong", unless Whisper's
forced alignment and the transcript say wrong by themselves.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from pipeline.pronunciation import feedback, quality, scoring
from pipeline.pronunciation.conditions import degrade
from pipeline.pronunciation.g2p import pronounce
from pipeline.pronunciation.quality import assess
from pipeline.pronunciation.scoring import PronunciationScorer, judge_syllable
from pipeline.types import Audio
from tests.test_pronunciation_head import _Listens, _Says, _steady

RATE = 16000


def _sweep(seconds: float = 3.0) -> np.ndarray:
    """A logarithmic tone sweep 100 Hz → 7.5 kHz with silence either side (wide band, no noise)."""
    t = np.arange(int(seconds * RATE)) / RATE
    freq = 100.0 * np.exp(np.log(75.0) * t / seconds)
    x = 0.3 * np.sin(2 * np.pi * np.cumsum(freq) / RATE)
    quiet = RATE // 4
    return np.concatenate([np.zeros(quiet), x, np.zeros(quiet)]).astype(np.float32)


def _low_passed(x: np.ndarray, cutoff: float = 3400.0) -> np.ndarray:
    sos = butter(8, cutoff, btype="lowpass", fs=RATE, output="sos")
    return sosfiltfilt(sos, x).astype(np.float32)


def _with_noise(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    loud = x[np.abs(x) > 0]
    power = float(np.mean(loud.astype(np.float64) ** 2))
    noise = np.random.default_rng(seed).standard_normal(len(x)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)


def test_a_clean_sweep_is_not_degraded():
    q = assess(Audio(_sweep(), RATE))
    assert not q.band_limited and not q.noisy and not q.degraded
    assert q.high_band_db > quality.BAND_LIMITED_DB + 10 and q.message() == ""


@pytest.mark.parametrize("cutoff", [3400.0, 3000.0])
def test_the_same_sweep_low_passed_is_band_limited(cutoff):
    clean = assess(Audio(_sweep(), RATE))
    q = assess(Audio(_low_passed(_sweep(), cutoff), RATE))
    assert q.band_limited and not q.noisy and q.degraded
    assert q.high_band_db < clean.high_band_db - 20
    assert "좁은 음역" in q.message() and "애매해요" in q.message()


@pytest.mark.parametrize("snr_db", [10.0, 15.0, 20.0])
def test_the_same_sweep_with_noise_is_noisy_but_keeps_its_band(snr_db):
    q = assess(Audio(_with_noise(_sweep(), snr_db), RATE))
    assert q.noisy and not q.band_limited and q.degraded
    assert q.snr_db < quality.NOISY_SNR_DB
    assert "주변 소리" in q.message()


def test_the_benchmark_conditions_are_told_apart():
    x = _sweep()
    seen = {
        c: assess(Audio(x if c == "clean" else degrade(x, c, 3), RATE)) for c in ("clean", "tel", "noisy", "tel_noisy")
    }
    assert [(q.band_limited, q.noisy) for q in seen.values()] == [
        (False, False),
        (True, False),
        (False, True),
        (True, True),
    ]
    assert "좁은 음역에 주변 소리까지" in seen["tel_noisy"].message()


def test_silence_and_very_short_audio_do_not_crash():
    assert assess(Audio(np.zeros(RATE, dtype=np.float32), RATE)).degraded  # nothing above the floor
    assess(Audio(np.zeros(10, dtype=np.float32), RATE))
    assert assess(Audio(_sweep()[::2].copy(), 8000)).band_limited  # 8 kHz audio holds nothing above 4 kHz


def _head_says_wrong(degraded: bool, p: float = 0.9, status: str = "correct", matched: float = 1.0):
    return judge_syllable(
        status,
        matched,
        p,
        context=1.0,
        head_margin=scoring.HEAD_WRONG["substituted"] + 1.0,
        head_kind="substituted",
        head_top=scoring.HEAD_WRONG["substituted"] + 1.0,
        degraded=degraded,
    )


def test_the_gate_turns_the_heads_wrong_into_unsure_on_degraded_audio():
    clean = _head_says_wrong(degraded=False)
    assert clean.rating == feedback.WRONG and clean.beaten == "head"
    poor = _head_says_wrong(degraded=True)
    assert poor.rating == feedback.UNSURE and poor.reason == feedback.REASON_SUBSTITUTED and not poor.beaten


def test_on_degraded_audio_wrong_stands_when_alignment_and_transcript_say_so_by_themselves():
    # Whisper forced to read the target finds almost nothing, and the transcript heard another syllable.
    verdict = _head_says_wrong(degraded=True, p=0.005, status="substituted", matched=0.3)
    assert verdict.rating == feedback.WRONG
    # Without the head's doubt, the same evidence is wrong too: the gate takes nothing away from it.
    alone = judge_syllable("substituted", 0.3, 0.005, context=1.0, degraded=True)
    assert alone.rating == feedback.WRONG


def test_the_decoders_rivals_are_gated_as_well():
    args = dict(context=1.0, margin=scoring.WRONG_MARGIN["substituted"] + 1.0, margin_kind="substituted")
    assert judge_syllable("correct", 1.0, 0.9, **args).rating == feedback.WRONG
    assert judge_syllable("correct", 1.0, 0.9, degraded=True, **args).rating == feedback.UNSURE


def test_the_scorer_measures_the_audio_and_tells_the_learner():
    text = "밥을 먹었어요"
    pron = pronounce(text)
    k = pron.hangul.index("거")
    said = pron.hangul[:k] + "커" + pron.hangul[k + 1 :]
    wide = Audio(_sweep(2.0), RATE)
    narrow = Audio(_low_passed(_sweep(2.0)), RATE)
    on_wide = PronunciationScorer(_Says(text), _Listens(said), stretches=_steady).score(wide, text)
    assert [s.index for s in on_wide.syllables if s.rating == feedback.WRONG] == [k]
    assert on_wide.quality["degraded"] is False and on_wide.quality["message"] == ""
    assert "듣기 어려웠어요" not in on_wide.summary
    on_narrow = PronunciationScorer(_Says(text), _Listens(said), stretches=_steady).score(narrow, text)
    assert on_narrow.judgeable
    assert not [s for s in on_narrow.syllables if s.rating == feedback.WRONG]
    assert on_narrow.syllables[[s.index for s in on_narrow.syllables].index(k)].rating == feedback.UNSURE
    assert on_narrow.quality["band_limited"] is True
    assert on_narrow.quality["message"] and on_narrow.quality["message"] in on_narrow.summary
    assert on_narrow.as_dict()["quality"]["degraded"] is True


def test_the_bench_knows_holdout_v3_and_scores_it_like_the_other_holdout():
    from benchmarks import pronunciation_bench as bench

    assert bench.SPLITS == ("calibration", "holdout_v2", "holdout_v3")
    items = [i for i in bench.load_items() if i.split == "holdout_v3"]
    assert len(items) == 68 and not [i for i in items if i.source == "nikl"]
    v3_texts = {i.text for i in items}
    assert all(i.other_text in v3_texts and i.other_text != i.text for i in items)  # AUC within the split
    espeak = next(i for i in items if i.source == "espeak")
    assert bench.conditions_for(espeak) == ("clean",)
    planted = next(i for i in items if i.kind != "correct")
    assert bench.conditions_for(planted) == ("clean",)
    correct = next(i for i in items if i.kind == "correct" and i.source == "kokoro")
    assert bench.conditions_for(correct)[0] == "clean" and len(bench.conditions_for(correct)) == 2


def test_the_bench_replay_measures_the_audio_it_is_given(monkeypatch):
    from benchmarks import pronunciation_bench as bench
    from tests.test_pronunciation_head import _spelling

    class _Identity:
        def log_posteriors(self, frames):
            return frames

    text = "밥을 먹었어요"
    pron = pronounce(text)
    k = pron.hangul.index("거")
    data = {
        "transcript": text,
        "confidence": 0.9,
        "stretches": [[0.1, 1.9]],
        "probs": {pron.spoken: [None if c == " " else 0.9 for c in pron.spoken]},
        "_frames": _spelling(pron.hangul[:k] + "커" + pron.hangul[k + 1 :]),
    }
    monkeypatch.setitem(bench.HEAD, "head", _Identity())
    wide = bench.replay(data, Audio(_sweep(2.0), RATE), text, PronunciationScorer)
    assert [s.index for s in wide.syllables if s.rating == feedback.WRONG] == [k]
    phone = bench.replay(data, Audio(degrade(_sweep(2.0), "tel", 0), RATE), text, PronunciationScorer)
    assert not [s for s in phone.syllables if s.rating == feedback.WRONG]
    assert phone.quality["band_limited"]
