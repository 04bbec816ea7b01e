"""The Kokoro voice: Korean → Kokoro symbols (the table), its model files, and real Korean speech."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json

import pytest
import soundfile as sf

from pipeline import audio
from pipeline.errors import ModelFilesError
from pipeline.metrics import cer
from pipeline.model_files import join_verified, kokoro_data_dir, prepare_kokoro, sha256_file
from pipeline.pronunciation.g2p import to_ipa_symbols
from pipeline.pronunciation.ipa import IPA_SYMBOLS
from pipeline.settings import Settings
from pipeline.speech.kokoro_text import (
    BEFORE_I,
    DIGIT_SYMBOLS,
    KOKORO_SYMBOLS,
    ipa_to_kokoro,
    kokoro_phonemes,
    number_pronunciation,
)
from pipeline.text.normalize import normalize
from pipeline.turn import Pipeline
from pipeline.types import Reply


def kokoro_vocab() -> dict[str, int]:
    return json.loads((kokoro_data_dir() / "vocab.json").read_text(encoding="utf-8"))["vocab"]


# --- the IPA → Kokoro symbol table --------------------------------------------------------------


def test_every_korean_ipa_symbol_has_a_kokoro_spelling_the_model_knows():
    vocab = kokoro_vocab()
    assert set(IPA_SYMBOLS) <= set(KOKORO_SYMBOLS), "a Korean sound would be dropped"
    spellings = [s for pair in KOKORO_SYMBOLS.values() for s in pair] + list(BEFORE_I.values())
    unknown = sorted({ch for spelling in spellings for ch in spelling if ch not in vocab})
    assert not unknown, f"Kokoro would silently skip {unknown}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("가요", "kajo"),  # a lenis stop at the start is voiceless…
        ("아기", "aɡi"),  # …and voiced between vowels
        ("바다", "pada"),
        ("아빠", "aʔpa"),  # tense: a glottal stop before the consonant
        ("짜다", "ʔʨada"),
        ("싸요", "ʔsajo"),
        ("차요", "ʨʰajo"),  # aspirated keeps its ʰ
        ("카드", "kʰadɯ"),
        ("물", "mul"),  # ㄹ final: lateral
        ("나라", "naɾa"),  # ㄹ initial: flap
        ("시간", "ɕiɡan"),  # ㅅ before i
        ("국", "kuk"),  # unreleased final, no diacritic
        ("외워요", "wewʌjo"),
    ],
)
def test_sounds_are_spelled_as_kokoro_says_them(text, expected):
    assert ipa_to_kokoro(to_ipa_symbols(text)) == expected


def test_voicing_runs_across_the_spaces_of_a_phrase_but_not_from_silence():
    assert ipa_to_kokoro(to_ipa_symbols("바로 가요")) == "paɾo ɡajo"


def test_hotlines_are_read_digit_by_digit_with_their_punctuation():
    phonemes = kokoro_phonemes("자살예방상담전화 109에 전화해 주세요.")
    assert "ilɡoŋɡue" in phonemes  # 일공구에
    assert phonemes.endswith(".")
    assert kokoro_phonemes("그래요? 네, 좋아요!") == "kɯɾɛjo? ne, ʨoajo!"


@pytest.mark.parametrize(
    ("spoken", "said"),
    [
        ("일일이나", "이리리나"),  # 112: a final links to the next digit
        ("일일구에", "이릴구에"),  # 119
        ("일공구에", "일공구에"),  # 109: 공 keeps its ㅇ, no ㄴ is added
        ("공일구구예요", "공일구구예요"),  # not [공닐구구]: Whisper heard 1억 77019 from that
        ("일삼팔팔", "일쌈팔팔"),  # 1388: ㅅ after ㄹ is tense (제26항)
        ("일삼육육이에요", "일쌈늉뉴기에요"),  # 1366: 육 after a final takes ㄴ, ㄱ before it is nasal
        ("이천이십오", "이처니시보"),  # 2025 as a year: linked, not [이천니십오]
        ("십육", "심뉵"),
        ("십구", "십꾸"),
    ],
)
def test_numbers_are_pronounced_as_a_korean_speaker_reads_them(spoken, said):
    assert number_pronunciation(spoken) == said


def test_no_n_is_added_inside_a_number_read_out_in_a_sentence():
    assert "iʨʰʌniɕibo" in kokoro_phonemes("다음 상담은 2025년 11월이에요.")  # 이천이십오, not 이천니십오
    assert "ilʔsamnjuŋnjuɡiejo" in kokoro_phonemes("여성 긴급전화는 1366이에요.")


def test_a_phone_number_is_read_digit_by_digit_with_a_pause_between_its_groups():
    phonemes = kokoro_phonemes("정신건강위기상담 전화는 1577-0199예요.")
    assert "il oː ʨʰil ʨʰil, koŋ il ku kujejo." in phonemes
    assert kokoro_phonemes("번호는 02-123-4567이에요.").endswith("koŋ iː, il iː sam, sa oː juk ʨʰiɾiejo.")


def test_two_hotlines_in_a_row_are_two_numbers_not_one_phone_number():
    phonemes = kokoro_phonemes("112나 119에 바로 연락하세요.")
    assert phonemes.startswith("iɾiɾina iɾilɡue")  # each linked as one number, no pause between digits


def test_every_digit_spelling_is_known_to_kokoro():
    vocab = kokoro_vocab()
    assert set(DIGIT_SYMBOLS) == set("공영일이삼사오육칠팔구")
    assert all(ch in vocab for spelling in DIGIT_SYMBOLS.values() for ch in spelling if ch != " ")


def test_text_with_nothing_speakable_gives_nothing():
    assert kokoro_phonemes("🙂 ... ") == ""


# --- model files --------------------------------------------------------------------------------


def fake_parts(tmp_path, chunks=(b"kokoro-", b"part-two-", b"three-", b"four")):
    parts = []
    for i, chunk in enumerate(chunks):
        path = tmp_path / f"part{i}.bin"
        path.write_bytes(chunk)
        parts.append(path)
    return parts, hashlib.sha256(b"".join(chunks)).hexdigest()


def test_parts_are_joined_in_order_once_and_verified(tmp_path):
    parts, digest = fake_parts(tmp_path)
    target = tmp_path / "cache" / "kokoro" / "model.onnx"
    assert join_verified(parts, target, digest) == target
    assert target.read_bytes() == b"kokoro-part-two-three-four"
    mtime = target.stat().st_mtime_ns
    join_verified(parts, target, digest)
    assert target.stat().st_mtime_ns == mtime, "a verified join is reused, not rebuilt"
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.onnx", "model.onnx.sha256"]


def test_a_corrupted_part_is_refused_and_leaves_no_model(tmp_path):
    parts, digest = fake_parts(tmp_path)
    parts[2].write_bytes(b"thr3e-")  # one byte flipped on disk
    target = tmp_path / "cache" / "model.onnx"
    with pytest.raises(ModelFilesError) as err:
        join_verified(parts, target, digest)
    assert err.value.code == "model_files_invalid"
    assert list(target.parent.iterdir()) == [], "nothing half-written or unverified is left"


@pytest.mark.slow
def test_the_real_kokoro_model_joins_to_its_published_checksum(tmp_path):
    model = prepare_kokoro(tmp_path)
    expected = (kokoro_data_dir() / "model.sha256").read_text().split()[0]
    assert sha256_file(model) == expected
    assert model.stat().st_size > 80_000_000


# --- real speech ------------------------------------------------------------------------------

SENTENCES = [
    "많이 힘드셨겠어요. 천천히 이야기해 주세요.",
    "자살예방상담전화 109에 전화해 주세요.",
    "이야기해 줘서 고마워요. 언제든 다시 찾아와 주세요.",
]


class SayResponder:
    """Replies with the text it is told to say."""

    def __init__(self):
        self.text = ""

    def respond(self, text, emotion, risk, history=()):
        return Reply(text=self.text, kind="empathy")


@pytest.mark.slow
def test_a_kokoro_turn_speaks_korean_that_whisper_understands(tmp_path):
    settings = Settings(classifier="fake", synthesizer="kokoro", cache_dir=str(tmp_path))
    responder = SayResponder()
    pipe = Pipeline(settings, responder=responder)
    assert pipe.backend_names()["synthesizer"] == "kokoro"
    heard = []
    for sentence in SENTENCES:
        responder.text = sentence
        result = pipe.run_text("들어 주세요")
        samples, rate = sf.read(io.BytesIO(result.speech.wav))
        assert rate == 24000 and len(samples) > rate  # more than a second of speech
        transcript = pipe.transcriber.transcribe(audio.decode(result.speech.wav, settings))
        heard.append(normalize(transcript.text))
    score = cer([normalize(s) for s in SENTENCES], heard)
    assert score <= 0.2, list(zip(SENTENCES, heard, strict=True))


@pytest.mark.slow
def test_crisis_tone_is_spoken_slower(tmp_path):
    settings = Settings(synthesizer="kokoro", cache_dir=str(tmp_path))
    synthesizer = Pipeline(settings).synthesizer
    calm = synthesizer.synthesize(SENTENCES[1], tone="crisis")
    plain = synthesizer.synthesize(SENTENCES[1])
    assert calm.duration_s > plain.duration_s * 1.1
    assert synthesizer.voice_key("crisis") != synthesizer.voice_key("")
    assert dataclasses.replace(settings).kokoro_voice in synthesizer.voice_key("")
