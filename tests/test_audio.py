"""Audio input: every container a browser or phone produces, and every kind of bad recording."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import audio
from pipeline.errors import (
    AudioTooLargeError,
    AudioTooLongError,
    AudioTooShortError,
    EmptyAudioError,
    SilentAudioError,
    UndecodableAudioError,
)
from pipeline.settings import Settings
from tests.samples import encode, encode_ffmpeg, noise, real_sentences, tone


@pytest.mark.parametrize(
    ("fmt", "subtype", "rate"),
    [("WAV", "PCM_16", 16000), ("WAV", "FLOAT", 48000), ("FLAC", None, 44100), ("OGG", "VORBIS", 22050)],
)
def test_libsndfile_formats_become_16k_mono_float32(fmt, subtype, rate):
    decoded = audio.decode(encode(tone(1.0, rate), rate, fmt, subtype))
    assert decoded.sample_rate == 16000
    assert decoded.samples.dtype == np.float32 and decoded.samples.ndim == 1
    assert decoded.duration_s == pytest.approx(1.0, abs=0.02)
    # The tone survives: same loudness within a decibel.
    assert audio.loudest_dbfs(decoded.samples) == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=1.0)


def test_stereo_is_mixed_to_mono():
    left, right = tone(1.0, 44100, 220.0), tone(1.0, 44100, 330.0)
    decoded = audio.decode(encode(np.stack([left, right], axis=1), 44100, "WAV"))
    assert decoded.samples.ndim == 1 and decoded.duration_s == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [(".webm", ("-c:a", "libopus")), (".mp4", ("-c:a", "aac")), (".mp3", ("-c:a", "libmp3lame")),
     (".ogg", ("-c:a", "libopus"))],
)  # fmt: skip
def test_browser_containers_decode_through_ffmpeg(tmp_path, suffix, codec):
    data = encode_ffmpeg(tone(1.5, 48000), 48000, suffix, tmp_path, *codec)
    decoded = audio.decode(data)
    assert decoded.sample_rate == 16000
    assert decoded.duration_s == pytest.approx(1.5, abs=0.1)
    assert audio.loudest_dbfs(decoded.samples) > -20


def test_real_speech_keeps_its_length():
    path, _ = real_sentences()[0]
    decoded = audio.decode_file(path)
    assert decoded.duration_s == pytest.approx(4.95, abs=0.01)


def test_empty_bytes():
    with pytest.raises(EmptyAudioError) as err:
        audio.decode(b"")
    assert err.value.code == "audio_empty"
    assert "녹음된 소리가 없어요" in err.value.message


@pytest.mark.parametrize(
    "data", [b"not audio at all" * 100, b"RIFF\x00\x00\x00\x00WAVEfmt garbage", bytes(range(256)) * 40]
)
def test_undecodable_bytes(data):
    with pytest.raises(UndecodableAudioError) as err:
        audio.decode(data)
    assert err.value.code == "audio_undecodable"
    assert "읽을 수 없어요" in err.value.message


def test_playlist_that_points_at_local_files_is_refused(tmp_path):
    secret = tmp_path / "secret.wav"
    secret.write_bytes(encode(tone(1.0), 16000, "WAV"))
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile://{secret}\n#EXT-X-ENDLIST\n".encode()
    with pytest.raises(UndecodableAudioError):
        audio.decode(playlist)
    concat = f"ffconcat version 1.0\nfile '{secret}'\n".encode()
    with pytest.raises(UndecodableAudioError):
        audio.decode(concat)


def test_digital_silence():
    with pytest.raises(SilentAudioError) as err:
        audio.decode(encode(np.zeros(16000 * 4, dtype=np.float32), 16000, "WAV"))
    assert err.value.code == "audio_silent"
    assert "목소리가 들리지 않았어요" in err.value.message


def test_quiet_room_noise_counts_as_silent_but_speech_level_noise_does_not():
    with pytest.raises(SilentAudioError):
        audio.decode(encode(noise(4.0, amp=0.0005), 16000, "WAV"))
    assert audio.decode(encode(noise(4.0, amp=0.05), 16000, "WAV")).duration_s == pytest.approx(4.0)


def test_one_short_word_in_a_quiet_recording_is_not_silent():
    samples = np.zeros(16000 * 5, dtype=np.float32)
    samples[32000:36000] = tone(0.25)
    assert audio.decode(encode(samples, 16000, "WAV")).duration_s == pytest.approx(5.0)


def test_too_long_uses_the_setting_and_says_the_limit():
    data = encode(tone(6.0), 16000, "WAV")
    with pytest.raises(AudioTooLongError) as err:
        audio.decode(data, Settings(max_audio_s=5.0))
    assert err.value.code == "audio_too_long"
    assert "5초" in err.value.message
    assert audio.decode(data, Settings(max_audio_s=6.0)).duration_s == pytest.approx(6.0)


def test_default_limit_is_sixty_seconds(tmp_path):
    with pytest.raises(AudioTooLongError) as err:
        audio.decode(encode(tone(61.0, 8000), 8000, "WAV"))
    assert "60초" in err.value.message
    # Through ffmpeg too, where the length is only known after decoding.
    data = encode_ffmpeg(tone(61.0, 16000), 16000, ".webm", tmp_path, "-c:a", "libopus", "-b:a", "16k")
    with pytest.raises(AudioTooLongError):
        audio.decode(data)


def test_too_short():
    with pytest.raises(AudioTooShortError) as err:
        audio.decode(encode(tone(0.05), 16000, "WAV"))
    assert err.value.code == "audio_too_short"


def test_too_many_bytes_is_refused_before_decoding():
    with pytest.raises(AudioTooLargeError) as err:
        audio.decode(b"\x00" * 2048, Settings(max_audio_bytes=1024))
    assert err.value.code == "audio_too_large"
    assert "너무 커요" in err.value.message


def test_nan_samples_are_cleaned():
    samples = tone(1.0)
    samples[100:200] = np.nan
    decoded = audio.check(samples, Settings())
    assert np.isfinite(decoded.samples).all()


def test_joined_sentences_play_in_order_with_a_pause_between():
    import io
    import time

    import soundfile as sf

    first, second = np.full(1600, 0.5, np.float32), np.full(800, -0.25, np.float32)
    speech = audio.join_sentences([first, second], 16000, pause_s=0.25, started=time.perf_counter())
    samples, rate = sf.read(io.BytesIO(speech.wav), dtype="float32")
    assert rate == speech.sample_rate == 16000
    assert len(samples) == 1600 + 4000 + 800 and speech.duration_s == 0.4
    assert np.allclose(samples[:1600], 0.5, atol=1e-3) and np.allclose(samples[-800:], -0.25, atol=1e-3)
    assert not samples[1600:5600].any()  # the pause is silence
    assert speech.latency_ms >= 0
