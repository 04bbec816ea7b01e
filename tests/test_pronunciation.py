"""Standard pronunciation (표준발음법), IPA, alignment and scoring with fake evidence."""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.pronunciation import feedback
from pipeline.pronunciation.alignment import CORRECT, OMITTED, SUBSTITUTED, Unit, align, edit_operations
from pipeline.pronunciation.fluency import measure_fluency
from pipeline.pronunciation.g2p import RULES, pronounce, tensed_compounds, to_ipa_symbols
from pipeline.pronunciation.ipa import (
    CODAS,
    IPA_SYMBOLS,
    ONSETS,
    VOWELS,
    WORD_BOUNDARY,
    hangul_to_ipa_symbols,
    ipa_string,
    join_syllable,
    split_ipa,
    syllabify_ipa,
    syllable_ipa,
)
from pipeline.pronunciation.scoring import PronunciationScorer, expected_units
from pipeline.types import Audio, Transcript

EXAMPLES = Path(__file__).parent / "data" / "pronunciation_examples.tsv"


def _examples() -> list[tuple[str, list[str], str]]:
    rows = []
    seen = set()
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("text\t"):
            continue
        text, pron, article = line.split("\t")
        if text in seen:
            continue
        seen.add(text)
        rows.append((text, pron.split("|"), article))
    return rows


# ---------------------------------------------------------------------------------------------
# The rule engine on the standard's own examples


def test_example_set_is_large_and_covers_every_rule_article():
    rows = _examples()
    assert len(rows) >= 100
    articles = {a for _, _, a in rows}
    for number in (5, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 23, 24, 25, 26, 27, 29):
        assert f"제{number}항" in articles


def test_rule_engine_matches_the_standard_on_95_percent_of_its_examples():
    rows = _examples()
    misses = []
    by_article: dict[str, list[bool]] = collections.defaultdict(list)
    for text, expected, article in rows:
        got = pronounce(text).hangul.replace(" ", "")
        ok = got in expected
        by_article[article].append(ok)
        if not ok:
            misses.append(f"{article} {text}: expected {'/'.join(expected)}, got {got}")
    rate = 1 - len(misses) / len(rows)
    print(f"\nexact match {len(rows) - len(misses)}/{len(rows)} = {rate:.3f}")
    print("\n".join(misses))
    assert rate >= 0.95, "\n".join(misses)
    # Without the compounds that come from the word list (제28항), the rules alone still hold.
    lexical = set(tensed_compounds())
    rule_rows = [(t, e) for t, e, a in rows if t not in lexical]
    rule_ok = sum(pronounce(t).hangul.replace(" ", "") in e for t, e in rule_rows)
    assert rule_ok / len(rule_rows) >= 0.95


@pytest.mark.parametrize(
    ("text", "hangul", "rule", "article"),
    [
        ("국물", "궁물", "nasalization", "제18항"),
        ("신라", "실라", "lateralization", "제20항"),
        ("굳이", "구지", "palatalization", "제17항"),
        ("놓고", "노코", "aspiration", "제12항"),
        ("솜이불", "솜니불", "n_insertion", "제29항"),
        ("할 것을", "할 꺼슬", "tensing", "제27항"),
        ("밟다", "밥따", "double_coda", "제10항"),
        ("희망", "히망", "vowel_ui", "제5항"),
        ("값을", "갑쓸", "liaison", "제14항"),
        ("침략", "침냑", "r_nasalization", "제19항"),
    ],
)
def test_each_change_is_reported_with_rule_and_article(text, hangul, rule, article):
    p = pronounce(text)
    assert p.hangul == hangul
    found = [r for r in p.rules if r.rule == rule]
    assert found, p.rules
    assert found[0].article == article
    assert found[0].label == f"{article} {RULES[rule][0]}"
    assert found[0].before != found[0].after
    assert found[0].detail


def test_morphology_decides_verb_stem_tensing():
    # 신고 as the verb 신다 + -고 tenses (제24항); the noun 신고 (report) does not.
    verb = pronounce("신을 신고 갔다")
    noun = pronounce("신고를 했다")
    assert verb.hangul.split(" ")[1] == "신꼬"
    assert any(r.article == "제24항" for r in verb.rules)
    assert noun.hangul.split(" ")[0] == "신고를"
    assert not any(r.article == "제24항" for r in noun.rules)


def test_nasalisation_reported_at_the_changed_syllable():
    p = pronounce("국물")
    (change,) = [r for r in p.rules if r.rule == "nasalization"]
    assert (change.index, change.length, change.word, change.before, change.after) == (0, 1, "국물", "국물", "궁물")
    assert p.rules_at(0) == (change,)
    assert p.rules_at(1) == ()


def test_spaces_are_kept_and_syllables_line_up():
    p = pronounce("기차도 전기도 없었다")
    assert p.hangul == "기차도 전기도 업썯따"
    assert len(p.hangul) == len(p.spoken)
    assert [i for i, c in enumerate(p.hangul) if c == " "] == [i for i, c in enumerate(p.spoken) if c == " "]


def test_numbers_are_read_out_and_punctuation_dropped():
    p = pronounce("3시에 만나요!")
    assert "3" not in p.hangul and "!" not in p.hangul
    assert p.hangul.startswith("세 시")
    assert pronounce("   ").hangul == ""
    assert pronounce("?! …").hangul == ""


# ---------------------------------------------------------------------------------------------
# IPA

_INITIAL_IPA = {
    "ㄱ": "k", "ㄲ": "k͈", "ㅋ": "kʰ", "ㄷ": "t", "ㄸ": "t͈", "ㅌ": "tʰ", "ㅂ": "p", "ㅃ": "p͈", "ㅍ": "pʰ",
    "ㅈ": "tɕ", "ㅉ": "tɕ͈", "ㅊ": "tɕʰ", "ㅅ": "s", "ㅆ": "s͈", "ㅎ": "h", "ㄴ": "n", "ㅁ": "m", "ㄹ": "ɾ", "ㅇ": "",
}  # fmt: skip
# Final sound of each consonant at the end of a word, after 제9–11항.
_FINAL_IPA = {
    "ㄱ": "k̚", "ㄲ": "k̚", "ㅋ": "k̚", "ㄷ": "t̚", "ㅌ": "t̚", "ㅂ": "p̚", "ㅍ": "p̚", "ㅈ": "t̚", "ㅊ": "t̚",
    "ㅅ": "t̚", "ㅆ": "t̚", "ㅎ": "t̚", "ㄴ": "n", "ㅁ": "m", "ㄹ": "l", "ㅇ": "ŋ",
}  # fmt: skip
_VOWEL_IPA = {
    "ㅏ": "a", "ㅐ": "ɛ", "ㅑ": "ja", "ㅒ": "jɛ", "ㅓ": "ʌ", "ㅔ": "e", "ㅕ": "jʌ", "ㅖ": "je", "ㅗ": "o",
    "ㅘ": "wa", "ㅙ": "wɛ", "ㅚ": "ø", "ㅛ": "jo", "ㅜ": "u", "ㅝ": "wʌ", "ㅞ": "we", "ㅟ": "y", "ㅠ": "ju",
    "ㅡ": "ɯ", "ㅢ": "ɰi", "ㅣ": "i",
}  # fmt: skip


def test_inventory_has_36_distinct_symbols():
    assert len(IPA_SYMBOLS) == 36
    assert len(set(IPA_SYMBOLS)) == 36
    assert WORD_BOUNDARY not in IPA_SYMBOLS
    assert len(ONSETS) == 19 and len(VOWELS) == 21 and len(CODAS) == 28


@pytest.mark.parametrize("onset", ONSETS)
def test_every_consonant_as_an_initial(onset):
    assert ipa_string(syllable_ipa(join_syllable(onset, "ㅏ"))) == _INITIAL_IPA[onset] + "a"
    # Between vowels too: 아 + initial + 아 (no rule changes a plain initial).
    assert pronounce("아" + join_syllable(onset, "ㅏ")).ipa == "a" + _INITIAL_IPA[onset] + "a"


@pytest.mark.parametrize("coda", sorted(_FINAL_IPA))
def test_every_consonant_as_a_final(coda):
    word = join_syllable("ㅇ", "ㅏ", coda)
    assert pronounce(word).ipa == "a" + _FINAL_IPA[coda]


def test_lateral_after_lateral_and_flap_between_vowels():
    assert pronounce("날로").ipa == "nallo"  # ㄹㄹ → l l
    assert pronounce("나라").ipa == "naɾa"  # ㄹ between vowels → ɾ


@pytest.mark.parametrize("vowel", VOWELS)
def test_every_vowel(vowel):
    assert ipa_string(syllable_ipa(join_syllable("ㅇ", vowel))) == _VOWEL_IPA[vowel]
    after_consonant = join_syllable("ㅁ", vowel)
    expected = "m" + ("i" if vowel == "ㅢ" else _VOWEL_IPA[vowel])  # 제5항: ㅢ after a consonant is [ㅣ]
    assert pronounce(after_consonant).ipa == expected


def test_to_ipa_symbols_marks_word_boundaries_and_round_trips():
    symbols = to_ipa_symbols("국물 먹어")
    assert symbols == ["k", "u", "ŋ", "m", "u", "l", " ", "m", "ʌ", "k", "ʌ"]
    assert all(s in IPA_SYMBOLS for s in symbols if s != WORD_BOUNDARY)
    assert split_ipa(ipa_string(symbols)) == symbols
    text = "검게 탄 얼굴이 그대로 비치었다"
    assert split_ipa(pronounce(text).ipa) == to_ipa_symbols(text)


def test_syllabify_ipa_recovers_hangul():
    for word in ("궁물", "업썯따", "의사", "꽈배기", "날로"):
        syllables = syllabify_ipa(hangul_to_ipa_symbols(word))
        assert "".join(t for t, _ in syllables) == word


# ---------------------------------------------------------------------------------------------
# Alignment


def _units(text: str) -> list[Unit]:
    return expected_units(pronounce(text))


def test_alignment_identical():
    result = align(_units("국물이 맛있어요"), _units("국물이 맛있어요"))
    assert all(s.status == CORRECT for s in result.syllables)
    assert result.insertions == ()
    assert result.distance == 0
    assert result.phoneme_accuracy == 1.0


def test_alignment_empty_recording_omits_everything():
    result = align(_units("국물이 맛있어요"), [])
    assert [s.status for s in result.syllables] == [OMITTED] * 7
    assert result.completeness == 0.0
    assert result.phoneme_accuracy == 0.0


def test_alignment_extra_words_are_insertions():
    result = align(_units("국물이 맛있어요"), _units("정말 국물이 아주 맛있어요"))
    assert all(s.status == CORRECT for s in result.syllables)
    inserted = "".join(i.heard.text for i in result.insertions)
    assert inserted == "정말아주"
    assert result.insertions[0].after == -1


def test_alignment_missing_word_is_omitted_and_neighbours_stay_correct():
    result = align(_units("기차도 전기도 없었다"), _units("기차도 없었다"))
    statuses = [s.status for s in result.syllables]
    assert statuses[:3] == [CORRECT] * 3
    assert statuses[3:6] == [OMITTED] * 3
    assert statuses[6:] == [CORRECT] * 3


def test_alignment_substitution_names_what_was_heard():
    result = align(_units("검게"), _units("감게"))
    first = result.syllables[0]
    assert first.status == SUBSTITUTED
    assert first.heard == "감"
    assert [(e.expected, e.heard) for e in first.errors] == [("ʌ", "a")]
    assert result.syllables[1].status == CORRECT


def test_alignment_totally_different_sentence():
    result = align(_units("검게 탄 얼굴이 그대로 비치었다"), _units("라디오도 영화도 몰랐다"))
    assert result.phoneme_accuracy < 0.4
    assert sum(s.status == CORRECT for s in result.syllables) <= 2


def test_edit_operations_prefers_near_misses():
    distance, ops = edit_operations(["k͈", "a"], ["k", "a"])
    assert ops == [(0, 0), (1, 1)]
    assert distance == pytest.approx(0.6)
    # A vowel is not traded for a consonant when a gap is cheaper.
    _, ops = edit_operations(["a"], ["k", "a"])
    assert ops == [(None, 0), (0, 1)]


# ---------------------------------------------------------------------------------------------
# Scoring with fake evidence (the real Whisper path is in test_scoring.py)


class _SaysTranscriber:
    def __init__(self, text: str) -> None:
        self.text = text

    def transcribe(self, audio: Audio) -> Transcript:
        return Transcript(text=self.text)


class _FixedEvidence:
    def __init__(self, low: set[int] | None = None) -> None:
        self.low = low or set()

    def syllable_probabilities(self, audio: Audio, spoken: str) -> list[float | None]:
        return [None if c == " " else (0.01 if i in self.low else 0.9) for i, c in enumerate(spoken)]


class _FakePhonemes:
    def __init__(self, symbols: list[str]) -> None:
        self.symbols = symbols

    def recognize_phonemes(self, audio: Audio) -> list[str]:
        return list(self.symbols)


_AUDIO = Audio(samples=np.zeros(32000, dtype=np.float32), sample_rate=16000)


def _steady(audio: Audio) -> list[tuple[float, float]]:
    return [(0.1, 1.9)]


def test_scoring_a_perfect_reading():
    scorer = PronunciationScorer(_SaysTranscriber("국물이 맛있어요"), _FixedEvidence(), stretches=_steady)
    result = scorer.score(_AUDIO, "국물이 맛있어요")
    assert result.accuracy == 100 and result.completeness == 100 and result.overall >= 95
    assert all(s.rating == feedback.GOOD for s in result.syllables)
    assert result.source == "transcript" and result.acoustic
    first = result.syllables[0]
    assert first.expected == "궁" and "제18항 비음화" in first.rules
    assert first.explanation[0].startswith("'국물이'는 [궁무리]로 소리 나요")
    json.dumps(result.as_dict(), ensure_ascii=False)  # JSON-ready


def test_acoustic_evidence_catches_a_syllable_the_transcript_got_right():
    scorer = PronunciationScorer(_SaysTranscriber("국물이 맛있어요"), _FixedEvidence(low={5}), stretches=_steady)
    result = scorer.score(_AUDIO, "국물이 맛있어요")
    ratings = {s.spelled: s.rating for s in result.syllables}
    assert ratings["있"] == feedback.UNSURE
    assert ratings["국"] == feedback.GOOD
    assert result.accuracy < 100


def test_wrong_syllable_gets_rule_explanation_and_tip():
    # The learner read 국물 as spelled ([국물]) instead of [궁물]; a phoneme recogniser hears it.
    heard = ["k", "u", "k̚", "m", "u", "l"]
    scorer = PronunciationScorer(None, None, _FakePhonemes(heard), stretches=_steady)
    result = scorer.score(_AUDIO, "국물")
    first = result.syllables[0]
    assert first.status == SUBSTITUTED and first.rating == feedback.UNSURE
    assert first.heard == "국"
    assert "[궁]으로 소리 내 보세요 (비음화, 제18항)" in first.tip
    assert "[받침 ㄱ]" in first.tip
    assert result.syllables[1].rating == feedback.GOOD


def test_scoring_an_empty_recording_and_a_different_sentence():
    empty = PronunciationScorer(_SaysTranscriber(""), _FixedEvidence(low=set(range(20))), stretches=lambda a: [])
    result = empty.score(_AUDIO, "국물이 맛있어요")
    assert result.completeness == 0 and result.overall < 10
    # Nothing was said: too unclear to judge, not every syllable the learner's mistake.
    assert not result.judgeable
    assert all(s.rating == feedback.UNJUDGEABLE and s.status == OMITTED for s in result.syllables)
    other = PronunciationScorer(_SaysTranscriber("라디오도 영화도 몰랐다"), None, stretches=_steady)
    result = other.score(_AUDIO, "검게 탄 얼굴이 그대로 비치었다")
    assert result.overall < 40
    assert sum(s.rating == feedback.WRONG for s in result.syllables) >= 8


def test_phoneme_recogniser_replaces_the_transcript():
    heard = [s for s in to_ipa_symbols("국물이 맛있어요") if s != " "]
    heard[0] = "k͈"  # a tense ㄲ where ㄱ was expected
    never = _SaysTranscriber("전혀 다른 문장")
    scorer = PronunciationScorer(never, None, _FakePhonemes(heard), stretches=_steady)
    result = scorer.score(_AUDIO, "국물이 맛있어요")
    assert result.source == "phonemes"
    assert result.heard_pronunciation == "꿍무리마시써요"
    first = result.syllables[0]
    assert first.status == SUBSTITUTED and first.heard == "꿍"
    assert "ㄱ" in first.tip and "ㄲ" in first.tip
    assert all(s.status == CORRECT for s in result.syllables[1:])


def test_fluency_rate_and_pauses():
    good = measure_fluency([(0.0, 2.0)], 10)
    assert good.rate_sps == 5.0 and good.score == 100
    halting = measure_fluency([(0.0, 1.0), (2.5, 3.0), (4.5, 5.0)], 10)
    assert halting.long_pauses == 2 and halting.score < good.score
    assert measure_fluency([], 0).score == 0


def test_scoring_rejects_bad_targets():
    from pipeline.errors import EmptyTextError, TextTooLongError

    scorer = PronunciationScorer(_SaysTranscriber("x"), None, stretches=_steady)
    with pytest.raises(EmptyTextError):
        scorer.score(_AUDIO, "?!")
    with pytest.raises(TextTooLongError):
        scorer.score(_AUDIO, "가" * 500)


# ---------------------------------------------------------------------------------------------
# Command line


def test_cli_pronounce(monkeypatch, capsys):
    import io

    from pipeline.__main__ import main

    monkeypatch.setattr(sys, "stdin", io.StringIO("국물을 먹었다\n\n신라에 갔다\n"))
    monkeypatch.setenv("MAUM_TRANSCRIBER", "fake")
    assert main(["pronounce"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["text"] for d in lines] == ["국물을 먹었다", "신라에 갔다"]
    assert lines[0]["pronunciation"] == "궁무를 머걷따"
    assert lines[0]["ipa"] == "kuŋmuɾɯl mʌkʌt̚t͈a"
    assert any(r["label"] == "제18항 비음화" for r in lines[0]["rules"])
    assert lines[1]["pronunciation"] == "실라에 갇따"


# ---------------------------------------------------------------------------------------------
# The phoneme recogniser seam with a real (tiny, random) DeepSpeech2 IPA checkpoint


def _tiny_deepspeech2(path: Path, vocab_kind: str) -> Path:
    import torch

    from models.deepspeech2 import DeepSpeech2, DeepSpeech2Config, save_checkpoint
    from pipeline.speech.asr_features import FeatureConfig
    from pipeline.speech.asr_vocab import Vocabulary

    torch.manual_seed(0)
    vocab = Vocabulary.ipa() if vocab_kind == "ipa" else Vocabulary.build("syllable", ["국물 맛"])
    features = FeatureConfig(n_mels=16)
    config = DeepSpeech2Config(
        vocab_size=len(vocab), n_features=16, conv_channels=(4,), conv_kernel_sizes=((5, 5),),
        conv_strides=((2, 2),), rnn_layers=1, rnn_hidden_size=16, dropout=0.0,
    )  # fmt: skip
    save_checkpoint(path, DeepSpeech2(config), features=features.to_dict(), vocab=vocab.to_dict())
    return path


def test_phoneme_model_setting_loads_an_ipa_checkpoint_that_replaces_the_transcript(tmp_path):
    from pipeline.errors import ModelFilesError
    from pipeline.registry import load_phoneme_recognizer
    from pipeline.settings import Settings
    from pipeline.stages import PhonemeRecognizer

    assert load_phoneme_recognizer(Settings()) is None
    with pytest.raises(ModelFilesError):
        load_phoneme_recognizer(Settings(phoneme_model=str(tmp_path / "missing.pt")))
    hangul = _tiny_deepspeech2(tmp_path / "hangul.pt", "syllable")
    with pytest.raises(ModelFilesError):
        load_phoneme_recognizer(Settings(phoneme_model=str(hangul)))

    recognizer = load_phoneme_recognizer(Settings(phoneme_model=str(_tiny_deepspeech2(tmp_path / "ipa.pt", "ipa"))))
    assert isinstance(recognizer, PhonemeRecognizer)
    audio = Audio(samples=(0.1 * np.sin(np.arange(16000) / 5.0)).astype(np.float32), sample_rate=16000)
    heard = recognizer.recognize_phonemes(audio)
    assert all(s in IPA_SYMBOLS for s in heard)
    result = PronunciationScorer(_SaysTranscriber("국물"), None, recognizer, stretches=_steady).score(audio, "국물")
    assert result.source == "phonemes" and result.heard_text == ""
    assert result.heard_ipa == ipa_string(heard)
