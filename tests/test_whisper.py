"""The default transcriber on real Korean speech, silence and noise, and its model files."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import audio
from pipeline.backends.whisper import WhisperTranscriber, is_hallucination, window_frames
from pipeline.errors import ModelFilesError
from pipeline.metrics import cer
from pipeline.model_files import WHISPER_BASE_SHA256, prepare_whisper_base, sha256_file
from pipeline.settings import Settings
from pipeline.types import Audio
from tests.samples import noise, real_sentences


@pytest.fixture(scope="module")
def transcriber(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return WhisperTranscriber(Settings(cache_dir=str(cache)))


@pytest.mark.slow
def test_real_korean_sentences_have_low_character_error_rate(transcriber):
    refs, hyps = [], []
    for path, text in real_sentences():
        result = transcriber.transcribe(audio.decode_file(path))
        refs.append(text)
        hyps.append(result.text)
        assert result.segments and 0.0 < result.confidence <= 1.0
    assert len(refs) == 3
    assert cer(refs, hyps) <= 0.15, list(zip(refs, hyps, strict=True))


def window(frames_with_audio: int) -> np.ndarray:
    """A padded 30-s window of log-Mel features whose first frames hold audio."""
    features = np.zeros((80, 3000), dtype=np.float32)
    features[:, :frames_with_audio] = np.random.default_rng(0).uniform(-1, 1, (80, frames_with_audio))
    return features


@pytest.mark.parametrize(
    ("heard", "min_window_s", "frames"),
    [
        (500, 10.0, 1000),  # 5 s of speech: encoded as the 10-s minimum
        (850, 10.0, 1100),  # 8.5 s + 2 s margin, rounded up to a whole second
        (2900, 10.0, 3000),  # never more than the full window
        (500, 0.0, 700),  # no minimum: the speech and its margin
        (500, 30.0, 3000),  # 30 s: trimming off
        (0, 10.0, 1000),  # nothing but padding
    ],
)
def test_only_the_frames_with_audio_and_a_margin_are_encoded(heard, min_window_s, frames):
    assert window_frames(window(heard), min_window_s) == frames
    assert window_frames(window(heard)[None], min_window_s) == frames  # a batch of one


@pytest.mark.slow
def test_with_a_10_s_window_a_short_turn_is_encoded_in_a_short_one(transcriber, monkeypatch):
    from faster_whisper import WhisperModel

    seen = []
    original = WhisperModel.encode

    def spy(self, features):
        seen.append(features.shape[-1])
        return original(self, features)

    monkeypatch.setattr(WhisperModel, "encode", spy)
    monkeypatch.setattr(transcriber.model, "min_window_s", 10.0)  # MAUM_WHISPER_WINDOW_S=10
    path, text = real_sentences()[0]
    result = transcriber.transcribe(audio.decode_file(path))
    assert seen and max(seen) <= 1000, seen  # a ~5-s sentence: 10 s, not Whisper's 30
    assert cer([text], [result.text]) <= 0.15


def test_the_default_window_is_15_s_so_a_short_turn_is_encoded_in_half_the_frames():
    assert Settings().whisper_window_s == 15.0
    assert window_frames(window(500), Settings().whisper_window_s) == 1500


@pytest.mark.slow
def test_inside_full_window_this_thread_encodes_30_s_and_other_threads_keep_the_short_window(transcriber, monkeypatch):
    import threading

    from faster_whisper import WhisperModel

    seen = []
    monkeypatch.setattr(WhisperModel, "encode", lambda self, features: seen.append(features.shape[-1]))
    monkeypatch.setattr(transcriber.model, "min_window_s", 15.0)
    entered, release = threading.Event(), threading.Event()

    def hold_full_window():
        with transcriber.full_window():
            transcriber.model.encode(window(500))
            entered.set()
            release.wait(5)

    other = threading.Thread(target=hold_full_window)
    other.start()
    assert entered.wait(5)
    transcriber.model.encode(window(500))  # this thread, while the other holds the full window
    release.set()
    other.join()
    transcriber.model.encode(window(500))  # after the block: short again
    assert seen == [3000, 1500, 1500]


class _Segment:
    def __init__(self, text: str, temperature: float) -> None:
        self.text, self.temperature = text, temperature
        self.start, self.end, self.no_speech_prob, self.avg_logprob = 0.0, 1.0, 0.01, -0.3


@pytest.mark.slow
@pytest.mark.parametrize(("first_temperature", "decodes"), [(0.0, [False]), (0.4, [False, True])])
def test_unclear_speech_is_heard_again_with_the_whole_window(transcriber, monkeypatch, first_temperature, decodes):
    """Whisper's fallback to sampling marks unclear speech: the short window then invents text."""
    calls = []

    def decode(samples):
        full = getattr(transcriber.model._call, "full", False)
        calls.append(full)
        return [_Segment("다시 들은 말" if full else "처음 들은 말", 0.0 if full else first_temperature)]

    monkeypatch.setattr(transcriber.model, "min_window_s", 15.0)
    monkeypatch.setattr(transcriber, "_decode", decode)
    result = transcriber.transcribe(Audio(np.zeros(16000, dtype=np.float32), 16000))
    assert calls == decodes
    assert result.text == ("다시 들은 말" if len(decodes) == 2 else "처음 들은 말")
    monkeypatch.setattr(transcriber.model, "min_window_s", 30.0)  # full window already: never twice
    calls.clear()
    transcriber.transcribe(Audio(np.zeros(16000, dtype=np.float32), 16000))
    assert calls == [False]


@pytest.mark.slow
def test_silence_gives_an_empty_transcript(transcriber):
    result = transcriber.transcribe(Audio(np.zeros(16000 * 4, dtype=np.float32), 16000))
    assert result.text == "" and result.segments == ()


@pytest.mark.slow
@pytest.mark.parametrize("amp", [0.01, 0.1])
def test_noise_gives_an_empty_transcript(transcriber, amp):
    assert transcriber.transcribe(Audio(noise(4.0, amp=amp), 16000)).text == ""


@pytest.mark.slow
def test_model_files_are_joined_once_and_verified(tmp_path):
    folder = prepare_whisper_base(tmp_path)
    assert sha256_file(folder / "model.bin") == WHISPER_BASE_SHA256
    assert {"config.json", "tokenizer.json", "vocabulary.json"} <= {p.name for p in folder.iterdir()}
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert prepare_whisper_base(tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime  # reused, not rebuilt
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".whisper-base-")]  # no staging left


def test_a_corrupted_join_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    import pipeline.model_files as mf

    monkeypatch.setattr(mf, "WHISPER_BASE_SHA256", "0" * 64)
    with pytest.raises(ModelFilesError, match="sha256"):
        mf.prepare_whisper_base(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_local_model_path_without_weights_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFilesError, match="no CTranslate2 model.bin"):
        WhisperTranscriber(Settings(whisper_model=str(tmp_path)))


def test_a_model_name_is_looked_up_locally_only(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty Hugging Face cache
    with pytest.raises(ModelFilesError, match="nothing is downloaded at run time"):
        WhisperTranscriber(Settings(whisper_model="large-v3"))


@pytest.mark.slow
def test_a_local_model_folder_is_used(tmp_path):
    folder = prepare_whisper_base(tmp_path / "cache")
    transcriber = WhisperTranscriber(Settings(whisper_model=str(folder)))
    path, text = real_sentences()[0]
    assert cer([text], [transcriber.transcribe(audio.decode_file(path)).text]) <= 0.15


@pytest.mark.parametrize(
    ("text", "no_speech", "logprob", "dropped"),
    [
        ("시청해 주셔서 감사합니다.", 0.1, -0.2, True),
        ("구독과 좋아요 부탁드립니다", 0.0, -0.1, True),
        ("MBC 뉴스 김지경입니다.", 0.0, -0.3, True),
        ("(음악)", 0.0, -0.3, True),
        ("감사합니다.", 0.7, -0.5, True),
        ("감사합니다.", 0.05, -0.2, False),  # a client really thanking
        ("회사에서 너무 힘들었어요", 0.1, -0.3, False),
        ("오늘 뉴스를 보고 울었어요", 0.1, -0.3, False),
        ("KBS 드라마를 보다가 울었어요", 0.1, -0.3, False),
        ("자막 없이 영화를 봤어요", 0.1, -0.3, False),
        ("유튜브 구독자가 늘어서 기뻐요", 0.1, -0.3, False),
        ("♪", 0.2, -0.5, True),
    ],
)
def test_known_silence_hallucinations_are_dropped(text, no_speech, logprob, dropped):
    assert is_hallucination(text, no_speech, logprob) is dropped
