"""The CTC phoneme head on Whisper's encoder: CTC scoring, loading and fallback, verdicts, benchmark.

Made-up heads and posteriors (fast) except ``test_real_head_on_a_calibration_clip``, which needs
Whisper base and the shipped head (skipped without them).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.pronunciation import feedback, phoneme_head, scoring
from pipeline.pronunciation.g2p import pronounce
from pipeline.pronunciation.phoneme_head import (
    BLANK,
    N_CLASSES,
    PhonemeHead,
    ctc_log_likelihoods,
    head_rivals,
    log_softmax,
    phoneme_ids,
)
from pipeline.pronunciation.scoring import PronunciationScorer
from pipeline.types import Audio, Transcript

_T = np.arange(32000) / 16000
_AUDIO = Audio(
    samples=(0.3 * (np.sin(2 * np.pi * 2.0 * _T) > 0) * np.sin(2 * np.pi * 220 * _T)).astype(np.float32),
    sample_rate=16000,
)


def _steady(audio: Audio) -> list[tuple[float, float]]:
    return [(0.1, 1.9)]


class _Says:
    def __init__(self, text: str) -> None:
        self.text = text

    def transcribe(self, audio: Audio) -> Transcript:
        return Transcript(text=self.text, confidence=0.9)


def _spelling(pronounced: str, frames_per_phoneme: int = 3, sharp: float = 8.0) -> np.ndarray:
    """Log-posteriors of audio that clearly says ``pronounced``: each phoneme, then a blank."""
    rows = []
    for i in phoneme_ids(pronounced):
        for c in [i] * frames_per_phoneme + [BLANK]:
            row = np.zeros(N_CLASSES)
            row[c] = sharp
            rows.append(row)
    return log_softmax(np.array(rows))


class _Listens:
    """Whisper-like evidence that supports every target syllable (0.9), plus made-up head posteriors."""

    def __init__(self, said: str | None) -> None:
        self.said = said

    def syllable_probabilities(self, audio: Audio, spoken: str) -> list[float | None]:
        return [None if c == " " else 0.9 for c in spoken]

    def phoneme_posteriors(self, audio: Audio) -> np.ndarray | None:
        return None if self.said is None else _spelling(self.said)


def test_ctc_log_likelihood_matches_brute_force_over_all_paths():
    rng = np.random.default_rng(3)
    log_probs = log_softmax(rng.normal(size=(5, 3)) * 1.5)
    sequences = [[1], [1, 2], [1, 1], [2, 1, 2], [], [1, 2, 1, 2, 1, 2]]

    def collapse(path):
        out = [c for n, c in enumerate(path) if c != BLANK and (n == 0 or c != path[n - 1])]
        return out

    expected = []
    for seq in sequences:
        total = 0.0
        for path in itertools.product(range(3), repeat=5):
            if collapse(path) == seq:
                total += float(np.exp(sum(log_probs[t, c] for t, c in enumerate(path))))
        expected.append(np.log(total) if total > 0 else -np.inf)
    got = ctc_log_likelihoods(log_probs, sequences)
    assert np.allclose(got[:-1], expected[:-1], atol=1e-9)
    assert got[-1] == -np.inf and expected[-1] == -np.inf  # six labels with repeats need more than five frames


def test_head_prefers_the_sequence_the_audio_spells():
    pron = pronounce("밥을 먹었어요")
    k = pron.hangul.index("거")
    said = pron.hangul[:k] + "커" + pron.hangul[k + 1 :]
    evidence = head_rivals(_spelling(said), pron)
    best = max(evidence.rivals.values(), key=lambda r: r.margin)
    assert best.variant.index == k and best.variant.heard == "커" and best.margin > 10
    clean = head_rivals(_spelling(pron.hangul), pron)
    assert all(r.margin < 0 for r in clean.rivals.values())
    assert clean.per_frame > evidence.per_frame


def test_a_syllable_the_head_hears_as_a_rival_is_wrong_and_says_what_was_heard():
    text = "밥을 먹었어요"
    pron = pronounce(text)
    k = pron.hangul.index("거")
    said = pron.hangul[:k] + "커" + pron.hangul[k + 1 :]
    # The transcript was auto-corrected and Whisper supports the target: only the head hears the slip.
    result = PronunciationScorer(_Says(text), _Listens(said), stretches=_steady).score(_AUDIO, text)
    wrong = [s for s in result.syllables if s.rating == feedback.WRONG]
    assert [s.index for s in wrong] == [k]
    assert wrong[0].heard == "커" and "[커]처럼 들렸어요" in wrong[0].message
    assert wrong[0].reason == feedback.REASON_SUBSTITUTED and wrong[0].score <= scoring.BEATEN_SCORE
    correct = PronunciationScorer(_Says(text), _Listens(pron.hangul), stretches=_steady).score(_AUDIO, text)
    assert all(s.rating == feedback.GOOD for s in correct.syllables)


def test_a_rule_not_applied_found_by_the_head_names_its_article():
    text = "국물이 맛있어요"
    pron = pronounce(text)
    said = "국" + pron.hangul[1:]  # 국물 read as spelled: [국무리] instead of [궁무리]
    result = PronunciationScorer(_Says(text), _Listens(said), stretches=_steady).score(_AUDIO, text)
    first = result.syllables[0]
    assert first.rating == feedback.WRONG and first.reason == feedback.RULE_NOT_APPLIED
    assert "제18항" in first.message


def test_without_head_posteriors_the_scorer_falls_back_to_whisper_evidence():
    text = "밥을 먹었어요"
    none = PronunciationScorer(_Says(text), _Listens(None), stretches=_steady).score(_AUDIO, text)
    assert all(s.rating == feedback.GOOD for s in none.syllables) and "phoneme_head" in none.timings_ms


def test_too_unclear_to_judge_stays_unjudgeable_even_when_the_head_hears_a_rival():
    text = "밥을 먹었어요"
    pron = pronounce(text)
    k = pron.hangul.index("거")
    said = pron.hangul[:k] + "커" + pron.hangul[k + 1 :]
    hiss = Audio(samples=(0.05 * np.random.default_rng(0).standard_normal(32000)).astype(np.float32), sample_rate=16000)

    class _Weak(_Listens):
        def syllable_probabilities(self, audio, spoken):
            return [None if c == " " else 0.05 for c in spoken]

    class _Unsure(_Says):
        def transcribe(self, audio):
            return Transcript(text="바 머", confidence=0.2)

    result = PronunciationScorer(_Unsure(text), _Weak(said), stretches=_steady).score(hiss, text)
    assert not result.judgeable
    assert all(s.rating == feedback.UNJUDGEABLE for s in result.syllables)


def test_audio_the_head_cannot_follow_blames_nobody(monkeypatch):
    text = "밥을 먹었어요"
    pron = pronounce(text)
    k = pron.hangul.index("거")
    said = pron.hangul[:k] + "커" + pron.hangul[k + 1 :]
    monkeypatch.setattr(scoring, "HEAD_MIN_PER_FRAME", 0.0)  # nothing fits well enough
    result = PronunciationScorer(_Says(text), _Listens(said), stretches=_steady).score(_AUDIO, text)
    assert all(s.rating != feedback.WRONG for s in result.syllables)


def _random_head(path: Path, hidden: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    weights = {
        "conv_w": rng.normal(0, 0.05, (hidden, 512, phoneme_head.KERNEL)).astype(np.float16),
        "conv_b": rng.normal(0, 0.1, hidden).astype(np.float16),
        "out_w": rng.normal(0, 0.5, (N_CLASSES, hidden)).astype(np.float16),
        "out_b": rng.normal(0, 0.1, N_CLASSES).astype(np.float16),
    }
    meta = json.dumps({"symbols": list(phoneme_head.IPA_SYMBOLS)})
    np.savez(path, **weights, meta=meta)
    return weights


def test_head_file_loads_and_matches_the_torch_layers_it_was_trained_as(tmp_path):
    torch = pytest.importorskip("torch")
    weights = _random_head(tmp_path / "head.npz")
    head = PhonemeHead.load(tmp_path / "head.npz")
    frames = np.random.default_rng(1).normal(size=(20, 512)).astype(np.float32)
    got = head.log_posteriors(frames)
    conv = torch.nn.Conv1d(512, 8, phoneme_head.KERNEL, padding=phoneme_head.KERNEL // 2)
    out = torch.nn.Conv1d(8, N_CLASSES, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(weights["conv_w"].astype(np.float32)))
        conv.bias.copy_(torch.tensor(weights["conv_b"].astype(np.float32)))
        out.weight.copy_(torch.tensor(weights["out_w"].astype(np.float32))[:, :, None])
        out.bias.copy_(torch.tensor(weights["out_b"].astype(np.float32)))
        x = torch.tensor(frames.T[None])
        expected = torch.log_softmax(out(torch.nn.functional.gelu(conv(x), approximate="tanh")), 1)[0].T.numpy()
    assert got.shape == (20, N_CLASSES)
    assert np.allclose(got, expected, atol=1e-4)


def test_missing_head_file_means_no_head_and_a_wrong_inventory_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(phoneme_head, "DEFAULT_HEAD", tmp_path / "absent.npz")
    assert PhonemeHead.load_default() is None
    _random_head(tmp_path / "head.npz")
    data = dict(np.load(tmp_path / "head.npz"))
    data["meta"] = json.dumps({"symbols": ["a", "b"]})
    np.savez(tmp_path / "other.npz", **data)
    with pytest.raises(ValueError, match="inventory"):
        PhonemeHead.load(tmp_path / "other.npz")


def test_whisper_evidence_without_head_gives_no_posteriors():
    from pipeline.backends.whisper_evidence import WhisperEvidence

    evidence = WhisperEvidence.__new__(WhisperEvidence)
    evidence.head = None
    assert evidence.phoneme_posteriors(_AUDIO) is None


def test_bench_replays_the_head_on_cached_frames(monkeypatch):
    from benchmarks import pronunciation_bench as bench

    text = "밥을 먹었어요"
    pron = pronounce(text)
    k = pron.hangul.index("거")
    said = pron.hangul[:k] + "커" + pron.hangul[k + 1 :]

    class _Identity:
        """A 'head' whose encoder frames already are log-posteriors."""

        def log_posteriors(self, frames):
            return frames

    data = {
        "transcript": text,
        "confidence": 0.9,
        "stretches": [[0.1, 1.9]],
        "probs": {pron.spoken: [None if c == " " else 0.9 for c in pron.spoken]},
        "_frames": _spelling(said),
    }
    monkeypatch.setitem(bench.HEAD, "head", _Identity())
    result = bench.replay(data, _AUDIO, text, PronunciationScorer)
    assert [s.index for s in result.syllables if s.rating == feedback.WRONG] == [k]
    monkeypatch.setitem(bench.HEAD, "head", None)
    before = bench.replay(data, _AUDIO, text, PronunciationScorer)
    assert all(s.rating == feedback.GOOD for s in before.syllables)


def test_real_head_on_a_calibration_clip():
    """Whisper base + the shipped head on one calibration clip with a planted onset swap."""
    from benchmarks import pronunciation_bench as bench

    if not phoneme_head.DEFAULT_HEAD.exists():
        pytest.skip("no shipped phoneme head")
    rows = [json.loads(x) for x in (bench.SET_DIR / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    row = next(r for r in rows if r["file"] == "1-05_kokoro_substituted_6.flac" and r["split"] == "calibration")
    try:
        from pipeline.settings import Settings
        from pipeline.turn import Pipeline

        scorer = Pipeline(Settings()).scorer
    except Exception as exc:  # noqa: BLE001 - any missing model means: cannot run here
        pytest.skip(f"Whisper not available: {exc}")
    assert scorer.evidence.head is not None  # the Pipeline's evidence loads the shipped head
    audio = Audio(*bench._read(bench.SET_DIR / "audio" / row["file"]))
    log_probs = scorer.evidence.phoneme_posteriors(audio)
    pron = pronounce(row["text"])
    evidence = head_rivals(log_probs, pron)
    planted = row["errors"][0]
    rival = evidence.rivals[planted["index"]]
    # The head prefers what was said at the planted syllable over the target.
    assert rival.margin > 0
    said_ll, target_ll = ctc_log_likelihoods(log_probs, [phoneme_ids(row["said"]), phoneme_ids(pron.hangul)])
    assert said_ll > target_ll
