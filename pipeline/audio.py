"""Audio input: bytes in any common format → 16 kHz mono float32, with clear errors.

WAV, FLAC, OGG (Vorbis/Opus) and MP3 are read by libsndfile (``soundfile``); anything else a
browser records (WebM/Opus, MP4/AAC) goes through ``ffmpeg`` restricted to audio demuxers and
local input only. Empty, undecodable, silent, too short and too long recordings raise the
matching ``AudioError`` subclass before any model sees them.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from pipeline.errors import (
    AudioTooLargeError,
    AudioTooLongError,
    AudioTooShortError,
    EmptyAudioError,
    SilentAudioError,
    UndecodableAudioError,
)
from pipeline.settings import Settings
from pipeline.types import Audio, Speech

SAMPLE_RATE = 16000

# Demuxers ffmpeg may use on uploads: audio containers browsers and phones record in. Playlist
# and concat demuxers (which open other files or URLs) are deliberately not in the list.
_FFMPEG_FORMATS = "matroska,webm,mov,mp4,m4a,3gp,mp3,ogg,wav,flac,aac"
_FFMPEG_TIMEOUT_S = 30
_FRAME_S = 0.05  # window for the loudness check


def decode(data: bytes, settings: Settings | None = None) -> Audio:
    """Decode an uploaded recording.

    Args:
        data: the file's bytes, in any supported container.
        settings: limits (``max_audio_s``, ``min_audio_s``, ``max_audio_bytes``, ``silence_dbfs``).

    Returns:
        ``Audio`` with (time,) float32 samples at 16 kHz.

    Raises:
        EmptyAudioError, AudioTooLargeError, UndecodableAudioError, AudioTooLongError,
        AudioTooShortError, SilentAudioError.
    """
    settings = settings or Settings()
    if not data:
        raise EmptyAudioError(detail="no bytes")
    if len(data) > settings.max_audio_bytes:
        raise AudioTooLargeError(detail=f"{len(data)} bytes > {settings.max_audio_bytes}")
    samples = _read_soundfile(data, settings.max_audio_s)
    if samples is None:
        samples = _read_ffmpeg(data, settings.max_audio_s)
    return check(samples, settings)


def decode_file(path: str | Path, settings: Settings | None = None) -> Audio:
    """``decode`` for a file on disk."""
    return decode(Path(path).read_bytes(), settings)


def check(samples: np.ndarray, settings: Settings) -> Audio:
    """Validate 16 kHz mono samples: length limits and silence."""
    samples = np.nan_to_num(np.asarray(samples, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    samples = np.clip(samples, -1.0, 1.0)
    duration_s = len(samples) / SAMPLE_RATE
    if len(samples) == 0:
        raise EmptyAudioError(detail="no samples")
    if duration_s > settings.max_audio_s + 0.01:
        raise AudioTooLongError(settings.max_audio_s, detail=f"{duration_s:.1f} s")
    if duration_s < settings.min_audio_s:
        raise AudioTooShortError(detail=f"{duration_s:.3f} s")
    loudest = loudest_dbfs(samples)
    if loudest < settings.silence_dbfs:
        raise SilentAudioError(detail=f"loudest frame {loudest:.1f} dBFS")
    return Audio(samples=samples, sample_rate=SAMPLE_RATE)


def loudest_dbfs(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """RMS level of the loudest 50 ms frame, in dBFS (-inf for digital silence)."""
    frame = max(1, int(_FRAME_S * sample_rate))
    usable = len(samples) - len(samples) % frame
    frames = samples[:usable].reshape(-1, frame) if usable else samples.reshape(1, -1)
    rms = float(np.sqrt(np.max(np.mean(np.square(frames, dtype=np.float64), axis=1))))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def to_mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(time,) or (time, channels) at any rate → (time,) float32 at 16 kHz."""
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    samples = samples.astype(np.float32, copy=False)
    if sample_rate != SAMPLE_RATE:
        import soxr  # librosa's resampler; imported here to keep the import light

        samples = soxr.resample(samples, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    return samples


def _read_soundfile(data: bytes, max_s: float) -> np.ndarray | None:
    """Samples via libsndfile, or None when libsndfile does not know the format."""
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            if f.frames > 0 and f.samplerate > 0 and f.frames / f.samplerate > max_s + 0.01:
                raise AudioTooLongError(max_s, detail=f"{f.frames / f.samplerate:.1f} s")
            samples = f.read(dtype="float32", always_2d=True)
            sample_rate = f.samplerate
    except AudioTooLongError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        return None
    return to_mono_16k(samples, sample_rate)


def _read_ffmpeg(data: bytes, max_s: float) -> np.ndarray:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise UndecodableAudioError(detail="not a libsndfile format and ffmpeg is not installed")
    with tempfile.NamedTemporaryFile(suffix=".upload") as tmp:
        # A file, not a pipe: MP4 from some phones keeps its index at the end and needs seeking.
        tmp.write(data)
        tmp.flush()
        cmd = [
            ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
            "-protocol_whitelist", "file", "-format_whitelist", _FFMPEG_FORMATS,
            "-i", tmp.name,
            "-t", f"{max_s + 1.0:.3f}",  # decode a little past the limit, enough to tell it was over
            "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1",
        ]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=_FFMPEG_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise UndecodableAudioError(detail="ffmpeg timed out") from None
    if proc.returncode != 0 or not proc.stdout:
        raise UndecodableAudioError(detail=proc.stderr.decode("utf-8", "replace").strip()[-300:])
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)


def to_wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """(time,) float32 → a 16-bit PCM mono WAV file."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(samples, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def join_sentences(pieces: Sequence[np.ndarray], sample_rate: int, *, pause_s: float, started: float) -> Speech:
    """The end of every sentence-by-sentence synthesizer: one WAV with a pause between sentences.

    Args:
        pieces: one (time,) float32 waveform per sentence, in order; at least one.
        sample_rate: Hz of every piece.
        pause_s: silence put between two sentences.
        started: ``time.perf_counter()`` when synthesis began, for ``Speech.latency_ms``.
    """
    pause = np.zeros(int(pause_s * sample_rate), dtype=np.float32)
    samples = np.concatenate([x for i, piece in enumerate(pieces) for x in ((pause, piece) if i else (piece,))])
    return Speech(
        wav=to_wav_bytes(samples, sample_rate),
        sample_rate=sample_rate,
        duration_s=round(len(samples) / sample_rate, 3),
        latency_ms=(time.perf_counter() - started) * 1000.0,
    )
